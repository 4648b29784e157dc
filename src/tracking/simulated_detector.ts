// A seeded stand-in for a pose model: known boxes and keypoints made noisy, missed, NMS-filtered.

import { boxIou } from "./_box_iou.ts";

/** A known person to detect; the synthetic scene's `personsAt()` returns these. */
export interface SimulatedPerson {
  id: number;
  /** Box corners `[x1, y1, x2, y2]`. */
  box: ArrayLike<number>;
  /** Keypoints as x, y, visibility triples. */
  keypoints: Float32Array;
}

/** A simulated detection: a tracker detection that remembers whom it saw. */
export interface SimulatedDetection {
  box: [number, number, number, number];
  score: number;
  keypoints: Float32Array;
  /** Id of the person detected. */
  truthId: number;
}

/** Options of {@linkcode SimulatedDetector}. */
export interface SimulatedDetectorOptions {
  /** Seed of the random sequence; the same seed gives the same detections. @default {1} */
  seed?: number;
  /** Standard deviation of each box edge, as a fraction of the box height. @default {0.02} */
  boxNoise?: number;
  /** Standard deviation of each keypoint coordinate, per box height. @default {0.01} */
  keypointNoise?: number;
  /** Mean detection score. @default {0.85} */
  score?: number;
  /** Scores are uniform within `score ± scoreJitter`, clamped to 0..1. @default {0.1} */
  scoreJitter?: number;
  /** Probability that a person is not detected in a frame. @default {0} */
  missRate?: number;
  /** Greedy NMS at this IoU, as the decoder does (0.45 there); null for none. @default {null} */
  nmsIou?: number | null;
}

/**
 * Detects known people as a noisy model would, deterministically from a seed: each box edge
 * and keypoint gets Gaussian noise, scores vary, some people are missed, and overlapping
 * detections can be suppressed by NMS.
 *
 * @example
 * ```ts
 * const detector = new SimulatedDetector({ seed: 7, boxNoise: 0.03 });
 * const [d] = detector.detect([{ id: 1, box: [0, 0, 50, 100], keypoints: new Float32Array(51) }]);
 * d?.truthId; // 1
 * ```
 */
export class SimulatedDetector {
  readonly boxNoise: number;
  readonly keypointNoise: number;
  readonly score: number;
  readonly scoreJitter: number;
  readonly missRate: number;
  readonly nmsIou: number | null;
  #state: number;
  #spare: number | null = null;

  /** @param options Noise, scores, misses, NMS and seed. */
  constructor(options: SimulatedDetectorOptions = {}) {
    this.#state = (options.seed ?? 1) >>> 0;
    this.boxNoise = options.boxNoise ?? 0.02;
    this.keypointNoise = options.keypointNoise ?? 0.01;
    this.score = options.score ?? 0.85;
    this.scoreJitter = options.scoreJitter ?? 0.1;
    this.missRate = options.missRate ?? 0;
    this.nmsIou = options.nmsIou ?? null;
  }

  /** Next uniform number in [0, 1) (mulberry32). */
  random(): number {
    let t = (this.#state = (this.#state + 0x6d2b79f5) >>> 0);
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** Next standard normal number (Box-Muller). */
  gaussian(): number {
    if (this.#spare !== null) {
      const s = this.#spare;
      this.#spare = null;
      return s;
    }
    const u = 1 - this.random();
    const v = this.random();
    const r = Math.sqrt(-2 * Math.log(u));
    this.#spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /**
   * Detects one frame's people.
   *
   * @param people The people in view.
   * @returns Their detections, by descending score when NMS is on, else in input order.
   */
  detect(people: readonly SimulatedPerson[]): SimulatedDetection[] {
    let out: SimulatedDetection[] = [];
    for (const p of people) {
      if (this.missRate > 0 && this.random() < this.missRate) continue;
      const b = p.box;
      const h = b[3]! - b[1]!;
      const e = this.boxNoise * h;
      const box: [number, number, number, number] = [
        b[0]! + e * this.gaussian(),
        b[1]! + e * this.gaussian(),
        b[2]! + e * this.gaussian(),
        b[3]! + e * this.gaussian(),
      ];
      if (box[2] <= box[0] || box[3] <= box[1]) continue;
      const k = this.keypointNoise * h;
      const keypoints = new Float32Array(p.keypoints.length);
      for (let i = 0; i < keypoints.length; i += 3) {
        keypoints[i] = p.keypoints[i]! + k * this.gaussian();
        keypoints[i + 1] = p.keypoints[i + 1]! + k * this.gaussian();
        keypoints[i + 2] = p.keypoints[i + 2]!;
      }
      const jitter = (2 * this.random() - 1) * this.scoreJitter;
      const score = Math.min(1, Math.max(0, this.score + jitter));
      out.push({ box, score, keypoints, truthId: p.id });
    }
    if (this.nmsIou !== null) {
      out.sort((a, b) => b.score - a.score);
      const kept: SimulatedDetection[] = [];
      for (const d of out) {
        if (kept.every((k) => boxIou(k.box, d.box) <= this.nmsIou!)) kept.push(d);
      }
      out = kept;
    }
    return out;
  }
}
