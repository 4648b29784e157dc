// What the pose decoders share: greedy NMS bookkeeping and the letterbox undone, clipped to the image.

import type { Letterbox } from "../sources/frame.ts";
import type { Person, PoseDecoderOptions } from "./decoder.ts";
import type { ModelLayout } from "./model_layout.ts";

/** The decoder options with their defaults (Ultralytics' predict defaults). */
export interface ResolvedDecoderOptions {
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  maxCandidates: number;
  agnostic: boolean;
}

/** Ultralytics' predict defaults: conf 0.25, iou 0.7, max_det 300, max_nms 30000. */
export const DECODER_DEFAULTS: Readonly<ResolvedDecoderOptions> = {
  scoreThreshold: 0.25,
  iouThreshold: 0.7,
  maxDetections: 300,
  maxCandidates: 30000,
  agnostic: false,
};

/** Fills in the defaults and checks the ranges. */
export function resolveDecoderOptions(options: PoseDecoderOptions): ResolvedDecoderOptions {
  const d = DECODER_DEFAULTS;
  const o: ResolvedDecoderOptions = {
    scoreThreshold: options.scoreThreshold ?? d.scoreThreshold,
    iouThreshold: options.iouThreshold ?? d.iouThreshold,
    maxDetections: options.maxDetections ?? d.maxDetections,
    maxCandidates: options.maxCandidates ?? d.maxCandidates,
    agnostic: options.agnostic ?? d.agnostic,
  };
  const within = (v: number, lo: number, hi: number) => v >= lo && v <= hi;
  if (!within(o.scoreThreshold, 0, 1) || !within(o.iouThreshold, 0, 1)) {
    throw new RangeError(
      `Cannot decode with scoreThreshold ${o.scoreThreshold} and iouThreshold ${o.iouThreshold}: both must be within 0..1`,
    );
  }
  if (!Number.isInteger(o.maxDetections) || o.maxDetections < 1) {
    throw new RangeError(`Cannot decode with maxDetections ${o.maxDetections}: it must be >= 1`);
  }
  if (!Number.isInteger(o.maxCandidates) || o.maxCandidates < 1) {
    throw new RangeError(`Cannot decode with maxCandidates ${o.maxCandidates}: it must be >= 1`);
  }
  return o;
}

/**
 * The boxes greedy NMS has kept so far in a frame, with their classes. A candidate is
 * suppressed when its IoU with a kept box of the same class (any class when agnostic) is
 * above the threshold, as torchvision's `nms` on Ultralytics' class-offset boxes does.
 */
export class KeptBoxes {
  #x1: Float64Array;
  #y1: Float64Array;
  #x2: Float64Array;
  #y2: Float64Array;
  #area: Float64Array;
  #classes: Int32Array;
  count = 0;

  constructor(capacity: number) {
    this.#x1 = new Float64Array(capacity);
    this.#y1 = new Float64Array(capacity);
    this.#x2 = new Float64Array(capacity);
    this.#y2 = new Float64Array(capacity);
    this.#area = new Float64Array(capacity);
    this.#classes = new Int32Array(capacity);
  }

  /** Forgets the kept boxes (a new frame). */
  reset(): void {
    this.count = 0;
  }

  /** Whether box (x1, y1, x2, y2) of class `cls` overlaps a kept box by more than `iou`. */
  overlaps(
    x1: number,
    y1: number,
    x2: number,
    y2: number,
    cls: number,
    iou: number,
    agnostic: boolean,
  ): boolean {
    const kx1 = this.#x1, ky1 = this.#y1, kx2 = this.#x2, ky2 = this.#y2;
    const areas = this.#area, classes = this.#classes;
    const area = (x2 - x1) * (y2 - y1);
    const n = this.count;
    for (let k = 0; k < n; k++) {
      // Most kept boxes are far away: reject them on x, then y, before any product.
      const iw = (x2 < kx2[k]! ? x2 : kx2[k]!) - (x1 > kx1[k]! ? x1 : kx1[k]!);
      if (iw <= 0) continue;
      const ih = (y2 < ky2[k]! ? y2 : ky2[k]!) - (y1 > ky1[k]! ? y1 : ky1[k]!);
      if (ih <= 0) continue;
      if (!agnostic && classes[k] !== cls) continue;
      const inter = iw * ih;
      const union = areas[k]! + area - inter;
      if (union > 0 && inter / union > iou) return true;
    }
    return false;
  }

  /** Keeps a box. */
  add(x1: number, y1: number, x2: number, y2: number, cls: number): void {
    const k = this.count++;
    this.#x1[k] = x1;
    this.#y1[k] = y1;
    this.#x2[k] = x2;
    this.#y2[k] = y2;
    this.#area[k] = (x2 - x1) * (y2 - y1);
    this.#classes[k] = cls;
  }
}

const INDEX_SPAN = 2 ** 21;

/**
 * Sorts candidate indices by descending score (ties by ascending index) without a comparator:
 * a positive float32's bits order as its value does, so (~bits, index) packs into one float64
 * key that the typed array's native numeric sort orders. Its key buffer is reused.
 */
export class ScoreRanking {
  #keys = new Float64Array(0);

  /**
   * Sorts `candidates[0, count)` in place.
   *
   * @param scores the scores by index (all candidates' scores positive)
   * @param candidates the indices to sort, each below 2^21
   * @param count how many of them
   */
  rank(scores: Float32Array, candidates: Int32Array, count: number): void {
    if (scores.length > INDEX_SPAN) {
      candidates.subarray(0, count).sort((p, q) => scores[q]! - scores[p]! || p - q);
      return;
    }
    if (this.#keys.length < count) this.#keys = new Float64Array(count);
    const keys = this.#keys.subarray(0, count);
    const bits = new Uint32Array(scores.buffer, scores.byteOffset, scores.length);
    for (let c = 0; c < count; c++) {
      const i = candidates[c]!;
      keys[c] = (0xffffffff - bits[i]!) * INDEX_SPAN + i;
    }
    keys.sort();
    for (let c = 0; c < count; c++) candidates[c] = keys[c]! % INDEX_SPAN;
  }
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/** Model x to source x: padding off, scale undone, clipped to [0, width] (scale_boxes, clip_boxes). */
export function sourceX(x: number, lb: Letterbox): number {
  return clamp((x - lb.padX) / lb.scale, 0, lb.sourceWidth);
}

/** Model y to source y, clipped to [0, height]. */
export function sourceY(y: number, lb: Letterbox): number {
  return clamp((y - lb.padY) / lb.scale, 0, lb.sourceHeight);
}

/**
 * Builds a person in source pixels.
 *
 * @param layout the model's layout (keypoint count and values, class names)
 * @param box the box corners in model pixels
 * @param score the person's score
 * @param cls its class index
 * @param data the tensor holding its keypoints
 * @param at index of its first keypoint value in `data`
 * @param step distance in `data` between two consecutive keypoint values (1 for rows, anchors
 *   for Ultralytics' [N,C,anchors] layout)
 * @param lb the frame's letterbox
 */
export function makePerson(
  layout: ModelLayout,
  box: readonly [number, number, number, number],
  score: number,
  cls: number,
  data: Float32Array,
  at: number,
  step: number,
  lb: Letterbox,
): Person {
  const d = layout.keypointDims;
  const keypoints = new Float32Array(layout.keypoints * d);
  for (let k = 0, src = at; k < layout.keypoints; k++) {
    const o = k * d;
    keypoints[o] = sourceX(data[src]!, lb);
    keypoints[o + 1] = sourceY(data[src + step]!, lb);
    if (d === 3) keypoints[o + 2] = data[src + 2 * step]!;
    src += d * step;
  }
  const person: Person = {
    box: [sourceX(box[0], lb), sourceY(box[1], lb), sourceX(box[2], lb), sourceY(box[3], lb)],
    score,
    keypoints,
    keypointDims: d,
  };
  if (layout.classNames.length > 1) {
    person.classId = cls;
    person.className = layout.classNames[cls] ?? `class${cls}`;
  }
  return person;
}

/** Throws when `data` is too short to hold frame `frame` of `perFrame` values. */
export function checkLength(data: Float32Array, frame: number, perFrame: number): void {
  if (data.length < (frame + 1) * perFrame) {
    throw new RangeError(
      `Cannot decode frame ${frame}: output holds ${data.length} values, fewer than ${
        (frame + 1) * perFrame
      }`,
    );
  }
}
