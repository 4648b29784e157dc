// Decodes Ultralytics' YOLO-pose output [N, 4+nc+K*D, anchors] as its non_max_suppression does.

import type { Letterbox } from "../sources/frame.ts";
import type { Person, PoseDecoder, PoseDecoderOptions, RawOutput } from "./decoder.ts";
import type { ModelLayout } from "./model_layout.ts";
import {
  checkLength,
  KeptBoxes,
  makePerson,
  type ResolvedDecoderOptions,
  resolveDecoderOptions,
  ScoreRanking,
} from "./_decode_common.ts";

/**
 * Ultralytics' `non_max_suppression` on the one-to-many output: per anchor the best class score
 * (`amax`) must be above the threshold; the candidates, at most `maxCandidates` of the highest
 * scores, go through greedy NMS in descending score order, class-aware unless `agnostic`, which
 * keeps at most `maxDetections`. Boxes (cx, cy, w, h) become corners; the letterbox is undone
 * and coordinates clipped to the source image (scale_boxes, scale_coords).
 */
export class AnchorGridDecoder implements PoseDecoder {
  readonly layout: ModelLayout;
  readonly options: Readonly<ResolvedDecoderOptions>;
  #candidates = new Int32Array(0);
  #best = new Float32Array(0);
  #bestClass = new Int32Array(0);
  #kept: KeptBoxes;
  #ranking = new ScoreRanking();

  constructor(layout: ModelLayout, options: PoseDecoderOptions = {}) {
    if (layout.family !== "yolo-anchors") {
      throw new TypeError(`Cannot decode ${layout.name} with the anchor-grid decoder`);
    }
    this.layout = layout;
    this.options = resolveDecoderOptions(options);
    this.#kept = new KeptBoxes(this.options.maxDetections);
  }

  decode(outputs: readonly RawOutput[], frame: number, lb: Letterbox): Person[] {
    const { data, dims } = outputs[0]!;
    const channels = this.layout.values;
    const anchors = dims[2]!;
    const base = frame * channels * anchors;
    checkLength(data, frame, channels * anchors);
    const nc = this.layout.classNames.length;
    const o = this.options;
    if (this.#candidates.length < anchors) {
      this.#candidates = new Int32Array(anchors);
      this.#best = new Float32Array(anchors);
      this.#bestClass = new Int32Array(anchors);
    }
    // The best class score of each anchor, reading the class rows one after the other.
    let scores: Float32Array;
    const classes = this.#bestClass;
    if (nc === 1) {
      scores = data.subarray(base + 4 * anchors, base + 5 * anchors);
    } else {
      scores = this.#best;
      scores.set(data.subarray(base + 4 * anchors, base + 5 * anchors));
      classes.fill(0, 0, anchors);
      for (let c = 1; c < nc; c++) {
        const row = base + (4 + c) * anchors;
        for (let a = 0; a < anchors; a++) {
          const v = data[row + a]!;
          if (v > scores[a]!) {
            scores[a] = v;
            classes[a] = c;
          }
        }
      }
    }
    const candidates = this.#candidates;
    let count = 0;
    for (let a = 0; a < anchors; a++) if (scores[a]! > o.scoreThreshold) candidates[count++] = a;
    if (count === 0) return [];
    this.#ranking.rank(scores, candidates, count);
    const ranked = candidates;
    if (count > o.maxCandidates) count = o.maxCandidates;

    const kept = this.#kept;
    kept.reset();
    const persons: Person[] = [];
    const kptAt = base + (4 + nc) * anchors;
    for (let c = 0; c < count && persons.length < o.maxDetections; c++) {
      const a = ranked[c]!;
      const cx = data[base + a]!;
      const cy = data[base + anchors + a]!;
      const hw = data[base + 2 * anchors + a]! / 2;
      const hh = data[base + 3 * anchors + a]! / 2;
      const x1 = cx - hw, y1 = cy - hh, x2 = cx + hw, y2 = cy + hh;
      const cls = nc === 1 ? 0 : classes[a]!;
      if (kept.overlaps(x1, y1, x2, y2, cls, o.iouThreshold, o.agnostic)) continue;
      kept.add(x1, y1, x2, y2, cls);
      persons.push(
        makePerson(this.layout, [x1, y1, x2, y2], scores[a]!, cls, data, kptAt + a, anchors, lb),
      );
    }
    return persons;
  }
}
