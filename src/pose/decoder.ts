// Turns a model's raw output into persons in source pixels: one decoder per layout family behind one interface.

import type { Letterbox } from "../sources/frame.ts";
import type { ModelLayout } from "./model_layout.ts";
import { AnchorGridDecoder } from "./anchor_grid_decoder.ts";
import { DetectionRowsDecoder } from "./detection_rows_decoder.ts";
import { MmposeRowsDecoder } from "./mmpose_rows_decoder.ts";

/** One detected person, in source pixels. */
export interface Person {
  /** Box corners [x1, y1, x2, y2] in source pixels. */
  box: [number, number, number, number];
  /** Person score, 0..1. */
  score: number;
  /**
   * The model's keypoints, `keypointDims` values each: x, y in source pixels, then (for 3) the
   * visibility or score, 0..1. 17 COCO keypoints for a COCO pose model.
   */
  keypoints: Float32Array;
  /** Values per keypoint: 3 (x, y, visibility) or 2 (x, y). @default {3} */
  keypointDims?: 2 | 3;
  /** Class index, for a model with several classes. */
  classId?: number;
  /** Class name from the model's metadata, for a model with several classes. */
  className?: string;
  /**
   * The person's track id in its stream (see `tracking/byte_tracker.ts`), set by the tracking
   * stage when tracking is on and the person is tracked; qualified by the run id.
   */
  trackId?: number;
}

/** Options of every decoder; the defaults are Ultralytics' predict defaults. */
export interface PoseDecoderOptions {
  /** Candidates scoring above this are kept (Ultralytics' `conf`). @default {0.25} */
  scoreThreshold?: number;
  /** A candidate overlapping a kept box of its class by more than this IoU is suppressed (`iou`). @default {0.7} */
  iouThreshold?: number;
  /** Persons kept per frame at most (`max_det`). @default {300} */
  maxDetections?: number;
  /** Candidates passed to NMS at most, the highest scores first (`max_nms`). @default {30000} */
  maxCandidates?: number;
  /** NMS across classes, as Ultralytics' `agnostic_nms`. @default {false} */
  agnostic?: boolean;
}

/** One output tensor of a run, as ONNX Runtime returned it (float32). */
export interface RawOutput {
  data: Float32Array;
  dims: readonly number[];
}

/**
 * A decoder of one layout family. It keeps its work buffers across frames; one per worker.
 */
export interface PoseDecoder {
  /**
   * Decodes frame `frame` of a batch.
   *
   * @param outputs the run's outputs the layout reads, in its order
   * @param frame index of the frame in the batch
   * @param letterbox how the frame's source maps into the model input
   * @returns the persons in source pixels, in Ultralytics' order (highest score first)
   * @throws {RangeError} when an output is too short for the frame
   */
  decode(outputs: readonly RawOutput[], frame: number, letterbox: Letterbox): Person[];
}

/**
 * The decoder for a model's layout: {@linkcode AnchorGridDecoder} for Ultralytics'
 * [N,4+nc+K*D,anchors] (threshold, class-aware NMS), {@linkcode DetectionRowsDecoder} for its
 * end2end and nms=True rows (threshold only), {@linkcode MmposeRowsDecoder} for RTMO's dets and
 * keypoints (threshold and NMS, as rtmlib).
 *
 * @param layout the model's layout
 * @param options thresholds and caps
 * @returns the decoder
 * @example
 * ```ts ignore
 * const decoder = createPoseDecoder(model.layout, { scoreThreshold: 0.25 });
 * const persons = decoder.decode(outputs, 0, frame.letterbox);
 * ```
 */
export function createPoseDecoder(
  layout: ModelLayout,
  options: PoseDecoderOptions = {},
): PoseDecoder {
  switch (layout.family) {
    case "yolo-anchors":
      return new AnchorGridDecoder(layout, options);
    case "yolo-rows":
      return new DetectionRowsDecoder(layout, options);
    case "mmpose-rows":
      return new MmposeRowsDecoder(layout, options);
  }
}
