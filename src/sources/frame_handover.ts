// How a pipe reader thread hands its completed frames to the main thread without waking it per
// frame: a ring of four numbers per frame in shared memory (one per reader thread), and one
// demand shared by all of them, set by the batcher: "wake me once N frames are there, or once a
// frame has waited T ms". The main thread takes what the rings hold whenever it decides on a
// batch; a reader posts a message only when the demand is met, or when its oldest frame has
// waited too long.

/** Int32 words of the shared demand. */
const ROOM = 0;
const ARMED = 1;
const PENDING = 2;
/** The ask's age limit in microseconds, -1 for none. */
const AGE_US = 3;
const DEMAND_WORDS = 4;

/**
 * Uint32 words before a ring's entries: the write count (reader), the read count (main). They
 * wrap at 2^32 (a reader at 2,000 frames/s gets there in 25 days): sizes are taken modulo 2^32
 * and the capacity is a power of two, so an index stays right across the wrap.
 */
const WRITTEN = 0;
const TAKEN = 1;
const RING_HEADER_BYTES = 64;
/** Numbers per entry: the stream's key, the slot, when its last byte came (wall-clock ms), ms read. */
const ENTRY = 4;

/** Thrown when a handover cannot be made or viewed with the sizes asked for; names them. */
export class FrameHandoverError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameHandoverError";
  }
}

/**
 * The demand all reader threads of a pool share: frames handed over and not yet taken (all
 * rings together), and how many the main thread wants before it is woken.
 */
export class HandoverDemand {
  /** The shared memory. */
  readonly buffer: SharedArrayBuffer;
  readonly #words: Int32Array;

  private constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.#words = new Int32Array(buffer, 0, DEMAND_WORDS);
  }

  /** A new demand, asking for nothing. */
  static create(): HandoverDemand {
    return new HandoverDemand(new SharedArrayBuffer(DEMAND_WORDS * 4));
  }

  /** Another thread's view of a demand made by {@linkcode HandoverDemand.create}. */
  static from(buffer: SharedArrayBuffer): HandoverDemand {
    if (buffer.byteLength < DEMAND_WORDS * 4) {
      throw new FrameHandoverError(`Cannot view a handover demand in ${buffer.byteLength} bytes`);
    }
    return new HandoverDemand(buffer);
  }

  /** Frames handed over by every ring and not yet taken. */
  get pending(): number {
    return Atomics.load(this.#words, PENDING);
  }

  /**
   * The main thread asks to be woken once `room` frames are pending (at least 1), or, with
   * `maxAgeMs`, once a pending frame has waited that long (the batch timeout, so that the
   * reader holding the oldest frame closes the batch and no first frame wakes the main thread
   * only to arm a timer).
   *
   * @returns true when the ask is met already, or when, with `maxAgeMs`, frames arrived since the
   *   last take (their age is not known here): take them now instead of waiting (the ask is
   *   withdrawn)
   */
  want(room: number, maxAgeMs = Infinity): boolean {
    const ageUs = Number.isFinite(maxAgeMs)
      ? Math.min(2 ** 31 - 1, Math.max(0, maxAgeMs) * 1000)
      : -1;
    Atomics.store(this.#words, ROOM, Math.max(1, room));
    Atomics.store(this.#words, AGE_US, Math.ceil(ageUs));
    Atomics.store(this.#words, ARMED, 1);
    const pending = Atomics.load(this.#words, PENDING);
    if (pending < Math.max(1, room) && !(ageUs >= 0 && pending > 0)) return false;
    Atomics.store(this.#words, ARMED, 0);
    return true;
  }

  /** The reader's side: the age limit of the ask now armed, in ms, or Infinity for none. */
  get maxAgeMs(): number {
    if (Atomics.load(this.#words, ARMED) !== 1) return Infinity;
    const us = Atomics.load(this.#words, AGE_US);
    return us < 0 ? Infinity : us / 1000;
  }

  /**
   * The reader's side: whether its oldest frame (`oldestAt`, ms) has outwaited the
   * ask's age limit at `now`.
   *
   * @returns true when it has: post the main thread a wake-up (only one reader gets true per ask)
   */
  overdue(oldestAt: number, now: number): boolean {
    return now - oldestAt >= this.maxAgeMs &&
      Atomics.compareExchange(this.#words, ARMED, 1, 0) === 1;
  }

  /**
   * A reader thread counts one frame handed over.
   *
   * @returns true when that met the demand: post the main thread a wake-up (only one reader gets
   *   true per ask)
   */
  handedOver(): boolean {
    const pending = Atomics.add(this.#words, PENDING, 1) + 1;
    return pending >= Atomics.load(this.#words, ROOM) &&
      Atomics.compareExchange(this.#words, ARMED, 1, 0) === 1;
  }

  /** The main thread counts `frames` taken. */
  taken(frames: number): void {
    if (frames > 0) Atomics.sub(this.#words, PENDING, frames);
  }
}

/** A frame as the ring holds it. */
export interface HandedFrame {
  key: number;
  slot: number;
  /** Monotonic ms (CLOCK_MONOTONIC, the same on every thread) when its last byte arrived. */
  finishedAt: number;
  /** Ms from its first byte to its last. */
  readMs: number;
}

/**
 * One reader thread's ring of completed frames: it writes, the main thread takes, in order. Its
 * capacity bounds nothing new (every frame in it holds a slot); a full ring makes the reader wait
 * as it does for a free slot.
 */
export class FrameRing {
  /** The shared memory: the two counts, then the entries. */
  readonly buffer: SharedArrayBuffer;
  /** Entries the ring holds at most. */
  readonly capacity: number;
  readonly #counts: Uint32Array;
  readonly #mask: number;
  readonly #entries: Float64Array;

  private constructor(buffer: SharedArrayBuffer, capacity: number) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.#counts = new Uint32Array(buffer, 0, 2);
    this.#mask = capacity - 1;
    this.#entries = new Float64Array(buffer, RING_HEADER_BYTES, capacity * ENTRY);
  }

  /**
   * A new, empty ring.
   *
   * @param capacity entries at least (rounded up to a power of two), 1 to 2^20
   * @throws {FrameHandoverError} for a capacity out of that range
   */
  static create(capacity: number): FrameRing {
    if (!(Number.isInteger(capacity) && capacity >= 1 && capacity <= 2 ** 20)) {
      throw new FrameHandoverError(`Cannot make a frame ring of ${capacity} entries`);
    }
    const entries = 2 ** Math.ceil(Math.log2(capacity));
    return new FrameRing(
      new SharedArrayBuffer(RING_HEADER_BYTES + entries * ENTRY * 8),
      entries,
    );
  }

  /** Another thread's view of a ring made by {@linkcode FrameRing.create}. */
  static from(buffer: SharedArrayBuffer): FrameRing {
    const capacity = (buffer.byteLength - RING_HEADER_BYTES) / (ENTRY * 8);
    if (!(Number.isInteger(capacity) && capacity >= 1 && (capacity & (capacity - 1)) === 0)) {
      throw new FrameHandoverError(`Cannot view a frame ring in ${buffer.byteLength} bytes`);
    }
    return new FrameRing(buffer, capacity);
  }

  /** Entries written and not yet taken. */
  get size(): number {
    return (Atomics.load(this.#counts, WRITTEN) - Atomics.load(this.#counts, TAKEN)) >>> 0;
  }

  /** The reader's side: whether one more entry fits. */
  get full(): boolean {
    return this.size >= this.capacity;
  }

  /** The reader's side: `finishedAt` of the oldest entry not yet taken, or Infinity. */
  oldestFinishedAt(): number {
    const taken = Atomics.load(this.#counts, TAKEN);
    if (Atomics.load(this.#counts, WRITTEN) === taken) return Infinity;
    return this.#entries[(taken & this.#mask) * ENTRY + 2]!;
  }

  /**
   * The reader's side: appends a frame (call only when not {@linkcode full}).
   *
   * @throws {FrameHandoverError} when the ring is full
   */
  push(key: number, slot: number, finishedAt: number, readMs: number): void {
    const written = Atomics.load(this.#counts, WRITTEN);
    if (((written - Atomics.load(this.#counts, TAKEN)) >>> 0) >= this.capacity) {
      throw new FrameHandoverError(`The frame ring of ${this.capacity} entries is full`);
    }
    const at = (written & this.#mask) * ENTRY;
    this.#entries[at] = key;
    this.#entries[at + 1] = slot;
    this.#entries[at + 2] = finishedAt;
    this.#entries[at + 3] = readMs;
    // The store publishes the entry: the main thread reads the count first, then the entry.
    Atomics.store(this.#counts, WRITTEN, (written + 1) >>> 0);
  }

  /**
   * The main thread's side: hands every entry written so far to `each`, oldest first.
   *
   * @returns the entries taken
   */
  take(each: (key: number, slot: number, finishedAt: number, readMs: number) => void): number {
    const written = Atomics.load(this.#counts, WRITTEN);
    let taken = Atomics.load(this.#counts, TAKEN);
    let count = 0;
    while (taken !== written) {
      const at = (taken & this.#mask) * ENTRY;
      const e = this.#entries;
      each(e[at]!, e[at + 1]!, e[at + 2]!, e[at + 3]!);
      taken = (taken + 1) >>> 0;
      count++;
      // Published one by one: the reader may reuse an entry as soon as it is counted taken.
      Atomics.store(this.#counts, TAKEN, taken);
    }
    return count;
  }
}
