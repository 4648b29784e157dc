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

/**
 * The rows of the model input a frame's pixels hold, when they hold only some: the picture's
 * band, full model width. The rows above and below are gray 114 letterbox padding, added where
 * the batch is assembled (so it never travels through a pipe).
 */
export interface FrameRows {
  /** The first model row the pixels hold. */
  top: number;
  /** How many model rows the pixels hold. */
  height: number;
}

/** The padding value of the letterbox, as Ultralytics pads (gray 114 on every channel). */
export const LETTERBOX_GRAY = 114;

/**
 * One frame of one stream as RGB bytes at the model's input width: letterboxed to the whole
 * model input, or, with `rows`, only the band of rows that holds the picture.
 */
export interface Frame {
  /** Index of the stream in the configuration (label sets are indexed by it). */
  stream: number;
  /** Sequence number of this frame within its stream, from 0. */
  seq: number;
  /** `performance.now()` when the frame's pixels were read from the source. */
  capturedAt: number;
  /** Milliseconds the source spent reading (or making) this frame's pixels, when it knows. */
  readMs?: number;
  /**
   * H x W x 3 RGB bytes at the model's input size (or `rows.height` x W x 3 with `rows`).
   * Read-only for every stage. May be a view into a `SharedArrayBuffer` (frame slots shared
   * with the reader and inference threads), valid until `release`.
   */
  pixels: Uint8Array;
  /** Set when `pixels` hold only these model rows (the picture's band). @default {all rows} */
  rows?: FrameRows;
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

/**
 * The band of model rows that holds the picture of a letterboxed frame: from the top padding,
 * the scaled picture's height (clamped to the model input).
 *
 * @param letterbox how the source image fits into the model input
 * @param model the model input size
 * @returns the rows the picture covers
 */
export function pictureRows(letterbox: Letterbox, model: { height: number }): FrameRows {
  const top = Math.min(Math.max(0, letterbox.padY), model.height - 1);
  const height = Math.max(
    1,
    Math.min(model.height - top, Math.round(letterbox.sourceHeight * letterbox.scale)),
  );
  return { top, height };
}
