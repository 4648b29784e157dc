// The built-in demo model: a small deterministic YOLO-pose-shaped network built in memory.
//
// It scores each 32x32 cell of the image by its brightness (the synthetic sources draw bright
// figures on a dark ground) and places a fixed stick figure on each bright cell. Its poses mean
// nothing; it exists so the whole pipeline runs with no model file.

import {
  ElementType,
  encodeModel,
  floatTensor,
  int64Tensor,
  node,
  tensorValueInfo,
} from "./onnx_graph.ts";
import { KEYPOINTS, POSE_CHANNELS } from "./model_prep.ts";

/** Strides of the YOLOv8 detection levels, in output order. */
export const DEMO_STRIDES = [8, 16, 32] as const;

/** Box of a demo detection in input pixels (width, height). */
export const DEMO_BOX = { width: 112, height: 200 } as const;

/** Keypoint offsets of the stick figure, as fractions of the box (COCO order). */
const FIGURE: readonly (readonly [number, number])[] = [
  [0, -0.4], // nose
  [-0.04, -0.43], // left eye
  [0.04, -0.43], // right eye
  [-0.09, -0.41], // left ear
  [0.09, -0.41], // right ear
  [-0.22, -0.27], // left shoulder
  [0.22, -0.27], // right shoulder
  [-0.3, -0.07], // left elbow
  [0.3, -0.07], // right elbow
  [-0.32, 0.1], // left wrist
  [0.32, 0.1], // right wrist
  [-0.14, 0.06], // left hip
  [0.14, 0.06], // right hip
  [-0.15, 0.26], // left knee
  [0.15, 0.26], // right knee
  [-0.16, 0.46], // left ankle
  [0.16, 0.46], // right ankle
];

/** Options of {@linkcode buildDemoModel}. */
export interface DemoModelOptions {
  /** Batch dimension: a fixed number, or "dynamic". @default {"dynamic"} */
  batch?: number | "dynamic";
  /** Square input size in pixels, a multiple of 32. @default {640} */
  size?: number;
}

/** Anchor centres of all levels, in output order. */
export function anchorCentres(size: number): { x: Float32Array; y: Float32Array } {
  const count = DEMO_STRIDES.reduce((n, s) => n + (size / s) ** 2, 0);
  const x = new Float32Array(count);
  const y = new Float32Array(count);
  let i = 0;
  for (const stride of DEMO_STRIDES) {
    const cells = size / stride;
    for (let row = 0; row < cells; row++) {
      for (let col = 0; col < cells; col++, i++) {
        x[i] = (col + 0.5) * stride;
        y[i] = (row + 0.5) * stride;
      }
    }
  }
  return { x, y };
}

/**
 * Builds the demo model: input `images` float [N,3,size,size], output `output0`
 * [N,56,anchors] in the YOLOv8-pose layout (boxes as centre/size in input pixels,
 * sigmoid scores, keypoints with sigmoid visibility). Deterministic: the same bytes each time.
 */
export function buildDemoModel(options: DemoModelOptions = {}): Uint8Array {
  const size = options.size ?? 640;
  if (size % 32 !== 0) {
    throw new Error(`Cannot build the demo model: size ${size} is not a multiple of 32`);
  }
  const batch = options.batch === undefined || options.batch === "dynamic"
    ? "batch"
    : options.batch;
  const { x, y } = anchorCentres(size);
  const anchors = x.length;
  // Score: only the stride-32 level is live: sigmoid(16 * (brightness - 0.6)), so the gray
  // letterbox padding (114) stays below the default threshold and bright figures score high.
  const scale = new Float32Array(anchors);
  const bias = new Float32Array(anchors).fill(-12);
  const live = anchors - (size / 32) ** 2;
  for (let a = live; a < anchors; a++) {
    scale[a] = 16;
    bias[a] = -9.6;
  }
  const boxes = new Float32Array(4 * anchors);
  const keypoints = new Float32Array(3 * KEYPOINTS * anchors);
  for (let a = 0; a < anchors; a++) {
    boxes[a] = x[a]!;
    boxes[anchors + a] = y[a]!;
    boxes[2 * anchors + a] = DEMO_BOX.width;
    boxes[3 * anchors + a] = DEMO_BOX.height;
    FIGURE.forEach(([fx, fy], k) => {
      keypoints[(3 * k) * anchors + a] = x[a]! + fx * DEMO_BOX.width;
      keypoints[(3 * k + 1) * anchors + a] = y[a]! + fy * DEMO_BOX.height;
      keypoints[(3 * k + 2) * anchors + a] = 0.9;
    });
  }
  const pools = DEMO_STRIDES.map((s) => [
    node("AveragePool", ["gray"], [`pool${s}`], { kernel_shape: [s, s], strides: [s, s] }),
    node("Reshape", [s === 32 ? "peak_brightness" : `pool${s}`, "flat_shape"], [`flat${s}`]),
  ]).flat();
  // On the live level, keep only local peaks of the blurred brightness (a CenterNet-style
  // peak filter), so one figure gives one detection. A tiny ramp breaks ties on plateaus.
  const grid = size / 32;
  const ramp = Float32Array.from({ length: grid * grid }, (_, i) => 1e-4 * i / (grid * grid));
  const peakFilter = [
    node("AveragePool", ["pool32"], ["blur32"], {
      kernel_shape: [3, 3],
      strides: [1, 1],
      pads: [1, 1, 1, 1],
      count_include_pad: 0,
    }),
    node("Add", ["blur32", "tie_ramp"], ["ramped32"]),
    node("MaxPool", ["ramped32"], ["max32"], {
      kernel_shape: [5, 5],
      strides: [1, 1],
      pads: [2, 2, 2, 2],
    }),
    node("Equal", ["ramped32", "max32"], ["is_peak"]),
    node("Cast", ["is_peak"], ["peak"], { to: ElementType.FLOAT }),
    node("Sub", ["one", "peak"], ["not_peak"]),
    node("Mul", ["not_peak", "three"], ["penalty"]),
    node("Sub", ["ramped32", "penalty"], ["peak_brightness"]),
  ];
  const nodes = [
    node("ReduceMean", ["images"], ["gray"], { axes: [1], keepdims: 1 }),
    ...peakFilter,
    ...pools,
    node("Concat", DEMO_STRIDES.map((s) => `flat${s}`), ["brightness"], { axis: 2 }),
    node("Mul", ["brightness", "score_scale"], ["scaled"]),
    node("Add", ["scaled", "score_bias"], ["logit"]),
    node("Sigmoid", ["logit"], ["score"]),
    node("Mul", ["score", "zero"], ["zeros"]),
    node("Add", ["zeros", "box_const"], ["boxes"]),
    node("Add", ["zeros", "kpt_const"], ["keypoints"]),
    node("Concat", ["boxes", "score", "keypoints"], ["output0"], { axis: 1 }),
  ];
  return encodeModel({
    name: "pose_exporter_demo",
    nodes,
    inputs: [tensorValueInfo("images", ElementType.FLOAT, [batch, 3, size, size])],
    outputs: [tensorValueInfo("output0", ElementType.FLOAT, [batch, POSE_CHANNELS, anchors])],
    initializers: [
      int64Tensor("flat_shape", [3], [0, 1, -1]),
      floatTensor("score_scale", [1, 1, anchors], scale),
      floatTensor("score_bias", [1, 1, anchors], bias),
      floatTensor("zero", [], [0]),
      floatTensor("one", [], [1]),
      floatTensor("three", [], [3]),
      floatTensor("tie_ramp", [1, 1, grid, grid], ramp),
      floatTensor("box_const", [1, 4, anchors], boxes),
      floatTensor("kpt_const", [1, 3 * KEYPOINTS, anchors], keypoints),
    ],
  });
}
