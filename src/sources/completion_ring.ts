// The frames a reader thread completed, handed to the main thread through shared memory: a ring
// of four numbers per frame and one doorbell for all readers, so the main thread wakes once for
// many frames (a message per frame cost it ~0.05 ms each).

/** Numbers per entry: key, slot, wall-clock ms of the last byte, ms from first byte to last. */
const ENTRY = 4;

/**
 * A single-producer, single-consumer ring of completed frames in a `SharedArrayBuffer`. The
 * producer (a reader thread) pushes and rings the doorbell; the consumer (the main thread)
 * drains. Its capacity bounds nothing that is not bounded already: each entry is a frame in a
 * slot, and slots are fixed per stream.
 */
export class CompletionRing {
  readonly buffer: SharedArrayBuffer;
  readonly capacity: number;
  /** [written, read]: counts of entries, ever. */
  readonly #head: Int32Array;
  readonly #entries: Float64Array;

  private constructor(buffer: SharedArrayBuffer, capacity: number) {
    this.buffer = buffer;
    this.capacity = capacity;
    this.#head = new Int32Array(buffer, 0, 2);
    this.#entries = new Float64Array(buffer, 8, capacity * ENTRY);
  }

  /** A new ring of `capacity` entries. */
  static create(capacity: number): CompletionRing {
    return new CompletionRing(new SharedArrayBuffer(8 + capacity * ENTRY * 8), capacity);
  }

  /** Another thread's view of a ring made by {@linkcode CompletionRing.create}. */
  static from(buffer: SharedArrayBuffer): CompletionRing {
    return new CompletionRing(buffer, (buffer.byteLength - 8) / (ENTRY * 8));
  }

  /** Adds an entry; false when the ring is full (the consumer has not caught up). */
  push(key: number, slot: number, at: number, readMs: number): boolean {
    const written = Atomics.load(this.#head, 0);
    if (written - Atomics.load(this.#head, 1) >= this.capacity) return false;
    const i = (written % this.capacity) * ENTRY;
    this.#entries[i] = key;
    this.#entries[i + 1] = slot;
    this.#entries[i + 2] = at;
    this.#entries[i + 3] = readMs;
    Atomics.store(this.#head, 0, written + 1);
    return true;
  }

  /** Calls `each` with every entry not yet drained, oldest first; returns how many. */
  drain(each: (key: number, slot: number, at: number, readMs: number) => void): number {
    const written = Atomics.load(this.#head, 0);
    let read = Atomics.load(this.#head, 1);
    const n = written - read;
    for (; read < written; read++) {
      const i = (read % this.capacity) * ENTRY;
      each(this.#entries[i]!, this.#entries[i + 1]!, this.#entries[i + 2]!, this.#entries[i + 3]!);
      Atomics.store(this.#head, 1, read + 1);
    }
    return n;
  }
}

/** Rings a doorbell (an Int32Array of one element in shared memory): wakes a waiting consumer. */
export function ring(bell: Int32Array): void {
  Atomics.add(bell, 0, 1);
  Atomics.notify(bell, 0);
}
