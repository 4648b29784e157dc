// Writes the small ONNX models the tests use into tests/fixtures/ (run: deno task gen-models).
//
// known_pose*.onnx output a fixed [N,56,16] tensor whatever the input, so the decoder's
// results can be checked exactly; see KNOWN_DETECTIONS for what they hold.

import {
  ElementType,
  encodeModel,
  floatTensor,
  int64Tensor,
  node,
  tensorValueInfo,
} from "../src/pose/onnx_graph.ts";

/** Anchors in the known-output models. */
export const KNOWN_ANCHORS = 16;

/** Model input size of the known-output models. */
export const KNOWN_SIZE = 640;

/** One anchor of the known output: box centre/size and score in model pixels. */
export interface KnownDetection {
  anchor: number;
  cx: number;
  cy: number;
  w: number;
  h: number;
  score: number;
}

/**
 * What the known-output models hold; every other anchor scores 0. Keypoint k of anchor a
 * is at (cx - 20 + 2k, cy - 70 + 5k) with visibility 0.5.
 */
export const KNOWN_DETECTIONS: readonly KnownDetection[] = [
  { anchor: 3, cx: 320, cy: 320, w: 100, h: 200, score: 0.9 }, // kept
  { anchor: 7, cx: 330, cy: 320, w: 100, h: 200, score: 0.8 }, // IoU 0.82 with anchor 3: suppressed
  { anchor: 0, cx: 100, cy: 200, w: 50, h: 80, score: 0.6 }, // kept
  { anchor: 12, cx: 500, cy: 500, w: 40, h: 40, score: 0.2 }, // under the 0.25 threshold
  { anchor: 15, cx: 600, cy: 100, w: 100, h: 100, score: 0.3 }, // kept, clipped by the letterbox
];

/** The known output tensor [1,56,KNOWN_ANCHORS]. */
export function knownOutput(): Float32Array {
  const a = KNOWN_ANCHORS;
  const out = new Float32Array(56 * a);
  for (const d of KNOWN_DETECTIONS) {
    out[d.anchor] = d.cx;
    out[a + d.anchor] = d.cy;
    out[2 * a + d.anchor] = d.w;
    out[3 * a + d.anchor] = d.h;
    out[4 * a + d.anchor] = d.score;
    for (let k = 0; k < 17; k++) {
      out[(5 + 3 * k) * a + d.anchor] = d.cx - 20 + 2 * k;
      out[(6 + 3 * k) * a + d.anchor] = d.cy - 70 + 5 * k;
      out[(7 + 3 * k) * a + d.anchor] = 0.5;
    }
  }
  return out;
}

/** A model whose output `output0` is `values` ([1,channels,anchors]) broadcast over the batch. */
export function buildConstantOutputModel(options: {
  channels: number;
  anchors: number;
  values: Float32Array;
  batch: number | "dynamic";
  size: number;
}): Uint8Array {
  const batch = options.batch === "dynamic" ? "batch" : options.batch;
  return encodeModel({
    name: "constant_output",
    nodes: [
      node("ReduceMean", ["images"], ["mean"], { axes: [1, 2, 3], keepdims: 1 }),
      node("Reshape", ["mean", "shape"], ["mean3"]),
      node("Mul", ["mean3", "zero"], ["zeros"]),
      node("Add", ["zeros", "values"], ["output0"]),
    ],
    inputs: [tensorValueInfo("images", ElementType.FLOAT, [batch, 3, options.size, options.size])],
    outputs: [
      tensorValueInfo("output0", ElementType.FLOAT, [batch, options.channels, options.anchors]),
    ],
    initializers: [
      int64Tensor("shape", [3], [0, 1, 1]),
      floatTensor("zero", [], [0]),
      floatTensor("values", [1, options.channels, options.anchors], options.values),
    ],
  });
}

/** Every fixture model by file name. */
export function fixtureModels(): Record<string, Uint8Array> {
  return {
    "known_pose.onnx": buildConstantOutputModel({
      channels: 56,
      anchors: KNOWN_ANCHORS,
      values: knownOutput(),
      batch: "dynamic",
      size: KNOWN_SIZE,
    }),
    "known_pose_batch1.onnx": buildConstantOutputModel({
      channels: 56,
      anchors: KNOWN_ANCHORS,
      values: knownOutput(),
      batch: 1,
      size: KNOWN_SIZE,
    }),
    "unknown_layout.onnx": buildConstantOutputModel({
      channels: 10,
      anchors: 100,
      values: new Float32Array(1000),
      batch: "dynamic",
      size: KNOWN_SIZE,
    }),
    "corrupt.onnx": new TextEncoder().encode(
      "this is not an ONNX model\n\u0000\u0001\u00ff garbage",
    ),
  };
}

if (import.meta.main) {
  const dir = new URL("../tests/fixtures", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(fixtureModels())) {
    await Deno.writeFile(new URL(name, dir), bytes);
    console.log(`wrote tests/fixtures/${name} (${bytes.length} bytes)`);
  }
}
