// Live view pictures: a small copy of the frame the model saw, letterbox removed, and the
// mapping of poses (source pixels) onto it.

import type { Letterbox } from "../sources/frame.ts";

/** A picture's size in pixels. */
export interface PictureSize {
  width: number;
  height: number;
}

/** The part of the model input that holds the source image, in model pixels. */
export interface ContentRect {
  x: number;
  y: number;
  width: number;
  height: number;
}

/** A reusable RGB24 picture buffer with the geometry it was last filled for. */
export interface Snapshot {
  width: number;
  height: number;
  /** `width * height * 3` RGB bytes (the buffer may be longer; only that prefix is meaningful). */
  rgb: Uint8Array;
}

/**
 * Where the source image lies inside a letterboxed model input: the padding removed,
 * clamped to the model size.
 *
 * @param letterbox how the source was fitted into the model input
 * @param model the model input size
 * @returns the content rectangle in model pixels (at least 1 x 1)
 */
export function contentRect(letterbox: Letterbox, model: PictureSize): ContentRect {
  const x = Math.min(Math.max(0, letterbox.padX), model.width - 1);
  const y = Math.min(Math.max(0, letterbox.padY), model.height - 1);
  const width = Math.max(
    1,
    Math.min(model.width - x, Math.round(letterbox.sourceWidth * letterbox.scale)),
  );
  const height = Math.max(
    1,
    Math.min(model.height - y, Math.round(letterbox.sourceHeight * letterbox.scale)),
  );
  return { x, y, width, height };
}

/**
 * The size of a live view picture: the content's aspect ratio, at most `maxSide` on its long
 * side and never larger than the content itself.
 *
 * @param content the content rectangle (see {@linkcode contentRect})
 * @param maxSide the longest side allowed, in pixels
 * @returns the picture size, at least 1 x 1
 */
export function pictureSize(content: PictureSize, maxSide: number): PictureSize {
  const factor = Math.min(1, maxSide / Math.max(content.width, content.height));
  return {
    width: Math.max(1, Math.round(content.width * factor)),
    height: Math.max(1, Math.round(content.height * factor)),
  };
}

/** Sampling tables of one geometry, cached per snapshot slot. */
export interface DownscalePlan {
  key: string;
  width: number;
  height: number;
  /** Per output column, the byte offset (within a model row) of the input pixel it takes. */
  columns: Int32Array;
  /** Per output row, the byte offset of the model row it takes. */
  rows: Int32Array;
}

/**
 * Plans a downscale of the content of a `model`-sized letterboxed frame to at most `maxSide`:
 * each output pixel takes the input pixel at the centre of its footprint. One read per channel
 * keeps a picture under half a millisecond, so watching costs the pipeline little; at the 2:1
 * or so of a 640-pixel model input to a 320-pixel picture the aliasing is slight.
 *
 * @param letterbox the frame's letterbox
 * @param model the model input size
 * @param maxSide the longest picture side allowed
 * @returns the plan (reuse it while the geometry stays the same)
 */
export function planDownscale(
  letterbox: Letterbox,
  model: PictureSize,
  maxSide: number,
): DownscalePlan {
  const content = contentRect(letterbox, model);
  const size = pictureSize(content, maxSide);
  const columns = new Int32Array(size.width);
  const rows = new Int32Array(size.height);
  const stepX = content.width / size.width;
  const stepY = content.height / size.height;
  const at = (start: number, step: number, i: number, limit: number) =>
    start + Math.min(limit - 1, Math.floor((i + 0.5) * step));
  for (let i = 0; i < size.width; i++) columns[i] = 3 * at(content.x, stepX, i, content.width);
  for (let j = 0; j < size.height; j++) {
    rows[j] = 3 * model.width * at(content.y, stepY, j, content.height);
  }
  return { key: planKey(letterbox, model, maxSide), ...size, columns, rows };
}

/** The cache key of a plan: the geometry it depends on. */
export function planKey(letterbox: Letterbox, model: PictureSize, maxSide: number): string {
  return `${letterbox.scale},${letterbox.padX},${letterbox.padY},${letterbox.sourceWidth},` +
    `${letterbox.sourceHeight},${model.width},${model.height},${maxSide}`;
}

/**
 * Fills `out` with the downscaled content of `pixels` (model-size RGB24) following `plan`.
 * `out.rgb` is grown when too small and otherwise reused.
 *
 * @param pixels the frame's letterboxed RGB bytes
 * @param plan from {@linkcode planDownscale} for the frame's geometry
 * @param out the snapshot to fill
 */
export function downscaleInto(pixels: Uint8Array, plan: DownscalePlan, out: Snapshot): void {
  const bytes = plan.width * plan.height * 3;
  if (out.rgb.length < bytes) out.rgb = new Uint8Array(bytes);
  out.width = plan.width;
  out.height = plan.height;
  const rgb = out.rgb;
  const { columns, rows } = plan;
  const width = plan.width;
  let o = 0;
  for (let j = 0; j < plan.height; j++) {
    const row = rows[j]!;
    for (let i = 0; i < width; i++) {
      const p = row + columns[i]!;
      rgb[o++] = pixels[p]!;
      rgb[o++] = pixels[p + 1]!;
      rgb[o++] = pixels[p + 2]!;
    }
  }
}

/**
 * The factors that map a pose in source pixels onto a picture: `x * scaleX`, `y * scaleY`.
 * The picture covers the whole source image (the letterbox is cut away), so the factors are
 * the picture size over the source size.
 *
 * @param letterbox the frame's letterbox (its source size)
 * @param picture the picture size
 * @returns the factors
 */
export function sourceToPicture(
  letterbox: Pick<Letterbox, "sourceWidth" | "sourceHeight">,
  picture: PictureSize,
): { scaleX: number; scaleY: number } {
  return {
    scaleX: picture.width / letterbox.sourceWidth,
    scaleY: picture.height / letterbox.sourceHeight,
  };
}
