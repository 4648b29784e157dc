// Decodes mmpose one-stage exports (RTMO as rtmlib runs it): dets [N,M,5] and keypoints [N,M,K,D].

import type { Letterbox } from "../sources/frame.ts";
import type { Person, PoseDecoder, PoseDecoderOptions, RawOutput } from "./decoder.ts";
import type { ModelLayout } from "./model_layout.ts";
import {
  checkLength,
  KeptBoxes,
  makePerson,
  type ResolvedDecoderOptions,
  resolveDecoderOptions,
} from "./_decode_common.ts";

/**
 * rtmlib's RTMO post-processing: each det is x1, y1, x2, y2, score in input pixels, its
 * keypoints x, y, score; dets scoring above the threshold go through greedy NMS in descending
 * score order (rtmlib's `multiclass_nms` with one class), at most `maxDetections` kept. The
 * letterbox is undone from the frame's own padding and coordinates clipped to the image.
 */
export class MmposeRowsDecoder implements PoseDecoder {
  readonly layout: ModelLayout;
  readonly options: Readonly<ResolvedDecoderOptions>;
  #candidates = new Int32Array(0);
  #kept: KeptBoxes;

  constructor(layout: ModelLayout, options: PoseDecoderOptions = {}) {
    if (layout.family !== "mmpose-rows") {
      throw new TypeError(`Cannot decode ${layout.name} with the mmpose-rows decoder`);
    }
    this.layout = layout;
    this.options = resolveDecoderOptions(options);
    this.#kept = new KeptBoxes(this.options.maxDetections);
  }

  decode(outputs: readonly RawOutput[], frame: number, lb: Letterbox): Person[] {
    const dets = outputs[0]!;
    const kpts = outputs[1]!;
    const rows = dets.dims[1]!;
    const perRow = this.layout.keypoints * this.layout.keypointDims;
    const base = frame * rows * 5;
    checkLength(dets.data, frame, rows * 5);
    checkLength(kpts.data, frame, rows * perRow);
    const d = dets.data;
    const o = this.options;
    if (this.#candidates.length < rows) this.#candidates = new Int32Array(rows);
    const candidates = this.#candidates;
    let count = 0;
    for (let r = 0; r < rows; r++) {
      if (d[base + r * 5 + 4]! > o.scoreThreshold) candidates[count++] = r;
    }
    if (count === 0) return [];
    const ranked = candidates.subarray(0, count);
    ranked.sort((p, q) => d[base + q * 5 + 4]! - d[base + p * 5 + 4]! || p - q);
    if (count > o.maxCandidates) count = o.maxCandidates;
    const kept = this.#kept;
    kept.reset();
    const persons: Person[] = [];
    const kptBase = frame * rows * perRow;
    for (let c = 0; c < count && persons.length < o.maxDetections; c++) {
      const r = ranked[c]!;
      const at = base + r * 5;
      const box = [d[at]!, d[at + 1]!, d[at + 2]!, d[at + 3]!] as const;
      if (kept.overlaps(box[0], box[1], box[2], box[3], 0, o.iouThreshold, true)) continue;
      kept.add(box[0], box[1], box[2], box[3], 0);
      persons.push(
        makePerson(this.layout, box, d[at + 4]!, 0, kpts.data, kptBase + r * perRow, 1, lb),
      );
    }
    return persons;
  }
}
