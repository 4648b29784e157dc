// Messages between the main thread and a pipe reader thread.

/** What the main thread asks a reader thread. */
export type PipeReaderRequest =
  /**
   * The first message: the eventfd the main thread writes after each message (the reader waits
   * in poll(2), not in its event loop) and the count of messages sent, shared.
   */
  | {
    type: "init";
    wakeFd: number;
    sent: SharedArrayBuffer;
    /** The thread's `FrameRing` and the pool's `HandoverDemand` (frame_handover.ts). */
    ring: SharedArrayBuffer;
    demand: SharedArrayBuffer;
  }
  | {
    /** Open the FIFO at `path` and read whole frames of `frameBytes` into the slots. */
    type: "attach";
    key: number;
    path: string;
    slots: SharedArrayBuffer;
    count: number;
    slotBytes: number;
    frameBytes: number;
  }
  /** The writer has exited: read the frames left in the pipe, then close it. */
  | { type: "drain"; key: number }
  /** Close the pipe now (the stream stops); a frame being filled is given up. */
  | { type: "detach"; key: number };

/** What a reader thread answers. */
export type PipeReaderReply =
  | { type: "opened"; key: number; pipeBytes: number }
  | { type: "failed"; key: number; message: string }
  /**
   * Frames wait in the thread's ring: the demand was met, or the oldest has waited too long, or
   * the thread cannot read on until some are taken (no free slot, a full ring).
   */
  | { type: "wake" }
  | { type: "closed"; key: number };
