// A pool of frame-sized byte buffers, so a source reuses its buffers instead of allocating per frame.

/** Hands out buffers of one size and takes them back. */
export class FramePool {
  readonly frameBytes: number;
  #free: Uint8Array[] = [];
  /** Buffers allocated so far (grows only while more frames are in flight than ever before). */
  allocated = 0;

  constructor(frameBytes: number) {
    this.frameBytes = frameBytes;
  }

  /** A free buffer, or a new one when none is free. */
  acquire(): Uint8Array {
    const buffer = this.#free.pop();
    if (buffer) return buffer;
    this.allocated++;
    return new Uint8Array(this.frameBytes);
  }

  /** Takes a buffer back for reuse. */
  release(buffer: Uint8Array): void {
    this.#free.push(buffer);
  }
}
