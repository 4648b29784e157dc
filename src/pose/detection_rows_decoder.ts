// Decodes Ultralytics' end2end (YOLO26) and nms=True outputs [N, rows, 6+K*D]: final detections, one per row.

import type { Letterbox } from "../sources/frame.ts";
import type { Person, PoseDecoder, PoseDecoderOptions, RawOutput } from "./decoder.ts";
import type { ModelLayout } from "./model_layout.ts";
import {
  checkLength,
  makePerson,
  type ResolvedDecoderOptions,
  resolveDecoderOptions,
} from "./_decode_common.ts";

/**
 * The end-to-end branch of Ultralytics' `non_max_suppression`: each row is x1, y1, x2, y2,
 * score, class, keypoints; rows scoring above the threshold are kept in their order (the model
 * sorted them), at most `maxDetections`, with no NMS (the model ran it, or needs none). Rows
 * past the detections are zero and fall under any threshold.
 */
export class DetectionRowsDecoder implements PoseDecoder {
  readonly layout: ModelLayout;
  readonly options: Readonly<ResolvedDecoderOptions>;

  constructor(layout: ModelLayout, options: PoseDecoderOptions = {}) {
    if (layout.family !== "yolo-rows") {
      throw new TypeError(`Cannot decode ${layout.name} with the detection-rows decoder`);
    }
    this.layout = layout;
    this.options = resolveDecoderOptions(options);
  }

  decode(outputs: readonly RawOutput[], frame: number, lb: Letterbox): Person[] {
    const { data, dims } = outputs[0]!;
    const rows = dims[1]!;
    const values = this.layout.values;
    const base = frame * rows * values;
    checkLength(data, frame, rows * values);
    const { scoreThreshold, maxDetections } = this.options;
    const persons: Person[] = [];
    for (let r = 0; r < rows && persons.length < maxDetections; r++) {
      const at = base + r * values;
      const score = data[at + 4]!;
      if (!(score > scoreThreshold)) continue;
      const box = [data[at]!, data[at + 1]!, data[at + 2]!, data[at + 3]!] as const;
      const cls = Math.round(data[at + 5]!);
      persons.push(makePerson(this.layout, box, score, cls, data, at + 6, 1, lb));
    }
    return persons;
  }
}
