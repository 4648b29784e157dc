// Decodes YOLOv8/YOLO11-pose output [N,56,A]: score threshold, capped NMS, letterbox undone.

import type { Letterbox } from "../sources/frame.ts";
import { KEYPOINTS, POSE_CHANNELS } from "./model_prep.ts";

/** One detected person, in source pixels. */
export interface Person {
  /** Box corners [x1, y1, x2, y2] in source pixels. */
  box: [number, number, number, number];
  /** Person score, 0..1. */
  score: number;
  /** 17 COCO keypoints as x, y, visibility triples, in source pixels. */
  keypoints: Float32Array;
}

/** Options of {@linkcode PoseDecoder}. */
export interface PoseDecoderOptions {
  /** Anchors with a score above this are candidates. @default {0.25} */
  scoreThreshold?: number;
  /** A candidate overlapping a kept box by more than this IoU is suppressed. @default {0.45} */
  iouThreshold?: number;
  /** Persons kept per frame at most. @default {100} */
  maxDetections?: number;
  /** Candidates passed to NMS at most (the highest scores), so a model that flags every anchor stays cheap. @default {1000} */
  maxCandidates?: number;
}

function iou(
  boxes: Float32Array,
  i: number,
  x1: number,
  y1: number,
  x2: number,
  y2: number,
): number {
  const ix1 = Math.max(boxes[i]!, x1);
  const iy1 = Math.max(boxes[i + 1]!, y1);
  const ix2 = Math.min(boxes[i + 2]!, x2);
  const iy2 = Math.min(boxes[i + 3]!, y2);
  const inter = Math.max(0, ix2 - ix1) * Math.max(0, iy2 - iy1);
  const areaA = (boxes[i + 2]! - boxes[i]!) * (boxes[i + 3]! - boxes[i + 1]!);
  const areaB = (x2 - x1) * (y2 - y1);
  const union = areaA + areaB - inter;
  return union > 0 ? inter / union : 0;
}

function clamp(v: number, lo: number, hi: number): number {
  return v < lo ? lo : v > hi ? hi : v;
}

/**
 * Decodes pose outputs, reusing its work buffers across frames. Greedy NMS in descending
 * score order, class-agnostic, as Ultralytics does for pose.
 */
export class PoseDecoder {
  readonly scoreThreshold: number;
  readonly iouThreshold: number;
  readonly maxDetections: number;
  readonly maxCandidates: number;
  #candidates = new Int32Array(0);
  #kept: Float32Array;

  constructor(options: PoseDecoderOptions = {}) {
    this.scoreThreshold = options.scoreThreshold ?? 0.25;
    this.iouThreshold = options.iouThreshold ?? 0.45;
    this.maxDetections = options.maxDetections ?? 100;
    this.maxCandidates = options.maxCandidates ?? 1000;
    this.#kept = new Float32Array(this.maxDetections * 4);
  }

  /**
   * Decodes frame `frame` of an output tensor laid out [N,56,anchors].
   *
   * @param output the output tensor's data
   * @param frame index of the frame in the batch
   * @param anchors the output's last dimension
   * @param letterbox how the frame's source maps into the model input
   * @returns the persons, highest score first, in source pixels
   */
  decode(output: Float32Array, frame: number, anchors: number, letterbox: Letterbox): Person[] {
    const base = frame * POSE_CHANNELS * anchors;
    if (output.length < base + POSE_CHANNELS * anchors) {
      throw new RangeError(
        `Cannot decode frame ${frame}: output holds ${output.length} values, fewer than ${
          (frame + 1) * POSE_CHANNELS * anchors
        }`,
      );
    }
    if (this.#candidates.length < anchors) this.#candidates = new Int32Array(anchors);
    const candidates = this.#candidates;
    const scoreAt = base + 4 * anchors;
    const threshold = this.scoreThreshold;
    let count = 0;
    for (let a = 0; a < anchors; a++) {
      if (output[scoreAt + a]! > threshold) candidates[count++] = a;
    }
    if (count === 0) return [];
    const ranked = candidates.subarray(0, count);
    ranked.sort((p, q) => output[scoreAt + q]! - output[scoreAt + p]! || p - q);
    if (count > this.maxCandidates) count = this.maxCandidates;

    const kept = this.#kept;
    const persons: Person[] = [];
    for (let c = 0; c < count && persons.length < this.maxDetections; c++) {
      const a = ranked[c]!;
      const cx = output[base + a]!;
      const cy = output[base + anchors + a]!;
      const w = output[base + 2 * anchors + a]!;
      const h = output[base + 3 * anchors + a]!;
      const x1 = cx - w / 2;
      const y1 = cy - h / 2;
      const x2 = cx + w / 2;
      const y2 = cy + h / 2;
      let suppressed = false;
      for (let k = 0; k < persons.length; k++) {
        if (iou(kept, k * 4, x1, y1, x2, y2) > this.iouThreshold) {
          suppressed = true;
          break;
        }
      }
      if (suppressed) continue;
      const k4 = persons.length * 4;
      kept[k4] = x1;
      kept[k4 + 1] = y1;
      kept[k4 + 2] = x2;
      kept[k4 + 3] = y2;
      persons.push(this.#toSource(output, base, anchors, a, letterbox, [x1, y1, x2, y2]));
    }
    return persons;
  }

  #toSource(
    output: Float32Array,
    base: number,
    anchors: number,
    a: number,
    lb: Letterbox,
    modelBox: [number, number, number, number],
  ): Person {
    const mapX = (x: number) => clamp((x - lb.padX) / lb.scale, 0, lb.sourceWidth);
    const mapY = (y: number) => clamp((y - lb.padY) / lb.scale, 0, lb.sourceHeight);
    const keypoints = new Float32Array(KEYPOINTS * 3);
    const kBase = base + 5 * anchors + a;
    for (let k = 0; k < KEYPOINTS; k++) {
      keypoints[3 * k] = mapX(output[kBase + 3 * k * anchors]!);
      keypoints[3 * k + 1] = mapY(output[kBase + (3 * k + 1) * anchors]!);
      keypoints[3 * k + 2] = output[kBase + (3 * k + 2) * anchors]!;
    }
    return {
      box: [mapX(modelBox[0]), mapY(modelBox[1]), mapX(modelBox[2]), mapY(modelBox[3])],
      score: output[base + 4 * anchors + a]!,
      keypoints,
    };
  }
}
