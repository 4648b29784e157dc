import { assert, assertAlmostEquals, assertEquals, assertRejects } from "../_assert.ts";
import { fixturePath } from "../_helpers.ts";
import { createPoseDecoder, type Person, type RawOutput } from "../../src/pose/decoder.ts";
import { detectLayout, type ModelLayout } from "../../src/pose/model_layout.ts";
import { readUltralyticsMetadata } from "../../src/pose/model_metadata.ts";
import { onnx } from "../../src/pose/onnx_graph.ts";
import { computeLetterbox, type Frame, type Letterbox } from "../../src/sources/frame.ts";
import { loadModelFile, prepareModel, UnknownModelLayoutError } from "../../src/pose/model_prep.ts";
import { createWorkerRunner } from "../../src/pose/worker_runner.ts";
import { batchShapes } from "../../src/pose/batch_shapes.ts";
import { buildKnownOutputModel, ultralyticsMetadata } from "../../scripts/gen_test_models.ts";

// A 1280x720 source into 640x640: scale 0.5, no side padding, 140 rows above and below.
const LETTERBOX = computeLetterbox({ width: 1280, height: 720 }, { width: 640, height: 640 });

Deno.test("computeLetterbox() centres the scaled image", () => {
  assertEquals(LETTERBOX, { scale: 0.5, padX: 0, padY: 140, sourceWidth: 1280, sourceHeight: 720 });
  assertEquals(computeLetterbox({ width: 480, height: 640 }, { width: 640, height: 640 }).padX, 80);
});

/** The layout that Ultralytics' metadata and an output shape give. */
function layoutOf(dims: number[], meta: Record<string, string>): ModelLayout {
  const metadata = readUltralyticsMetadata(onnx.ModelProto.create({
    metadataProps: Object.entries(meta).map(([key, value]) => ({ key, value })),
  }));
  const found = detectLayout([{ name: "output0", dims }], metadata);
  if ("problem" in found) throw new Error(found.problem);
  return found.layout;
}

/**
 * The reference: a two-class model (adult, child) with 2 keypoints x 3, so [1, 4+2+6, 8], and
 * per anchor cx, cy, w, h, score adult, score child; keypoint k at (cx - 10 + 20k, cy - 50 + 30k)
 * with visibility 0.5 + 0.1k.
 */
const REFERENCE_ANCHORS: [number, number, number, number, number, number][] = [
  [320, 320, 100, 200, 0.90, 0.05], // a0
  [330, 320, 100, 200, 0.10, 0.85], // a1
  [325, 330, 100, 200, 0.80, 0.30], // a2
  [100, 200, 50, 80, 0.25, 0.20], // a3
  [600, 100, 100, 100, 0.30, 0.26], // a4
  [200, 500, 80, 120, 0.40, 0.62], // a5
  [205, 505, 80, 120, 0.01, 0.61], // a6
  [330, 320, 100, 200, 0.69, 0.00], // a7
];

function referenceOutput(): RawOutput {
  const a = REFERENCE_ANCHORS.length;
  const data = new Float32Array(12 * a);
  REFERENCE_ANCHORS.forEach(([cx, cy, w, h, s0, s1], i) => {
    [cx, cy, w, h, s0, s1].forEach((v, c) => (data[c * a + i] = v));
    for (let k = 0; k < 2; k++) {
      data[(6 + 3 * k) * a + i] = cx - 10 + 20 * k;
      data[(7 + 3 * k) * a + i] = cy - 50 + 30 * k;
      data[(8 + 3 * k) * a + i] = 0.5 + 0.1 * k;
    }
  });
  return { data, dims: [1, 12, a] };
}

const REFERENCE_LAYOUT = layoutOf(
  [1, 12, 8],
  ultralyticsMetadata({ kptShape: [2, 3], names: ["adult", "child"] }),
);

/** A person as [class, score, box, keypoints] with plain numbers. */
function summary(p: Person): [string | undefined, number, number[], number[]] {
  return [p.className, p.score, p.box, Array.from(p.keypoints)];
}

const f = Math.fround;

Deno.test("decode() matches Ultralytics' non_max_suppression, scale_boxes and scale_coords, worked by hand", () => {
  // Worked as ultralytics/utils/nms.py non_max_suppression (conf 0.25, iou 0.7, max_det 300,
  // class-aware): each anchor's best class score (amax) must be > 0.25, so a3 (0.25) is out;
  // xywh -> xyxy; ranked by score: a0 .90 adult, a1 .85 child, a2 .80 adult, a7 .69 adult,
  // a5 .62 child, a6 .61 child, a4 .30 adult. a1 overlaps a0 by IoU 0.818 but is a child: kept.
  // a2 (IoU 0.822 with a0) and a7 (0.818) are suppressed, a6 by a5 (IoU 0.816).
  // Then ops.scale_boxes / scale_coords for 1280x720 in 640x640: gain 0.5, pad (0, 140):
  // x = (x - 0) / 0.5, y = (y - 140) / 0.5, clipped to [0, 1280] x [0, 720].
  const persons = createPoseDecoder(REFERENCE_LAYOUT).decode([referenceOutput()], 0, LETTERBOX);
  assertEquals(persons.map(summary), [
    ["adult", f(0.90), [540, 160, 740, 560], [620, 260, f(0.5), 660, 320, f(0.6)]],
    ["child", f(0.85), [560, 160, 760, 560], [640, 260, f(0.5), 680, 320, f(0.6)]],
    // a5: box [160, 440, 240, 560] -> [320, 600, 480, 840 clipped to 720].
    ["child", f(0.62), [320, 600, 480, 720], [380, 620, f(0.5), 420, 680, f(0.6)]],
    // a4: box [550, 50, 650, 150] -> [1100, -180 -> 0, 1300 -> 1280, 20]; keypoints' y clipped.
    ["adult", f(0.30), [1100, 0, 1280, 20], [1180, 0, f(0.5), 1220, 0, f(0.6)]],
  ]);
  assertEquals(persons.map((p) => p.classId), [0, 1, 1, 0]);
});

Deno.test("decode() applies agnostic NMS, the IoU and score thresholds and both caps as Ultralytics does", () => {
  const out = [referenceOutput()];
  const scores = (options: Parameters<typeof createPoseDecoder>[1]) =>
    createPoseDecoder(REFERENCE_LAYOUT, options).decode(out, 0, LETTERBOX).map((p) => p.score);
  // agnostic_nms: a0 suppresses a1 too.
  assertEquals(scores({ agnostic: true }), [0.9, 0.62, 0.3].map(f));
  // iou 0.9: nothing overlaps that much; every candidate but a3 is kept.
  assertEquals(scores({ iouThreshold: 0.9 }), [0.9, 0.85, 0.8, 0.69, 0.62, 0.61, 0.3].map(f));
  // conf 0.7: a0, a1 and a2 are candidates; a2 is suppressed.
  assertEquals(scores({ scoreThreshold: 0.7 }), [0.9, 0.85].map(f));
  // conf 0.24: a3 (adult 0.25) joins, last but one.
  assertEquals(scores({ scoreThreshold: 0.24 }), [0.9, 0.85, 0.62, 0.3, 0.25].map(f));
  // max_det 2, and max_nms 3 (the 3 best candidates a0, a1, a2 go into NMS).
  assertEquals(scores({ maxDetections: 2 }), [0.9, 0.85].map(f));
  assertEquals(scores({ maxCandidates: 3 }), [0.9, 0.85].map(f));
});

Deno.test("decode() stays capped when every anchor passes the threshold", () => {
  const anchors = 8400;
  const batch = 2;
  const data = new Float32Array(batch * 56 * anchors);
  for (let fr = 0; fr < batch; fr++) {
    const base = fr * 56 * anchors;
    for (let a = 0; a < anchors; a++) {
      // Small boxes on a grid that never overlap, so NMS suppresses nothing.
      data[base + a] = (a % 100) * 10 + 5;
      data[base + anchors + a] = Math.floor(a / 100) * 10 + 5;
      data[base + 2 * anchors + a] = 4;
      data[base + 3 * anchors + a] = 4;
      data[base + 4 * anchors + a] = 0.5 + (a % 97) / 1000;
    }
  }
  const out = [{ data, dims: [batch, 56, anchors] }];
  const layout = layoutOf([1, 56, anchors], ultralyticsMetadata());
  const lb = { scale: 1, padX: 0, padY: 0, sourceWidth: 1000, sourceHeight: 1000 };
  const decoder = createPoseDecoder(layout, { maxCandidates: 500, maxDetections: 300 });
  for (let fr = 0; fr < batch; fr++) {
    const persons = decoder.decode(out, fr, lb);
    assertEquals(persons.length, 300);
    for (let i = 1; i < persons.length; i++) assert(persons[i - 1]!.score >= persons[i]!.score);
    assertEquals(persons[0]!.score, f(0.5 + 96 / 1000));
  }
  const few = createPoseDecoder(layout, { maxCandidates: 10 }).decode(out, 0, lb);
  assertEquals(few.length, 10);
  // Ultralytics' max_det is 300.
  assertEquals(createPoseDecoder(layout).decode(out, 1, lb).length, 300);
});

Deno.test("decode() ranks by descending score, equal scores by anchor index, as Ultralytics' sort", () => {
  const scores = [0.3, 0.9, 0.3, 0.5, 1e-7, 0.9, 0.2500001];
  const a = scores.length;
  const data = new Float32Array(56 * a);
  scores.forEach((score, i) => {
    // Boxes far apart: NMS keeps them all.
    [50 + 80 * i, 300, 20, 20, score].forEach((v, c) => (data[c * a + i] = v));
  });
  const layout = layoutOf([1, 56, a], ultralyticsMetadata());
  const lb = { scale: 1, padX: 0, padY: 0, sourceWidth: 640, sourceHeight: 640 };
  const persons = createPoseDecoder(layout).decode([{ data, dims: [1, 56, a] }], 0, lb);
  // Anchors 1 and 5 (0.9), 3, 0 and 2 (0.3), 6; anchor 4 is under the threshold.
  assertEquals(persons.map((p) => (p.box[0] + 10 - 50) / 80), [1, 5, 3, 0, 2, 6]);
});

Deno.test("decode() refuses an output too short for the frame", () => {
  const layout = layoutOf([1, 56, 10], ultralyticsMetadata());
  let message = "";
  try {
    createPoseDecoder(layout).decode(
      [{ data: new Float32Array(56 * 10), dims: [1, 56, 10] }],
      1,
      LETTERBOX,
    );
  } catch (err) {
    message = (err as Error).message;
  }
  assertEquals(message, "Cannot decode frame 1: output holds 560 values, fewer than 1120");
});

// --- Every layout fixture through the exporter's own path: the inference worker, at its batch shapes.

/** Frames of one colour (R, G, B) at the model's size, letterboxed from 1280x720. */
function frames(count: number, width: number, height: number, rgb: [number, number, number]) {
  const letterbox = computeLetterbox({ width: 1280, height: 720 }, { width, height });
  const pixels = new Uint8Array(width * height * 3);
  for (let i = 0; i < pixels.length; i += 3) pixels.set(rgb, i);
  return Array.from({ length: count }, (_, seq): Frame => ({
    stream: seq,
    seq,
    capturedAt: 0,
    pixels,
    letterbox,
  }));
}

/** Model pixels to source pixels by hand: (v - pad) / scale, clipped to the image. */
function toSource(x: number, y: number, lb: Letterbox): [number, number] {
  const clip = (v: number, hi: number) => Math.min(hi, Math.max(0, v));
  return [
    clip((x - lb.padX) / lb.scale, lb.sourceWidth),
    clip((y - lb.padY) / lb.scale, lb.sourceHeight),
  ];
}

/** The fixtures' keypoints of a detection centred at (cx, cy): k at (cx - 20 + 2k, cy - 70 + 5k), 0.5. */
function fixtureKeypoints(cx: number, cy: number, count: number, lb: Letterbox): number[] {
  const out: number[] = [];
  for (let k = 0; k < count; k++) out.push(...toSource(cx - 20 + 2 * k, cy - 70 + 5 * k, lb), 0.5);
  return out;
}

/** Runs `frames` through the worker (the exporter's runner) and gives each frame's persons. */
async function decodeWith(
  name: string,
  batch: number,
  rgb: [number, number, number],
  options: { scoreThreshold?: number; inputSize?: { width: number; height: number } } = {},
): Promise<{ persons: Person[][]; shape: number; lb: Letterbox; shapes: readonly number[] }> {
  const model = await loadModelFile(fixturePath(name), { inputSize: options.inputSize });
  const runner = await createWorkerRunner(model, {
    provider: "cpu",
    shapes: batchShapes(4, model.fixedBatch),
    decoder: { scoreThreshold: options.scoreThreshold },
  });
  try {
    const batchFrames = frames(batch, model.width, model.height, rgb);
    const out = await runner.run(batchFrames);
    assertEquals(out.persons.length, batch);
    return {
      persons: out.persons,
      shape: out.shape,
      lb: batchFrames[0]!.letterbox,
      shapes: runner.shapes,
    };
  } finally {
    await runner.release();
  }
}

const GREY: [number, number, number] = [0, 0, 0];

Deno.test("yolo11_pose.onnx (default export, batch 1): the persons in source pixels; the input is RGB / 255", async () => {
  // Anchor 15's score is the mean of the red plane as the model sees it: 77 / 255 = 0.302.
  const { persons, shapes, lb } = await decodeWith("yolo11_pose.onnx", 1, [77, 10, 200]);
  assertEquals(shapes, [1]);
  const [p] = persons;
  assertEquals(p!.map((x) => x.box), [[540, 160, 740, 560], [150, 40, 250, 200], [
    1100,
    0,
    1280,
    20,
  ]]);
  assertEquals(p!.slice(0, 2).map((x) => x.score), [f(0.9), f(0.6)]);
  // (ReduceMean sums 409600 float32 values: its result is within 1e-3.)
  assertAlmostEquals(p![2]!.score, 77 / 255, 1e-3);
  assertEquals(Array.from(p![0]!.keypoints), fixtureKeypoints(320, 320, 17, lb).map(f));
  assertEquals(Array.from(p![1]!.keypoints), fixtureKeypoints(100, 200, 17, lb).map(f));
  assertEquals(Array.from(p![2]!.keypoints), fixtureKeypoints(600, 100, 17, lb).map(f));
  assertEquals(p![0]!.keypointDims, 3);
  assertEquals(p![0]!.className, undefined, "a one-class model names no class");
  // Red 50 (0.196 after / 255) is under the threshold; blue 200 would be over it were it read.
  const dim = await decodeWith("yolo11_pose.onnx", 1, [50, 10, 200]);
  assertEquals(dim.persons[0]!.map((x) => x.score), [f(0.9), f(0.6)]);
});

Deno.test("yolo11_pose_dynamic.onnx (dynamic=True): fed its metadata imgsz 480x640, batches of up to 4", async () => {
  const { persons, shape, shapes, lb } = await decodeWith("yolo11_pose_dynamic.onnx", 3, GREY);
  assertEquals([shapes, shape], [[1, 2, 4], 4]);
  // 1280x720 into 640x480: scale 0.5, pad (0, 60).
  assertEquals([lb.scale, lb.padX, lb.padY], [0.5, 0, 60]);
  for (const p of persons) {
    assertEquals(p.map((x) => x.box), [[540, 320, 740, 720], [150, 200, 250, 360], [
      1100,
      0,
      1280,
      180,
    ]]);
    assertEquals(p.map((x) => x.score), [0.9, 0.6, 0.3].map(f));
    assertEquals(Array.from(p[0]!.keypoints), fixtureKeypoints(320, 320, 17, lb).map(f));
  }
  // --input-size 320: scale 0.25, pad (0, 70).
  const small = await decodeWith("yolo11_pose_dynamic.onnx", 2, GREY, {
    inputSize: { width: 320, height: 320 },
  });
  assertEquals([small.lb.scale, small.lb.padY], [0.25, 70]);
  // The known boxes are model pixels: anchor 3 [270, 220, 370, 420] -> [1080, 600, 1480, 1400].
  assertEquals(small.persons[1]![0]!.box, [1080, 600, 1280, 720]);
});

Deno.test("yolo11_pose_half.onnx (half=True): float16 values, decoded in float32", async () => {
  const { persons } = await decodeWith("yolo11_pose_half.onnx", 1, GREY);
  assertEquals(persons[0]!.map((x) => [x.box, x.score]), [
    [[540, 160, 740, 560], Math.f16round(0.9)],
    [[150, 40, 250, 200], Math.f16round(0.6)],
    [[1100, 0, 1280, 20], Math.f16round(0.3)],
  ]);
});

Deno.test("yolo11_pose_nms.onnx (nms=True, dynamic): rows x1, y1, x2, y2, score, class; the zero rows are skipped", async () => {
  const { persons, lb, shape } = await decodeWith("yolo11_pose_nms.onnx", 2, GREY);
  assertEquals(shape, 2);
  for (const p of persons) {
    assertEquals(p.map((x) => [x.box, x.score]), [
      [[540, 160, 740, 560], f(0.9)],
      [[150, 40, 250, 200], f(0.6)],
      [[1100, 0, 1280, 20], f(0.3)],
    ]);
    assertEquals(Array.from(p[1]!.keypoints), fixtureKeypoints(100, 200, 17, lb).map(f));
  }
  // --score-threshold still applies on top of the exported conf.
  const strict = await decodeWith("yolo11_pose_nms.onnx", 1, GREY, { scoreThreshold: 0.5 });
  assertEquals(strict.persons[0]!.map((x) => x.score), [0.9, 0.6].map(f));
});

Deno.test("yolo11_pose_half_nms.onnx (half=True, nms=True): float16 rows", async () => {
  const { persons } = await decodeWith("yolo11_pose_half_nms.onnx", 1, GREY);
  assertEquals(persons[0]!.map((x) => x.score), [0.9, 0.6, 0.3].map(Math.f16round));
});

Deno.test("yolo26_pose.onnx (end2end): rows kept in the model's order, with no NMS, as Ultralytics keeps them", async () => {
  const { persons, lb } = await decodeWith("yolo26_pose.onnx", 1, GREY);
  const [p] = persons;
  // Row 1 overlaps row 0 (IoU 0.82): an end2end model's rows are final. Row 4 (0.2) is under 0.25.
  assertEquals(p!.map((x) => [x.box, x.score]), [
    [[540, 160, 740, 560], f(0.9)],
    [[560, 160, 760, 560], f(0.8)],
    [[150, 40, 250, 200], f(0.6)],
    [[1100, 0, 1280, 20], f(0.3)],
  ]);
  assertEquals(Array.from(p![1]!.keypoints), fixtureKeypoints(330, 320, 17, lb).map(f));
});

Deno.test("hand_pose.onnx and hand_pose_end2end.onnx (kpt_shape [21, 3]): 21 keypoints per hand", async () => {
  for (const [name, count] of [["hand_pose.onnx", 3], ["hand_pose_end2end.onnx", 4]] as const) {
    const { persons, lb } = await decodeWith(name, 1, GREY);
    const [p] = persons;
    assertEquals(p!.length, count, name);
    assertEquals(p![0]!.box, [540, 160, 740, 560]);
    assertEquals(p![0]!.keypoints.length, 63);
    assertEquals(Array.from(p![0]!.keypoints), fixtureKeypoints(320, 320, 21, lb).map(f), name);
    assertEquals(p![0]!.className, undefined);
  }
});

Deno.test("animal_pose.onnx (kpt_shape [8, 2], two classes): class-aware NMS, x, y keypoints, class names", async () => {
  const { persons, lb } = await decodeWith("animal_pose.onnx", 1, GREY);
  const [p] = persons;
  // Anchor 2 (cat 0.9) kept; anchor 5 (dog 0.8) kept beside it, being a dog; anchor 9 (cat 0.7,
  // IoU 0.90 with anchor 2) suppressed; anchor 12 (best class dog 0.26) kept; anchor 14 (0.24) out.
  assertEquals(p!.map((x) => [x.className, x.classId, x.box, x.score]), [
    ["cat", 0, [500, 220, 700, 420], f(0.9)],
    ["dog", 1, [520, 220, 720, 420], f(0.8)],
    ["dog", 1, [940, 440, 1060, 600], f(0.26)],
  ]);
  assertEquals(p![0]!.keypointDims, 2);
  const expected: number[] = [];
  for (let k = 0; k < 8; k++) expected.push(...toSource(300 - 10 + 3 * k, 300 - 20 + 4 * k, lb));
  assertEquals(Array.from(p![0]!.keypoints), expected);
});

Deno.test("rtmo.onnx (mmpose one-stage): dets and keypoints, NMS as rtmlib, the input BGR 0..255", async () => {
  // Det 2's score is the mean of the model's first input plane / 255: blue 200 -> 0.784.
  const { persons, lb, shape } = await decodeWith("rtmo.onnx", 3, [10, 20, 200]);
  assertEquals(shape, 4);
  for (const p of persons) {
    // Det 1 (0.9) overlaps det 0 (0.95) by IoU 0.82: suppressed. Det 4 (0.2) is under 0.25.
    assertEquals(p.map((x) => x.box), [[540, 160, 740, 560], [150, 40, 250, 200], [
      1100,
      0,
      1280,
      20,
    ]]);
    assertEquals(p[0]!.score, f(0.95));
    assertAlmostEquals(p[1]!.score, 200 / 255, 1e-3);
    const expected: number[] = [];
    for (let k = 0; k < 17; k++) {
      expected.push(...toSource(270 + 30 + 2 * k, 220 + 10 + 5 * k, lb), 0.6);
    }
    assertEquals(Array.from(p[0]!.keypoints), expected.map(f));
  }
  // Red 200 with blue 10: det 2 scores 10 / 255 and is dropped; RGB order would have kept it.
  const red = await decodeWith("rtmo.onnx", 1, [200, 20, 10]);
  assertEquals(red.persons[0]!.length, 2);
});

Deno.test("a run whose output does not fit the layout fails naming the file, across the worker", async () => {
  // No metadata and symbolic dimensions: read as [N,56,anchors] until a run shows [1,10,100].
  const bytes = buildKnownOutputModel({
    inputDims: ["batch", 3, 640, 640],
    outputs: [{
      name: "output0",
      values: new Float32Array(1000),
      dims: [10, 100],
      declared: ["channels", "anchors"],
    }],
  });
  const model = prepareModel(bytes, "/models/odd.onnx");
  const err = await assertRejects(
    () => createWorkerRunner(model, { provider: "cpu", shapes: [1] }),
    UnknownModelLayoutError,
  );
  assertEquals((err as UnknownModelLayoutError).path, "/models/odd.onnx");
  assert(
    err.message.startsWith(
      "Unknown model layout in /models/odd.onnx: its output came out as [1,10,100], not [1,56,anchors]",
    ),
    err.message,
  );
});
