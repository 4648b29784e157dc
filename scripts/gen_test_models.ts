// Writes the small ONNX models the tests use into tests/fixtures/ (run: deno task gen-models).
//
// Each model outputs fixed, known values whatever its input (besides one "probe" value that
// follows the input, to check the input stage), in one of the layouts Ultralytics and rtmlib
// models come in, with the metadata as Ultralytics writes it. KNOWN_DETECTIONS and the other
// tables say what they hold; tests/pose/ check the decoded persons against values worked out
// by hand.

import {
  type Dim,
  ElementType,
  encodeModel,
  float16Tensor,
  floatTensor,
  int64Tensor,
  node,
  type OnnxProto,
  tensorValueInfo,
} from "../src/pose/onnx_graph.ts";

/** Anchors in the known-output models (the dynamic model adds (H/32)*(W/32) empty ones). */
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
 * What the COCO known-output models hold; every other anchor scores 0. Keypoint k of anchor a
 * is at (cx - 20 + 2k, cy - 70 + 5k) with visibility 0.5.
 */
export const KNOWN_DETECTIONS: readonly KnownDetection[] = [
  { anchor: 3, cx: 320, cy: 320, w: 100, h: 200, score: 0.9 }, // kept
  { anchor: 7, cx: 330, cy: 320, w: 100, h: 200, score: 0.8 }, // IoU 0.82 with anchor 3: suppressed
  { anchor: 0, cx: 100, cy: 200, w: 50, h: 80, score: 0.6 }, // kept
  { anchor: 12, cx: 500, cy: 500, w: 40, h: 40, score: 0.2 }, // under the 0.25 threshold
  { anchor: 15, cx: 600, cy: 100, w: 100, h: 100, score: 0.3 }, // kept, clipped by the letterbox
];

/** Keypoint k of a detection centred at (cx, cy): the formula the COCO and hand fixtures use. */
export function knownKeypoint(cx: number, cy: number, k: number): [number, number, number] {
  return [cx - 20 + 2 * k, cy - 70 + 5 * k, 0.5];
}

/** The known output [1, 5+3K, KNOWN_ANCHORS] of one class with K keypoints x 3. */
export function knownOutput(keypoints = 17): Float32Array {
  const a = KNOWN_ANCHORS;
  const channels = 5 + 3 * keypoints;
  const out = new Float32Array(channels * a);
  for (const d of KNOWN_DETECTIONS) {
    out[d.anchor] = d.cx;
    out[a + d.anchor] = d.cy;
    out[2 * a + d.anchor] = d.w;
    out[3 * a + d.anchor] = d.h;
    out[4 * a + d.anchor] = d.score;
    for (let k = 0; k < keypoints; k++) {
      const [x, y, v] = knownKeypoint(d.cx, d.cy, k);
      out[(5 + 3 * k) * a + d.anchor] = x;
      out[(6 + 3 * k) * a + d.anchor] = y;
      out[(7 + 3 * k) * a + d.anchor] = v;
    }
  }
  return out;
}

/** One anchor of the two-class, 8 x 2 keypoint ("animal") model. */
export interface KnownAnimal {
  anchor: number;
  cx: number;
  cy: number;
  w: number;
  h: number;
  /** Scores of class 0 (cat) and class 1 (dog). */
  scores: [number, number];
}

/** Keypoints per animal, values per keypoint: kpt_shape [8, 2]. */
export const ANIMAL_KEYPOINTS = 8;

/**
 * What the animal model holds. Keypoint k of an anchor is at (cx - 10 + 3k, cy - 20 + 4k).
 * With Ultralytics' defaults (conf 0.25, iou 0.7, class-aware): anchor 2 (cat 0.9) kept; anchor
 * 5 (dog 0.8, IoU 0.82 with anchor 2) kept, being another class; anchor 9 (cat 0.7, IoU 0.90
 * with anchor 2) suppressed; anchor 12 (best class dog 0.26) kept; anchor 14 (0.24) under.
 */
export const KNOWN_ANIMALS: readonly KnownAnimal[] = [
  { anchor: 2, cx: 300, cy: 300, w: 100, h: 100, scores: [0.9, 0.1] },
  { anchor: 5, cx: 310, cy: 300, w: 100, h: 100, scores: [0.05, 0.8] },
  { anchor: 9, cx: 305, cy: 300, w: 100, h: 100, scores: [0.7, 0.2] },
  { anchor: 12, cx: 500, cy: 400, w: 60, h: 80, scores: [0.2, 0.26] },
  { anchor: 14, cx: 100, cy: 400, w: 60, h: 80, scores: [0.24, 0.24] },
];

/** Keypoint k of an animal centred at (cx, cy). */
export function animalKeypoint(cx: number, cy: number, k: number): [number, number] {
  return [cx - 10 + 3 * k, cy - 20 + 4 * k];
}

function animalOutput(): Float32Array {
  const a = KNOWN_ANCHORS;
  const channels = 4 + 2 + 2 * ANIMAL_KEYPOINTS;
  const out = new Float32Array(channels * a);
  for (const d of KNOWN_ANIMALS) {
    [d.cx, d.cy, d.w, d.h, ...d.scores].forEach((v, c) => (out[c * a + d.anchor] = v));
    for (let k = 0; k < ANIMAL_KEYPOINTS; k++) {
      const [x, y] = animalKeypoint(d.cx, d.cy, k);
      out[(6 + 2 * k) * a + d.anchor] = x;
      out[(7 + 2 * k) * a + d.anchor] = y;
    }
  }
  return out;
}

/** One row of the end2end / nms=True models: corners, score, class, in model pixels. */
export interface KnownRow {
  box: [number, number, number, number];
  score: number;
  cls: number;
}

/**
 * The rows of the end2end (YOLO26) models, in the model's order (its top-k sorts them). Row 1
 * overlaps row 0 (IoU 0.82): an end2end model's rows are final, so both are kept, as
 * Ultralytics keeps them. Rows past these are zero. Keypoint k of a row is
 * knownKeypoint(centre, k).
 */
export const KNOWN_END2END_ROWS: readonly KnownRow[] = [
  { box: [270, 220, 370, 420], score: 0.9, cls: 0 },
  { box: [280, 220, 380, 420], score: 0.8, cls: 0 },
  { box: [75, 160, 125, 240], score: 0.6, cls: 0 },
  { box: [550, 50, 650, 150], score: 0.3, cls: 0 },
  { box: [480, 480, 520, 520], score: 0.2, cls: 0 },
];

/** The rows of the nms=True models: what Ultralytics' NMSModel leaves (conf 0.25, iou 0.7). */
export const KNOWN_NMS_ROWS: readonly KnownRow[] = [
  { box: [270, 220, 370, 420], score: 0.9, cls: 0 },
  { box: [75, 160, 125, 240], score: 0.6, cls: 0 },
  { box: [550, 50, 650, 150], score: 0.3, cls: 0 },
];

/** Rows in the end2end and nms=True outputs (Ultralytics' max_det at export). */
export const KNOWN_ROWS = 300;

function rowsOutput(rows: readonly KnownRow[], keypoints: number): Float32Array {
  const values = 6 + 3 * keypoints;
  const out = new Float32Array(KNOWN_ROWS * values);
  rows.forEach((r, i) => {
    const at = i * values;
    out.set([...r.box, r.score, r.cls], at);
    const cx = (r.box[0] + r.box[2]) / 2;
    const cy = (r.box[1] + r.box[3]) / 2;
    for (let k = 0; k < keypoints; k++) out.set(knownKeypoint(cx, cy, k), at + 6 + 3 * k);
  });
  return out;
}

/** Dets rows of the RTMO model: corners and score in model pixels; `probe` scores mean(B)/255. */
export interface KnownRtmoDet {
  box: [number, number, number, number];
  /** A fixed score, or "probe": the mean of the model's first input channel (B) divided by 255. */
  score: number | "probe";
}

/** Dets in the RTMO model (M = 20 rows, the rest zero); keypoint k of a det is rtmoKeypoint(). */
export const KNOWN_RTMO_DETS: readonly KnownRtmoDet[] = [
  { box: [270, 220, 370, 420], score: 0.95 }, // kept
  { box: [280, 220, 380, 420], score: 0.9 }, // IoU 0.82 with row 0: suppressed by NMS
  { box: [75, 160, 125, 240], score: "probe" }, // kept when its B channel is bright
  { box: [550, 50, 650, 150], score: 0.3 }, // kept, clipped
  { box: [480, 480, 520, 520], score: 0.2 }, // under the threshold
];

/** Dets rows in the RTMO model. */
export const RTMO_ROWS = 20;

/** Keypoint k of an RTMO det whose box starts at (x1, y1): x, y and score. */
export function rtmoKeypoint(x1: number, y1: number, k: number): [number, number, number] {
  return [x1 + 30 + 2 * k, y1 + 10 + 5 * k, 0.6];
}

/** Options of {@linkcode ultralyticsMetadata}: what differs between exports. */
export interface ExportMetadataOptions {
  kptShape?: [number, number];
  names?: string[];
  imgsz?: [number, number];
  batch?: number;
  dynamic?: boolean;
  half?: boolean;
  nms?: boolean;
  end2end?: boolean;
  task?: string;
  model?: string;
}

const py = (v: boolean) => (v ? "True" : "False");

/**
 * The `metadata_props` an Ultralytics ONNX export writes (exporter.py): every value `str()` of
 * a Python value, so lists, dicts and booleans are Python literals.
 */
export function ultralyticsMetadata(o: ExportMetadataOptions = {}): Record<string, string> {
  const names = o.names ?? ["person"];
  const [h, w] = o.imgsz ?? [640, 640];
  const batch = o.batch ?? 1;
  const meta: Record<string, string> = {
    description: `Ultralytics ${o.model ?? "YOLO11n-pose"} model trained on coco-pose.yaml`,
    author: "Ultralytics",
    date: "2026-11-20T10:12:31.093312",
    version: "8.3.240",
    license: "AGPL-3.0 License (https://ultralytics.com/license)",
    docs: "https://docs.ultralytics.com",
    stride: "32",
    task: o.task ?? "pose",
    batch: String(batch),
    imgsz: `[${h}, ${w}]`,
    names: `{${names.map((n, i) => `${i}: '${n}'`).join(", ")}}`,
    args: `{'batch': ${batch}, 'half': ${py(o.half ?? false)}, 'dynamic': ${
      py(o.dynamic ?? false)
    }, 'simplify': True, 'opset': None, 'nms': ${py(o.nms ?? false)}}`,
    channels: "3",
    end2end: py(o.end2end ?? false),
  };
  if ((o.task ?? "pose") === "pose") {
    const [k, d] = o.kptShape ?? [17, 3];
    meta.kpt_shape = `[${k}, ${d}]`;
  }
  return meta;
}

/** One output of a known-output model. */
export interface KnownOutputSpec {
  name: string;
  /** The values of one frame; broadcast over the batch. */
  values: Float32Array;
  /** Dimensions of one frame's values, without the batch. */
  dims: number[];
  /** The declared dimensions after the batch (names for dynamic ones). @default {dims} */
  declared?: Dim[];
  /** The last axis grows by (H/32)*(W/32) zero values, as anchors grow with the input size. */
  anchorsFromInput?: boolean;
  /** Value index (within one frame) replaced by the mean of input channel 0 times `probeScale`. */
  probeAt?: number;
}

/** Options of {@linkcode buildKnownOutputModel}. */
export interface KnownOutputModelOptions {
  inputName?: string;
  /** [batch, 3, height, width]; names for dynamic dimensions. */
  inputDims: [Dim, 3, Dim, Dim];
  /** float32 or float16 input and outputs. @default {"float32"} */
  precision?: "float32" | "float16";
  outputs: KnownOutputSpec[];
  /** Multiplier of the probe value. @default {1} */
  probeScale?: number;
  metadata?: Record<string, string>;
}

/**
 * A model whose outputs are known values broadcast over the batch, whatever the input (but for
 * the probe value): ReduceMean of the input times 0 plus the values, in the model's precision.
 */
export function buildKnownOutputModel(o: KnownOutputModelOptions): Uint8Array {
  const half = o.precision === "float16";
  const elem = half ? ElementType.FLOAT16 : ElementType.FLOAT;
  const tensor = half ? float16Tensor : floatTensor;
  const input = o.inputName ?? "images";
  const batch = o.inputDims[0];
  const nodes: OnnxProto.INodeProto[] = [
    node("ReduceMean", [input], ["mean"], { axes: [1, 2, 3], keepdims: 1 }),
    node("Mul", ["mean", "zero"], ["zero4"]),
  ];
  const initializers: OnnxProto.ITensorProto[] = [tensor("zero", [], [0])];
  const needsProbe = o.outputs.some((out) => out.probeAt !== undefined);
  if (needsProbe) {
    nodes.push(
      node("Slice", [input, "probe_start", "probe_end", "probe_axis"], ["channel0"]),
      node("ReduceMean", ["channel0"], ["probe_mean"], { axes: [1, 2, 3], keepdims: 1 }),
      node("Mul", ["probe_mean", "probe_scale"], ["probe4"]),
    );
    initializers.push(
      int64Tensor("probe_start", [1], [0]),
      int64Tensor("probe_end", [1], [1]),
      int64Tensor("probe_axis", [1], [1]),
      tensor("probe_scale", [], [o.probeScale ?? 1]),
    );
  }
  const outputs: OnnxProto.IValueInfoProto[] = [];
  o.outputs.forEach((out, i) => {
    const rank = out.dims.length + 1;
    const shape = `shape${rank}`;
    if (!initializers.some((t) => t.name === shape)) {
      initializers.push(int64Tensor(shape, [rank], [0, ...Array(rank - 1).fill(1)]));
    }
    nodes.push(node("Reshape", ["zero4", shape], [`zeros${i}`]));
    let values = out.values;
    if (out.probeAt !== undefined) {
      values = values.slice();
      values[out.probeAt] = 0;
      const mask = new Float32Array(values.length);
      mask[out.probeAt] = 1;
      initializers.push(tensor(`mask${i}`, [1, ...out.dims], mask));
      nodes.push(
        node("Reshape", ["probe4", shape], [`probe${i}`]),
        node("Mul", [`probe${i}`, `mask${i}`], [`probed${i}`]),
        node("Add", [`zeros${i}`, `probed${i}`], [`base${i}`]),
      );
    } else {
      nodes.push(node("Identity", [`zeros${i}`], [`base${i}`]));
    }
    initializers.push(tensor(`values${i}`, [1, ...out.dims], values));
    const known = out.anchorsFromInput ? `known${i}` : out.name;
    nodes.push(node("Add", [`base${i}`, `values${i}`], [known]));
    if (out.anchorsFromInput) {
      // (H/32)*(W/32) more anchors, all zero: [N, C, M] from the input pooled by 32.
      nodes.push(
        node("AveragePool", [input], [`pooled${i}`], { kernel_shape: [32, 32], strides: [32, 32] }),
        node("ReduceMean", [`pooled${i}`], [`cells${i}`], { axes: [1], keepdims: 1 }),
        node("Reshape", [`cells${i}`, "flat3"], [`flat${i}`]),
        node("Mul", [`flat${i}`, "zero"], [`empty${i}`]),
        node("Mul", [`empty${i}`, `ones${i}`], [`pad${i}`]),
        node("Concat", [known, `pad${i}`], [out.name], { axis: 2 }),
      );
      initializers.push(
        int64Tensor("flat3", [3], [0, 1, -1]),
        tensor(`ones${i}`, [1, out.dims[0]!, 1], new Float32Array(out.dims[0]!).fill(1)),
      );
    }
    outputs.push(tensorValueInfo(out.name, elem, [batch, ...(out.declared ?? out.dims)]));
  });
  return encodeModel({
    name: "known_output",
    nodes,
    inputs: [tensorValueInfo(input, elem, o.inputDims)],
    outputs,
    initializers,
    metadata: o.metadata,
  });
}

/** A model whose output `output0` is `values` ([1,channels,anchors]) broadcast over the batch. */
export function buildConstantOutputModel(options: {
  channels: number;
  anchors: number;
  values: Float32Array;
  batch: number | "dynamic";
  size: number;
  metadata?: Record<string, string>;
}): Uint8Array {
  const batch = options.batch === "dynamic" ? "batch" : options.batch;
  return buildKnownOutputModel({
    inputDims: [batch, 3, options.size, options.size],
    outputs: [{
      name: "output0",
      values: options.values,
      dims: [options.channels, options.anchors],
    }],
    metadata: options.metadata,
  });
}

const COCO = knownOutput();

/** The probe anchor of the default model: anchor 15's score is the mean of R (0..1). */
export const PROBE_ANCHOR = 15;

/** The models of each layout row of issue 21, by file name (also run by `deno task bench`). */
export function layoutModels(): Record<string, Uint8Array> {
  const a = KNOWN_ANCHORS;
  return {
    // YOLO11-pose as `yolo export format=onnx` writes it: fixed [1,3,640,640] -> [1,56,16].
    "yolo11_pose.onnx": buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      outputs: [{ name: "output0", values: COCO, dims: [56, a], probeAt: 4 * a + PROBE_ANCHOR }],
      metadata: ultralyticsMetadata(),
    }),
    // dynamic=True, imgsz=(480, 640): batch, height and width dynamic; anchors grow with them.
    "yolo11_pose_dynamic.onnx": buildKnownOutputModel({
      inputDims: ["batch", 3, "height", "width"],
      outputs: [{
        name: "output0",
        values: COCO,
        dims: [56, a],
        declared: [56, "anchors"],
        anchorsFromInput: true,
      }],
      metadata: ultralyticsMetadata({ imgsz: [480, 640], batch: 1, dynamic: true }),
    }),
    // half=True: float16 in and out.
    "yolo11_pose_half.onnx": buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      precision: "float16",
      outputs: [{ name: "output0", values: COCO, dims: [56, a] }],
      metadata: ultralyticsMetadata({ half: true }),
    }),
    // nms=True with dynamic=True: [batch,3,height,width] -> [batch,300,57].
    "yolo11_pose_nms.onnx": buildKnownOutputModel({
      inputDims: ["batch", 3, "height", "width"],
      outputs: [{
        name: "output0",
        values: rowsOutput(KNOWN_NMS_ROWS, 17),
        dims: [KNOWN_ROWS, 57],
      }],
      metadata: ultralyticsMetadata({ nms: true, dynamic: true }),
    }),
    // half=True and nms=True together.
    "yolo11_pose_half_nms.onnx": buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      precision: "float16",
      outputs: [{
        name: "output0",
        values: rowsOutput(KNOWN_NMS_ROWS, 17),
        dims: [KNOWN_ROWS, 57],
      }],
      metadata: ultralyticsMetadata({ nms: true, half: true }),
    }),
    // YOLO26-pose, end2end (NMS-free), as Ultralytics exports it by default.
    "yolo26_pose.onnx": buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      outputs: [{
        name: "output0",
        values: rowsOutput(KNOWN_END2END_ROWS, 17),
        dims: [KNOWN_ROWS, 57],
      }],
      metadata: ultralyticsMetadata({ end2end: true, model: "YOLO26n-pose" }),
    }),
    // A custom hand model, kpt_shape [21, 3], one class: [1, 4+1+63, anchors].
    "hand_pose.onnx": buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      outputs: [{ name: "output0", values: knownOutput(21), dims: [68, a] }],
      metadata: ultralyticsMetadata({ kptShape: [21, 3], names: ["hand"], model: "YOLO11n-pose" }),
    }),
    // The hand model exported end2end (YOLO26): [1, 300, 6+63].
    "hand_pose_end2end.onnx": buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      outputs: [{
        name: "output0",
        values: rowsOutput(KNOWN_END2END_ROWS, 21),
        dims: [KNOWN_ROWS, 69],
      }],
      metadata: ultralyticsMetadata({ kptShape: [21, 3], names: ["hand"], end2end: true }),
    }),
    // An animal model, kpt_shape [8, 2] (no visibility), two classes: [1, 4+2+16, anchors].
    "animal_pose.onnx": buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      outputs: [{ name: "output0", values: animalOutput(), dims: [22, a] }],
      metadata: ultralyticsMetadata({ kptShape: [ANIMAL_KEYPOINTS, 2], names: ["cat", "dog"] }),
    }),
    // RTMO through mmdeploy as rtmlib runs it: float [N,3,640,640] BGR 0..255, dets + keypoints.
    "rtmo.onnx": buildKnownOutputModel({
      inputName: "input",
      inputDims: ["batch", 3, 640, 640],
      outputs: rtmoOutputs(),
      probeScale: 1 / 255,
    }),
  };
}

function rtmoOutputs(): KnownOutputSpec[] {
  const dets = new Float32Array(RTMO_ROWS * 5);
  const kpts = new Float32Array(RTMO_ROWS * 17 * 3);
  let probeAt = 0;
  KNOWN_RTMO_DETS.forEach((d, r) => {
    dets.set([...d.box, d.score === "probe" ? 0 : d.score], r * 5);
    if (d.score === "probe") probeAt = r * 5 + 4;
    for (let k = 0; k < 17; k++) kpts.set(rtmoKeypoint(d.box[0], d.box[1], k), (r * 17 + k) * 3);
  });
  return [
    { name: "dets", values: dets, dims: [RTMO_ROWS, 5], probeAt },
    { name: "keypoints", values: kpts, dims: [RTMO_ROWS, 17, 3] },
  ];
}

/** Every fixture model by file name. */
export function fixtureModels(): Record<string, Uint8Array> {
  return {
    // Without metadata (other tools' exports): read by their shapes.
    "known_pose.onnx": buildConstantOutputModel({
      channels: 56,
      anchors: KNOWN_ANCHORS,
      values: COCO,
      batch: "dynamic",
      size: KNOWN_SIZE,
    }),
    "known_pose_batch1.onnx": buildConstantOutputModel({
      channels: 56,
      anchors: KNOWN_ANCHORS,
      values: COCO,
      batch: 1,
      size: KNOWN_SIZE,
    }),
    ...layoutModels(),
    "unknown_layout.onnx": buildConstantOutputModel({
      channels: 10,
      anchors: 100,
      values: new Float32Array(1000),
      batch: "dynamic",
      size: KNOWN_SIZE,
    }),
    // A detection model (task 'detect'): refused by its task.
    "yolo11_detect.onnx": buildConstantOutputModel({
      channels: 84,
      anchors: KNOWN_ANCHORS,
      values: new Float32Array(84 * KNOWN_ANCHORS),
      batch: 1,
      size: KNOWN_SIZE,
      metadata: ultralyticsMetadata({ task: "detect", model: "YOLO11n" }),
    }),
    "corrupt.onnx": new TextEncoder().encode(
      "this is not an ONNX model\n\u0000\u0001\u00ff garbage",
    ),
  };
}

if (import.meta.main) {
  const dir = new URL("../tests/fixtures/", import.meta.url);
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, bytes] of Object.entries(fixtureModels())) {
    await Deno.writeFile(new URL(name, dir), bytes);
    console.log(`wrote tests/fixtures/${name} (${bytes.length} bytes)`);
  }
}
