// The cross-stream batcher: one bounded queue per stream, batches closed when full or timed out.

import type { Frame, FrameSink } from "../sources/frame.ts";

/**
 * Frames that reach the batcher only when asked: sources whose frames wait elsewhere (the pipe
 * readers' shared rings) until the batcher decides, so that a frame costs no wake-up of its own.
 */
export interface FrameFeed {
  /** Pushes every frame waiting now into the batcher (through the sources); returns how many. */
  collect(): number;
  /**
   * Asks to be woken (with the frames collected) once `frames` more wait, or, with `maxAgeMs`,
   * once one of them has waited that long since capture.
   *
   * @returns true when they already do (with `maxAgeMs`: when any waits): collect now instead of
   *   waiting
   */
  want(frames: number, maxAgeMs?: number): boolean;
}

/** Options of {@linkcode Batcher}. */
export interface BatcherOptions {
  /** Frames per batch at most. */
  maxBatch: number;
  /** A batch closes when its oldest frame has waited this long (ms since capture). */
  timeoutMs: number;
  /** Frames a stream may keep waiting; a further frame drops the stream's oldest. */
  queueFrames: number;
  /** Clock in milliseconds, the same clock as `Frame.capturedAt`. @default {performance.now} */
  now?: () => number;
  /** Called for each frame dropped because its stream's queue was full (before it is released). */
  onDrop?: (frame: Frame) => void;
  /** Collected before each decision on a batch, and asked for what would fill one. */
  feed?: FrameFeed;
}

class FrameRing {
  readonly items: (Frame | undefined)[];
  head = 0;
  size = 0;

  constructor(capacity: number) {
    this.items = new Array(capacity);
  }

  push(frame: Frame): Frame | undefined {
    const capacity = this.items.length;
    let dropped: Frame | undefined;
    if (this.size === capacity) dropped = this.shift();
    this.items[(this.head + this.size) % capacity] = frame;
    this.size++;
    return dropped;
  }

  peek(): Frame | undefined {
    return this.size > 0 ? this.items[this.head] : undefined;
  }

  shift(): Frame | undefined {
    if (this.size === 0) return undefined;
    const frame = this.items[this.head];
    this.items[this.head] = undefined;
    this.head = (this.head + 1) % this.items.length;
    this.size--;
    return frame;
  }
}

/**
 * Gathers frames of all streams into batches. A batch closes when `maxBatch` frames wait
 * or when the oldest waiting frame is `timeoutMs` old; it takes frames round-robin across
 * streams, oldest first within each, so one busy stream cannot starve the others. A stream
 * whose queue is full loses its oldest frame (`onDrop`), so memory stays bounded.
 */
export class Batcher implements FrameSink {
  readonly options: Readonly<BatcherOptions>;
  /** One queue per stream index; null for an index whose stream was removed. */
  #queues: (FrameRing | null)[];
  #total = 0;
  #nextStream = 0;
  #closed = false;
  #now: () => number;
  #wakers = new Set<() => void>();
  #roomWaiters: ((() => void)[])[];

  constructor(streams: number, options: BatcherOptions) {
    if (options.maxBatch < 1) {
      throw new Error(`Cannot build a batcher: maxBatch ${options.maxBatch} < 1`);
    }
    if (options.queueFrames < 1) {
      throw new Error(`Cannot build a batcher: queueFrames ${options.queueFrames} < 1`);
    }
    this.options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#queues = Array.from({ length: streams }, () => new FrameRing(options.queueFrames));
    this.#roomWaiters = Array.from({ length: streams }, () => []);
  }

  /** Frames waiting in all streams. */
  get size(): number {
    return this.#total;
  }

  /** Whether {@linkcode close} was called. */
  get closed(): boolean {
    return this.#closed;
  }

  /** Frames of stream `stream` waiting. */
  depth(stream: number): number {
    return this.#queues[stream]?.size ?? 0;
  }

  push(frame: Frame): void {
    if (this.#closed) return;
    const queue = this.#queues[frame.stream];
    if (queue === undefined) {
      throw new Error(`Cannot queue a frame of stream ${frame.stream}: no such stream`);
    }
    if (queue === null) {
      // The stream was removed while its source was stopping: the frame has nowhere to go.
      frame.release?.();
      return;
    }
    const dropped = queue.push(frame);
    if (dropped) {
      this.options.onDrop?.(dropped);
      dropped.release?.();
    } else {
      this.#total++;
    }
    // Wake a waiting nextBatch() when the batch is full, or to arm its timer on a first frame.
    if (this.#total >= this.options.maxBatch || this.#total === 1) this.#wakeUp();
  }

  waitForRoom(stream: number): Promise<void> {
    const queue = this.#queues[stream];
    if (this.#closed || !queue || queue.size < this.options.queueFrames) {
      return Promise.resolve();
    }
    return new Promise((resolve) => this.#roomWaiters[stream]!.push(resolve));
  }

  /** Capture time of the oldest waiting frame, or Infinity when none waits. */
  oldestCapturedAt(): number {
    let oldest = Infinity;
    for (const queue of this.#queues) {
      const head = queue?.peek();
      if (head && head.capturedAt < oldest) oldest = head.capturedAt;
    }
    return oldest;
  }

  /**
   * Takes a batch if one is due at `now`: `maxBatch` frames wait, the oldest has waited
   * `timeoutMs`, or the batcher is closed and frames remain. Returns null otherwise.
   */
  takeReady(now: number = this.#now()): Frame[] | null {
    if (this.#total === 0) return null;
    const due = this.#total >= this.options.maxBatch || this.#closed ||
      now - this.oldestCapturedAt() >= this.options.timeoutMs;
    return due ? this.#take() : null;
  }

  #take(): Frame[] {
    const batch: Frame[] = [];
    const streams = this.#queues.length;
    const limit = Math.min(this.options.maxBatch, this.#total);
    let idle = 0;
    let s = this.#nextStream;
    while (batch.length < limit && idle < streams) {
      const frame = this.#queues[s]?.shift();
      if (frame) {
        batch.push(frame);
        idle = 0;
        this.#releaseRoom(s);
      } else {
        idle++;
      }
      s = (s + 1) % streams;
    }
    this.#nextStream = (this.#nextStream + 1) % streams;
    this.#total -= batch.length;
    return batch;
  }

  #releaseRoom(stream: number): void {
    const waiter = this.#roomWaiters[stream]!.shift();
    if (waiter) waiter();
  }

  /** Resolves with the next batch, or null once closed and empty. Several callers may wait at once. */
  async nextBatch(): Promise<Frame[] | null> {
    const feed = this.options.feed;
    let askedAgain = false;
    while (true) {
      const collected = feed?.collect() ?? 0;
      const batch = this.takeReady();
      if (batch) return batch;
      if (this.#closed) return null;
      // Woken by the feed when the frames that close a batch wait; with none queued here, also
      // when one of the feed's has waited the timeout (its own clock, so that no first frame
      // wakes this thread only to arm a timer). Frames queued here have this timer.
      const asked = this.#total === 0
        ? feed?.want(this.options.maxBatch, this.options.timeoutMs)
        : feed?.want(this.options.maxBatch - this.#total);
      // A feed that says frames wait but hands none (its count out of step) is not asked in a
      // loop: the batcher waits a timeout and asks again.
      const stale = asked === true && askedAgain && collected === 0;
      if (asked && !stale) {
        askedAgain = true;
        continue;
      }
      askedAgain = false;
      const wait = this.#total > 0
        ? this.oldestCapturedAt() + this.options.timeoutMs - this.#now()
        : stale
        ? Math.max(1, this.options.timeoutMs)
        : Infinity;
      await new Promise<void>((resolve) => {
        let timer: ReturnType<typeof setTimeout> | undefined;
        const wake = () => {
          if (timer !== undefined) clearTimeout(timer);
          this.#wakers.delete(wake);
          resolve();
        };
        this.#wakers.add(wake);
        if (Number.isFinite(wait)) {
          timer = setTimeout(() => this.#wakeUp(), Math.max(0, Math.ceil(wait)));
        }
      });
    }
  }

  #wakeUp(): void {
    for (const wake of [...this.#wakers]) wake();
  }

  /** Stops accepting frames and releases every waiter; frames already queued can still be taken. */
  close(): void {
    this.#closed = true;
    for (const waiters of this.#roomWaiters) waiters.splice(0).forEach((resolve) => resolve());
    this.#wakeUp();
  }

  /** Removes and returns every waiting frame (for counting them as dropped at shutdown); the caller releases them. */
  drain(): Frame[] {
    const frames: Frame[] = [];
    for (const queue of this.#queues) {
      for (let f = queue?.shift(); f; f = queue?.shift()) frames.push(f);
    }
    this.#total = 0;
    return frames;
  }

  /**
   * Adds a queue for stream index `stream` (a stream added at run time). Indexes are never
   * reused, so frames of a removed stream still in flight cannot be taken for another.
   */
  addStream(stream: number): void {
    if (this.#queues[stream]) throw new Error(`Cannot add stream ${stream}: it exists`);
    while (this.#queues.length <= stream) {
      this.#queues.push(null);
      this.#roomWaiters.push([]);
    }
    this.#queues[stream] = new FrameRing(this.options.queueFrames);
  }

  /**
   * Removes stream index `stream`; its later frames are released unqueued.
   *
   * @returns the frames that were waiting in its queue (not yet released)
   */
  removeStream(stream: number): Frame[] {
    const queue = this.#queues[stream];
    if (!queue) return [];
    const frames: Frame[] = [];
    for (let f = queue.shift(); f; f = queue.shift()) frames.push(f);
    this.#total -= frames.length;
    this.#queues[stream] = null;
    this.#roomWaiters[stream]!.splice(0).forEach((resolve) => resolve());
    return frames;
  }
}
