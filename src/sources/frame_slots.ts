// A fixed set of frame buffers in one SharedArrayBuffer, owned in turn by a reader thread (which
// fills a slot), the main thread (which queues and batches its frame) and the inference worker
// (which copies it into the batch): no copy between threads, no allocation per frame.

/** A slot no thread uses: the reader may take it. */
export const SLOT_FREE = 0;
/** A slot the reader is filling. */
export const SLOT_FILLING = 1;
/** A slot holding a whole frame that is queued, batched or being copied. */
export const SLOT_IN_USE = 2;

/** Bytes before the first slot: the slot states, padded to a cache line. */
function headerBytes(count: number): number {
  return Math.ceil((count * 4) / 64) * 64;
}

/** Thrown when a slot set cannot be made with the sizes asked for; names them. */
export class FrameSlotsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "FrameSlotsError";
  }
}

/**
 * `count` slots of `slotBytes` bytes each, with a state per slot ({@linkcode SLOT_FREE},
 * {@linkcode SLOT_FILLING}, {@linkcode SLOT_IN_USE}) changed only through `Atomics`, so that
 * each thread can build its own view of the same memory with {@linkcode FrameSlots.from}.
 * Slots are taken lowest index first: the slots a stream never needs are never touched (their
 * pages stay unmapped).
 */
export class FrameSlots {
  /** The shared memory: the states, then the slots. */
  readonly buffer: SharedArrayBuffer;
  /** Number of slots. */
  readonly count: number;
  /** Bytes per slot. */
  readonly slotBytes: number;
  readonly #states: Int32Array;
  readonly #views: Uint8Array[];
  readonly #releasers: (() => void)[];

  private constructor(buffer: SharedArrayBuffer, count: number, slotBytes: number) {
    this.buffer = buffer;
    this.count = count;
    this.slotBytes = slotBytes;
    const header = headerBytes(count);
    this.#states = new Int32Array(buffer, 0, count);
    this.#views = Array.from(
      { length: count },
      (_, i) => new Uint8Array(buffer, header + i * slotBytes, slotBytes),
    );
    this.#releasers = Array.from({ length: count }, (_, i) => () => this.release(i));
  }

  /**
   * Allocates a new set.
   *
   * @param count slots, at least 1
   * @param slotBytes bytes per slot, at least 1
   * @throws {FrameSlotsError} for a count or size below 1
   */
  static create(count: number, slotBytes: number): FrameSlots {
    if (!(Number.isInteger(count) && count >= 1)) {
      throw new FrameSlotsError(`Cannot make ${count} frame slots: at least 1 is needed`);
    }
    if (!(Number.isInteger(slotBytes) && slotBytes >= 1)) {
      throw new FrameSlotsError(`Cannot make frame slots of ${slotBytes} bytes`);
    }
    return new FrameSlots(
      new SharedArrayBuffer(headerBytes(count) + count * slotBytes),
      count,
      slotBytes,
    );
  }

  /** Another thread's view of a set made by {@linkcode FrameSlots.create}. */
  static from(buffer: SharedArrayBuffer, count: number, slotBytes: number): FrameSlots {
    if (buffer.byteLength < headerBytes(count) + count * slotBytes) {
      throw new FrameSlotsError(
        `Cannot view ${count} slots of ${slotBytes} bytes in ${buffer.byteLength} bytes`,
      );
    }
    return new FrameSlots(buffer, count, slotBytes);
  }

  /** The bytes of slot `slot` (the same view every time). */
  view(slot: number): Uint8Array {
    return this.#views[slot]!;
  }

  /** Byte offset of slot `slot` in {@linkcode buffer}. */
  offset(slot: number): number {
    return headerBytes(this.count) + slot * this.slotBytes;
  }

  /** A function that frees slot `slot` (the same function every time: no allocation per frame). */
  releaser(slot: number): () => void {
    return this.#releasers[slot]!;
  }

  /** Takes the lowest free slot for filling; -1 when none is free. */
  acquire(): number {
    for (let i = 0; i < this.count; i++) {
      if (Atomics.compareExchange(this.#states, i, SLOT_FREE, SLOT_FILLING) === SLOT_FREE) return i;
    }
    return -1;
  }

  /** Marks a filled slot as holding a frame. */
  fill(slot: number): void {
    Atomics.store(this.#states, slot, SLOT_IN_USE);
  }

  /** Frees a slot (its frame was batched and seen by every sink, or dropped). */
  release(slot: number): void {
    Atomics.store(this.#states, slot, SLOT_FREE);
  }

  /** The state of slot `slot`. */
  state(slot: number): number {
    return Atomics.load(this.#states, slot);
  }

  /** Slots not free now. */
  inUse(): number {
    let n = 0;
    for (let i = 0; i < this.count; i++) if (Atomics.load(this.#states, i) !== SLOT_FREE) n++;
    return n;
  }

  /** Whether a slot is free now. */
  hasFree(): boolean {
    for (let i = 0; i < this.count; i++) {
      if (Atomics.load(this.#states, i) === SLOT_FREE) return true;
    }
    return false;
  }
}
