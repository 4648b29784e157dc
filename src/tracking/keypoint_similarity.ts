// Object keypoint similarity (OKS, COCO's keypoint metric) between two poses of one layout.

/** COCO's per-keypoint standard deviations for the 17 person keypoints, in COCO order. */
export const COCO_KEYPOINT_SIGMAS: readonly number[] = [
  0.026, // nose
  0.025, // left eye
  0.025, // right eye
  0.035, // left ear
  0.035, // right ear
  0.079, // left shoulder
  0.079, // right shoulder
  0.072, // left elbow
  0.072, // right elbow
  0.062, // left wrist
  0.062, // right wrist
  0.107, // left hip
  0.107, // right hip
  0.087, // left knee
  0.087, // right knee
  0.089, // left ankle
  0.089, // right ankle
];

/**
 * Box area to object scale s² (COCO's segment area), as Ultralytics' `kpt_iou` approximates
 * it from a box.
 */
export const BOX_AREA_TO_SEGMENT_AREA = 0.53;

/** Options of {@linkcode KeypointSimilarity}. */
export interface KeypointSimilarityOptions {
  /** Numbers per keypoint: 3 for x, y, confidence; 2 for x, y (all counted). @default {3} */
  dims?: 2 | 3;
  /** One sigma per keypoint, which sets the keypoint count. @default {COCO_KEYPOINT_SIGMAS} */
  sigmas?: readonly number[];
  /** A keypoint counts only when its confidence is at least this in both poses. @default {0.5} */
  minConfidence?: number;
}

/**
 * Computes OKS as COCO defines it: the mean over keypoints seen in both poses of
 * exp(-d² / (2 s² k²)), with d the distance, s² the object's area and k = 2σ per keypoint.
 *
 * @example
 * ```ts
 * const oks = new KeypointSimilarity();
 * const a = new Float32Array(17 * 3).fill(1);
 * oks.similarity(a, a, 100 * 200); // 1
 * ```
 */
export class KeypointSimilarity {
  readonly dims: 2 | 3;
  readonly count: number;
  readonly minConfidence: number;
  /** 1 / (2 k²) per keypoint, k = 2σ. */
  #inverse: Float64Array;

  /**
   * @param options Layout, sigmas and the confidence rule.
   * @throws {RangeError} When a sigma is not positive or `dims` is not 2 or 3.
   */
  constructor(options: KeypointSimilarityOptions = {}) {
    this.dims = options.dims ?? 3;
    if (this.dims !== 2 && this.dims !== 3) {
      throw new RangeError(`Cannot score keypoints: dims is not 2 or 3: ${this.dims}`);
    }
    const sigmas = options.sigmas ?? COCO_KEYPOINT_SIGMAS;
    this.count = sigmas.length;
    this.minConfidence = options.minConfidence ?? 0.5;
    this.#inverse = new Float64Array(sigmas.length);
    sigmas.forEach((sigma, i) => {
      if (!(sigma > 0)) throw new RangeError(`Cannot score keypoints: sigma ${i} is ${sigma}`);
      this.#inverse[i] = 1 / (2 * (2 * sigma) ** 2);
    });
  }

  /**
   * OKS of two poses. Positional arguments, not an options object: it runs for each
   * track-detection pair of each frame and must not allocate.
   *
   * @param a First pose, `count * dims` numbers.
   * @param b Second pose, same layout.
   * @param area Object area s² in squared pixels (for a box: `BOX_AREA_TO_SEGMENT_AREA` x w x h).
   * @returns OKS in 0..1, or `NaN` when no keypoint is seen in both poses or a pose is shorter
   * than the layout.
   */
  similarity(a: ArrayLike<number>, b: ArrayLike<number>, area: number): number {
    const dims = this.dims;
    const count = this.count;
    if (a.length < count * dims || b.length < count * dims || !(area > 0)) return NaN;
    const inverse = this.#inverse;
    const minConfidence = this.minConfidence;
    let sum = 0;
    let seen = 0;
    for (let k = 0, o = 0; k < count; k++, o += dims) {
      if (dims === 3 && (a[o + 2]! < minConfidence || b[o + 2]! < minConfidence)) continue;
      const dx = a[o]! - b[o]!;
      const dy = a[o + 1]! - b[o + 1]!;
      sum += Math.exp(-(dx * dx + dy * dy) * inverse[k]! / area);
      seen++;
    }
    return seen > 0 ? sum / seen : NaN;
  }
}
