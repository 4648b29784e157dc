// The pipe reader threads of the ffmpeg sources: each reads a few streams' FIFOs into their frame
// slots (see pipe_reader_worker.ts), so the main event loop handles a few numbers per frame instead
// of 1 MB in 64 KB chunks.

import { FrameRing, HandoverDemand } from "./frame_handover.ts";
import { FrameSlots } from "./frame_slots.ts";
import { EFD_CLOEXEC, EFD_NONBLOCK, makeFifo, monotonicMs, pipeLibc } from "./pipe_libc.ts";
import type { PipeReaderReply, PipeReaderRequest } from "./pipe_reader_protocol.ts";

/** Options of {@linkcode PipeReaders}. */
export interface PipeReadersOptions {
  /**
   * Streams one reader thread reads at most: fewer threads wake the main thread fewer times
   * (their frames are handed over together), and one reads 32 streams at 30 fps in a quarter
   * of a core. @default {16}
   */
  streamsPerReader?: number;
  /** Folder for the FIFOs. @default {a new temporary folder} */
  dir?: string;
  /**
   * Completed frames a reader thread's ring holds before the thread waits for them to be
   * taken (rounded up to a power of two). @default {1024}
   */
  ringEntries?: number;
}

/** A frame a reader thread completed. */
export interface PipeFrame {
  /** The slot that holds it (in the stream's {@linkcode FrameSlots}). */
  slot: number;
  /** `performance.now()` on this thread when its last byte arrived. */
  capturedAt: number;
  /** Milliseconds from its first byte to its last. */
  readMs: number;
}

/** Options of {@linkcode PipeReaders.attach}. */
export interface PipeAttachOptions {
  /** Where the frames go; slots are freed by whoever holds the frame. */
  slots: FrameSlots;
  /** Bytes of one frame (at most `slots.slotBytes`). */
  frameBytes: number;
  /** Called on this thread for each frame, in the order they were read. */
  onFrame: (frame: PipeFrame) => void;
}

/** One stream's pipe, read by a reader thread. */
export interface PipeReading {
  /** The FIFO to have ffmpeg write to. */
  readonly path: string;
  /** The pipe's buffer size in bytes, as the kernel set it. */
  readonly pipeBytes: number;
  /** After the writer exited: resolves once the frames left in the pipe were read and it is closed. */
  drain(): Promise<void>;
  /** Closes the pipe now (a frame half read is given up); resolves once closed. */
  close(): Promise<void>;
}

/** Thrown when a stream's pipe cannot be read by a reader thread; says why. */
export class PipeReaderError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "PipeReaderError";
  }
}

interface Attached {
  onFrame: (frame: PipeFrame) => void;
  opened: { resolve: (pipeBytes: number) => void; reject: (err: Error) => void };
  closed: Promise<void>;
  onClosed: () => void;
  path: string;
}

interface ReaderThread {
  worker: Worker;
  streams: Map<number, Attached>;
  /** The eventfd that wakes the thread from poll(2) after a message. */
  wakeFd: number;
  /** Messages sent to it (shared: it waits in poll(2) until it has taken them all). */
  sent: Int32Array;
  /** The frames it completed and the main thread has not taken yet. */
  ring: FrameRing;
}

const ONE = new Uint8Array(new BigUint64Array([1n]).buffer);
/** A thread being ended may still sit in poll(2) for up to its longest wait (1 s). */
const CLOSE_WAKE_FD_AFTER_MS = 2000;
/**
 * Entries of a reader thread's ring: more than the slots of its streams ever hold at the default
 * sizes (16 streams x 14 slots); with more, a full ring makes the reader wait as for a slot.
 */
const RING_ENTRIES = 1024;

/**
 * A pool of reader threads, started on demand (one per `streamsPerReader` streams) and ended
 * when their last stream is closed, so an idle exporter holds none. Each stream gets a FIFO in
 * the pool's folder; ffmpeg writes its frames there and a reader thread reads them with
 * read(2) into the stream's slots.
 *
 * Completed frames wait in a shared ring per thread until {@linkcode collect} takes them (the
 * batcher does before each decision, as a `FrameFeed`); a thread wakes the main thread only
 * when the demand set by {@linkcode want} is met (frames, or an age), or when its oldest frame
 * has waited 40 ms.
 */
export class PipeReaders {
  #streamsPerReader: number;
  #dir: string | null;
  #ownDir: boolean;
  #threads: ReaderThread[] = [];
  #nextKey = 1;
  /** Frames delivered, all streams together. */
  frames = 0;
  /** Wake-ups the reader threads posted (each one a turn of the main event loop). */
  wakeUps = 0;
  readonly #ringEntries: number;
  readonly #demand = HandoverDemand.create();
  readonly #deliver = (key: number, slot: number, finishedAt: number, readMs: number) => {
    const attached = this.#delivering!.streams.get(key);
    if (!attached) return;
    this.frames++;
    attached.onFrame({ slot, capturedAt: finishedAt - this.#clockOffset, readMs });
  };
  #delivering: ReaderThread | null = null;
  /** The readers' clock (CLOCK_MONOTONIC) less this thread's `performance.now()`, per take. */
  #clockOffset = 0;
  /** The last ask, renewed when a wake-up it spent brought no frame to any stream. */
  #ask: { frames: number; maxAgeMs: number } | null = null;

  constructor(options: PipeReadersOptions = {}) {
    this.#streamsPerReader = Math.max(1, options.streamsPerReader ?? 16);
    this.#ringEntries = options.ringEntries ?? RING_ENTRIES;
    if (!(Number.isInteger(this.#ringEntries) && this.#ringEntries >= 1)) {
      throw new PipeReaderError(`Cannot read pipes with ringEntries ${this.#ringEntries}`);
    }
    this.#dir = options.dir ?? null;
    this.#ownDir = options.dir === undefined;
  }

  /** Whether reader threads can run here (the C library loads: FFI is allowed, glibc). */
  static available(): boolean {
    return pipeLibc() !== null;
  }

  /** Reader threads running now. */
  get threads(): number {
    return this.#threads.length;
  }

  /** Streams attached now, all threads together. */
  get streams(): number {
    return this.#threads.reduce((n, t) => n + t.streams.size, 0);
  }

  #folder(): string {
    this.#dir ??= Deno.makeTempDirSync({ prefix: "pose_exporter_fifo_" });
    return this.#dir;
  }

  #thread(): ReaderThread {
    const free = this.#threads
      .filter((t) => t.streams.size < this.#streamsPerReader)
      .sort((a, b) => a.streams.size - b.streams.size)[0];
    if (free) return free;
    const worker = new Worker(new URL("./pipe_reader_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const c = pipeLibc()!;
    const wakeFd = c.eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    if (wakeFd < 0) {
      worker.terminate();
      throw new PipeReaderError("Cannot start a pipe reader thread: no eventfd");
    }
    const sent = new Int32Array(new SharedArrayBuffer(4));
    const ring = FrameRing.create(this.#ringEntries);
    const thread: ReaderThread = { worker, streams: new Map(), wakeFd, sent, ring };
    worker.onmessage = (event: MessageEvent<PipeReaderReply>) => this.#onReply(thread, event.data);
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      // Its completed frames still go to their streams, and leave the shared count.
      this.#take(thread);
      const err = new PipeReaderError(`Pipe reader thread failed: ${event.message}`);
      for (const attached of thread.streams.values()) {
        attached.opened.reject(err);
        attached.onClosed();
      }
      thread.streams.clear();
      this.#end(thread);
    };
    this.#threads.push(thread);
    this.#send(thread, {
      type: "init",
      wakeFd,
      sent: sent.buffer as SharedArrayBuffer,
      ring: ring.buffer,
      demand: this.#demand.buffer,
    });
    return thread;
  }

  /** Posts `request` to `thread` and wakes it from poll(2). */
  #send(thread: ReaderThread, request: PipeReaderRequest): void {
    Atomics.add(thread.sent, 0, 1);
    thread.worker.postMessage(request);
    pipeLibc()!.write(thread.wakeFd, ONE, 8n);
  }

  /**
   * Hands every frame the reader threads completed to its stream's `onFrame`, in the order each
   * thread read them.
   *
   * @returns the frames taken
   */
  collect(): number {
    // Whoever collects decides anew, and asks again if it waits: the last ask is no longer open.
    this.#ask = null;
    return this.#takeAll();
  }

  #takeAll(): number {
    let taken = 0;
    for (const thread of this.#threads) taken += this.#take(thread);
    return taken;
  }

  /**
   * Asks to be woken (a {@linkcode collect} on the wake-up) once `frames` frames wait in the
   * rings, all threads together, or, with `maxAgeMs`, once a waiting frame is that old (its
   * last byte read that long ago).
   *
   * @returns true when they already do (with `maxAgeMs`: when any frame waits): collect now
   *   instead of waiting
   */
  want(frames: number, maxAgeMs = Infinity): boolean {
    // Asked even with no thread yet: the demand is shared memory, and the first thread reads it.
    const now = this.#demand.want(frames, maxAgeMs);
    this.#ask = now ? null : { frames, maxAgeMs };
    return now;
  }

  #take(thread: ReaderThread): number {
    if (thread.ring.size === 0) return 0;
    this.#delivering = thread;
    this.#clockOffset = monotonicMs(pipeLibc()!) - performance.now();
    try {
      const taken = thread.ring.take(this.#deliver);
      this.#demand.taken(taken);
      return taken;
    } finally {
      this.#delivering = null;
    }
  }

  #onReply(thread: ReaderThread, reply: PipeReaderReply): void {
    // Frames read before this message come first (a closed pipe's last frames included).
    this.#take(thread);
    switch (reply.type) {
      case "wake": {
        this.wakeUps++;
        const before = this.frames;
        this.#takeAll();
        // The wake-up spent the ask; if it brought no frame to a stream (its frames were of a
        // stream gone), nobody is woken to ask again: the ask stands.
        if (this.frames !== before) {
          this.#ask = null;
        } else if (this.#ask !== null && this.#demand.want(this.#ask.frames, this.#ask.maxAgeMs)) {
          this.#takeAll();
        }
        return;
      }
      case "opened":
        thread.streams.get(reply.key)?.opened.resolve(reply.pipeBytes);
        return;
      case "failed": {
        const attached = thread.streams.get(reply.key);
        if (!attached) return;
        attached.opened.reject(new PipeReaderError(reply.message));
        this.#forget(thread, reply.key);
        return;
      }
      case "closed":
        this.#forget(thread, reply.key);
        return;
    }
  }

  #forget(thread: ReaderThread, key: number): void {
    const attached = thread.streams.get(key);
    if (!attached) return;
    thread.streams.delete(key);
    try {
      Deno.removeSync(attached.path);
    } catch {
      // already gone
    }
    attached.onClosed();
    if (thread.streams.size === 0) this.#end(thread);
  }

  #end(thread: ReaderThread): void {
    pipeLibc()!.write(thread.wakeFd, ONE, 8n);
    thread.worker.terminate();
    const timer = setTimeout(() => pipeLibc()!.close(thread.wakeFd), CLOSE_WAKE_FD_AFTER_MS);
    Deno.unrefTimer(timer);
    this.#threads = this.#threads.filter((t) => t !== thread);
    if (this.#threads.length === 0 && this.#ownDir && this.#dir !== null) {
      try {
        Deno.removeSync(this.#dir, { recursive: true });
      } catch {
        // already gone
      }
      this.#dir = null;
    }
  }

  /**
   * Makes a FIFO for a stream and has a reader thread open it.
   *
   * @returns the stream's pipe once the reader holds it open (ffmpeg's open then never blocks)
   * @throws {PipeReaderError} when the C library is missing or the FIFO cannot be made or opened
   */
  async attach(options: PipeAttachOptions): Promise<PipeReading> {
    const c = pipeLibc();
    if (c === null) {
      throw new PipeReaderError("Cannot read a pipe in a reader thread: no FFI to the C library");
    }
    if (options.frameBytes > options.slots.slotBytes) {
      throw new PipeReaderError(
        `Cannot read frames of ${options.frameBytes} bytes into slots of ${options.slots.slotBytes}`,
      );
    }
    const key = this.#nextKey++;
    const path = `${this.#folder()}/${key}.fifo`;
    makeFifo(c, path);
    const thread = this.#thread();
    let onClosed = () => {};
    const closed = new Promise<void>((resolve) => (onClosed = resolve));
    let opened!: Attached["opened"];
    const openedPromise = new Promise<number>((resolve, reject) => (opened = { resolve, reject }));
    thread.streams.set(key, { onFrame: options.onFrame, opened, closed, onClosed, path });
    const request: PipeReaderRequest = {
      type: "attach",
      key,
      path,
      slots: options.slots.buffer,
      count: options.slots.count,
      slotBytes: options.slots.slotBytes,
      frameBytes: options.frameBytes,
    };
    this.#send(thread, request);
    const pipeBytes = await openedPromise;
    const send = (type: "drain" | "detach") => {
      if (thread.streams.has(key)) this.#send(thread, { type, key });
      return closed;
    };
    return { path, pipeBytes, drain: () => send("drain"), close: () => send("detach") };
  }
}
