// The frame passed between pipeline stages, its letterbox geometry, and the source interface.

/** How a source image was fitted into the model input: scaled, then padded on both sides. */
export interface Letterbox {
  /** Model pixels per source pixel. */
  scale: number;
  /** Padding left of the image, in model pixels. */
  padX: number;
  /** Padding above the image, in model pixels. */
  padY: number;
  /** Source image width in pixels. */
  sourceWidth: number;
  /** Source image height in pixels. */
  sourceHeight: number;
}

/** One frame of one stream, already letterboxed to the model's input size as RGB bytes. */
export interface Frame {
  /** Index of the stream in the configuration (label sets are indexed by it). */
  stream: number;
  /** Sequence number of this frame within its stream, from 0. */
  seq: number;
  /** `performance.now()` when the frame's pixels were read from the source. */
  capturedAt: number;
  /** Milliseconds the source spent reading (or making) this frame's pixels, when it knows. */
  readMs?: number;
  /** H x W x 3 RGB bytes at the model's input size. Read-only for every stage. */
  pixels: Uint8Array;
  /** How the source image maps into `pixels`. */
  letterbox: Letterbox;
  /**
   * Gives `pixels` back to the source's buffer pool. Called exactly once, when the pixels
   * have been copied into a batch or the frame was dropped. Absent for shared buffers.
   */
  release?: () => void;
}

/** Where a source puts its frames: the batcher. */
export interface FrameSink {
  /** Hands over one frame; never blocks (a full queue drops its oldest frame). */
  push(frame: Frame): void;
  /** Resolves when stream `stream` has room for another frame without a drop. */
  waitForRoom(stream: number): Promise<void>;
}

/** A stream of frames. */
export interface FrameSource {
  /** The stream id (label value). */
  readonly id: string;
  /** Starts producing frames into `sink`. */
  start(sink: FrameSink): void;
  /** Stops producing; resolves when no more frames will be pushed. */
  stop(): Promise<void>;
}

/**
 * Computes the letterbox that fits a `sourceWidth` x `sourceHeight` image into
 * `width` x `height`, centred, as Ultralytics' LetterBox does.
 */
export function computeLetterbox(
  source: { width: number; height: number },
  target: { width: number; height: number },
): Letterbox {
  const scale = Math.min(target.width / source.width, target.height / source.height);
  const scaledWidth = Math.round(source.width * scale);
  const scaledHeight = Math.round(source.height * scale);
  return {
    scale,
    padX: Math.max(0, Math.round((target.width - scaledWidth) / 2 - 0.1)),
    padY: Math.max(0, Math.round((target.height - scaledHeight) / 2 - 0.1)),
    sourceWidth: source.width,
    sourceHeight: source.height,
  };
}
