// Which pose layout a model's outputs are (the decoder family, keypoints, classes), from its shapes and metadata.

import type { ReadDim } from "./onnx_graph.ts";
import type { UltralyticsMetadata } from "./model_metadata.ts";

/** The decoder families: one decoder each (decoder.ts). */
export type LayoutFamily = "yolo-anchors" | "yolo-rows" | "mmpose-rows";

/** What the decoder needs to know of a model's output, and what the pipeline tells users. */
export interface ModelLayout {
  /**
   * `yolo-anchors`: Ultralytics' [N, 4+nc+K*D, anchors] (cx, cy, w, h, class scores, keypoints);
   * `yolo-rows`: Ultralytics' end2end or nms=True [N, rows, 6+K*D] (x1, y1, x2, y2, score,
   * class, keypoints); `mmpose-rows`: RTMO's `dets` [N, M, 5] and `keypoints` [N, M, K, D].
   */
  family: LayoutFamily;
  /** The layout in a few words, for logs and selfcheck. */
  name: string;
  /** Keypoints per person. */
  keypoints: number;
  /** Values per keypoint: 3 (x, y, visibility or score) or 2 (x, y). */
  keypointDims: 2 | 3;
  /** Class names by index; `["person"]` when the model does not say. */
  classNames: string[];
  /** Values per anchor (yolo-anchors) or per row (yolo-rows: 6+K*D, mmpose-rows: 5). */
  values: number;
  /** Whether the model already ran NMS (end2end, nms=True): the decoder then runs none. */
  nmsInModel: boolean;
  /** What the model's float input expects: channel order and value range. */
  input: { channels: "rgb" | "bgr"; range: "0..1" | "0..255" };
}

/** The layouts read, as refusals list them. */
export const LAYOUTS_READ = "reads Ultralytics YOLO-pose [N,4+classes+K*D,anchors] " +
  "(YOLOv8/YOLO11/YOLO26, K and D from kpt_shape; [N,56,anchors] without metadata), " +
  "Ultralytics end2end or nms=True [N,rows,6+K*D] ([N,300,57] without metadata), " +
  "and mmpose one-stage (RTMO) dets [N,M,5] + keypoints [N,M,K,3]; each with a float32 or " +
  "float16 input [N,3,H,W] (or uint8 [N,H,W,3])";

/** Thrown when a model's inputs or outputs match no known pose layout; names the shapes seen. */
export class UnknownModelLayoutError extends Error {
  readonly path: string;
  /** Shapes of the model's inputs and outputs, e.g. `input images [1,3,640,640]`. */
  readonly shapes: string[];

  constructor(path: string, problem: string, shapes: string[]) {
    super(`Unknown model layout in ${path}: ${problem}; saw ${shapes.join(", ")}; ${LAYOUTS_READ}`);
    this.name = "UnknownModelLayoutError";
    this.path = path;
    this.shapes = shapes;
  }
}

/** An output as the layout detection sees it. */
export interface OutputShape {
  name: string;
  dims: ReadDim[] | null;
}

/** The layout and the outputs its decoder reads, in order. */
export interface DetectedLayout {
  layout: ModelLayout;
  /** The graph outputs the decoder reads, in its order (one, or `dets` then `keypoints`). */
  outputNames: string[];
}

const num = (d: ReadDim | undefined): number | null => (typeof d === "number" ? d : null);

/**
 * Finds the layout of a model's outputs: Ultralytics' metadata decides where it is present
 * (`kpt_shape`, `names`, `end2end`, `args.nms`, as AutoBackend reads them), else the shapes.
 *
 * @param outputs the graph's outputs
 * @param metadata Ultralytics' metadata, or null
 * @returns the layout, or the problem to report
 */
export function detectLayout(
  outputs: readonly OutputShape[],
  metadata: UltralyticsMetadata | null,
): DetectedLayout | { problem: string } {
  if (metadata?.task && metadata.task !== "pose") {
    return {
      problem:
        `its metadata says task '${metadata.task}', not 'pose' (a ${metadata.task} model has no keypoints)`,
    };
  }
  // mmpose one-stage exports (RTMO through mmdeploy, as rtmlib runs them): dets and keypoints.
  const dets = outputs.find((o) => o.dims?.length === 3 && o.dims[2] === 5);
  const kpts = outputs.find((o) => o.dims?.length === 4 && (o.dims[3] === 3 || o.dims[3] === 2));
  if (dets && kpts && metadata === null) {
    const keypoints = num(kpts.dims![2]) ?? 17;
    const keypointDims = kpts.dims![3] as 2 | 3;
    return {
      layout: {
        family: "mmpose-rows",
        name: `mmpose one-stage (RTMO) ${dets.name} [N,M,5] + ${kpts.name} [N,M,${keypoints},` +
          `${keypointDims}]`,
        keypoints,
        keypointDims,
        classNames: ["person"],
        values: 5,
        nmsInModel: false,
        input: { channels: "bgr", range: "0..255" },
      },
      outputNames: [dets.name, kpts.name],
    };
  }
  const output = outputs.find((o) => o.dims === null || o.dims.length === 3);
  if (!output) return { problem: "no output of rank 3 ([N,values,anchors] or [N,rows,values])" };
  const dims = output.dims;
  const d1 = num(dims?.[1]);
  const d2 = num(dims?.[2]);
  const yolo = (family: "yolo-anchors" | "yolo-rows", k: number, d: 2 | 3, names: string[]) => {
    const values = family === "yolo-anchors" ? 4 + names.length + k * d : 6 + k * d;
    const kind = family === "yolo-anchors"
      ? `Ultralytics YOLO-pose [N,${values},anchors]`
      : `Ultralytics ${metadata?.nms ? "nms=True" : "end2end"} [N,rows,${values}]`;
    const layout: ModelLayout = {
      family,
      name: `${kind}, ${k} keypoints x ${d}, ${names.length} class${
        names.length === 1 ? "" : "es"
      }`,
      keypoints: k,
      keypointDims: d,
      classNames: names,
      values,
      nmsInModel: family === "yolo-rows",
      input: { channels: "rgb", range: "0..1" },
    };
    return { layout, outputNames: [output.name] };
  };
  const shape = `output ${output.name} [${(dims ?? []).map((d) => d ?? "?").join(",")}]`;
  if (metadata !== null && (metadata.kptShape !== null || metadata.names !== null)) {
    const names = metadata.names ?? ["person"];
    if (metadata.end2end) {
      const [k, d] = metadata.kptShape ?? [d2 !== null ? (d2 - 6) / 3 : 17, 3];
      if (!Number.isInteger(k) || k <= 0) {
        return { problem: `${shape} has no room for 6 values and keypoints of 3 per row` };
      }
      if (d2 !== null && d2 !== 6 + k * d) {
        return {
          problem: `${shape} does not have the ${6 + k * d} values per row (6 + ${k} x ${d}) ` +
            `that its metadata (end2end or nms, kpt_shape [${k}, ${d}]) means`,
        };
      }
      return yolo("yolo-rows", k, d, names);
    }
    const [k, d] = metadata.kptShape ??
      [d1 !== null ? (d1 - 4 - names.length) / 3 : 17, 3];
    if (!Number.isInteger(k) || k <= 0) {
      return { problem: `${shape} has no room for ${4 + names.length} values and keypoints` };
    }
    const expected = 4 + names.length + k * d;
    if (d1 !== null && d1 !== expected) {
      const reason = d2 === 6 + k * d
        ? " (it looks like an end2end or nms=True output, but the metadata says neither)"
        : "";
      return {
        problem: `${shape} does not have the ${expected} values per anchor (4 + ${names.length} ` +
          `class${names.length === 1 ? "" : "es"} + ${k} x ${d}) that its metadata means${reason}`,
      };
    }
    return yolo("yolo-anchors", k, d, names);
  }
  // No Ultralytics metadata: the COCO-17 person layouts only.
  if (d1 === 56 || (d1 === null && d2 !== 57)) return yolo("yolo-anchors", 17, 3, ["person"]);
  if (d2 === 57) return yolo("yolo-rows", 17, 3, ["person"]);
  return {
    problem: `${shape} is neither [N,56,anchors] nor [N,rows,57], and without Ultralytics' ` +
      `metadata (kpt_shape, names) no other keypoint or class count can be told`,
  };
}

/**
 * Checks the outputs of a run against the layout (their shapes are only known then for
 * dynamic models).
 *
 * @param layout the model's layout
 * @param dims the dimensions of each output the decoder reads, in order
 * @param shape the batch shape that ran
 * @returns the problem, or null when they fit
 */
export function checkOutputDims(
  layout: ModelLayout,
  dims: readonly (readonly number[])[],
  shape: number,
): string | null {
  const [first, second] = dims;
  const text = (d: readonly number[] | undefined) => `[${(d ?? []).join(",")}]`;
  if (!first || first.length !== 3 || first[0] !== shape) {
    return `its output came out as ${text(first)} for a batch of ${shape}`;
  }
  switch (layout.family) {
    case "yolo-anchors":
      return first[1] === layout.values
        ? null
        : `its output came out as ${text(first)}, not [${shape},${layout.values},anchors]`;
    case "yolo-rows":
      return first[2] === layout.values
        ? null
        : `its output came out as ${text(first)}, not [${shape},rows,${layout.values}]`;
    case "mmpose-rows": {
      const expected = [shape, first[1], layout.keypoints, layout.keypointDims];
      const ok = first[2] === 5 && second !== undefined && second.length === 4 &&
        second.every((v, i) => v === expected[i]);
      return ok ? null : `its outputs came out as ${text(first)} and ${text(second)}, not ` +
        `[${shape},M,5] and [${expected.map((v, i) => (i === 1 ? "M" : v)).join(",")}]`;
    }
  }
}
