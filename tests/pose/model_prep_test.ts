import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { fixturePath } from "../_helpers.ts";
import * as ort from "onnxruntime-node";
import {
  buildKnownOutputModel,
  fixtureModels,
  knownOutput,
  ultralyticsMetadata,
} from "../../scripts/gen_test_models.ts";
import { buildDemoModel } from "../../src/pose/demo_model.ts";
import { createPoseDecoder } from "../../src/pose/decoder.ts";
import { createOrtRunner, sessionBytes } from "../../src/pose/inference.ts";
import { batchShapes } from "../../src/pose/batch_shapes.ts";
import {
  loadModelFile,
  ModelLoadError,
  prepareModel,
  UnknownModelLayoutError,
} from "../../src/pose/model_prep.ts";
import { appendFloat32Cast, prependInputStage } from "../../src/pose/input_stage.ts";
import { convertToFloat32, hasFloat16 } from "../../src/pose/float16.ts";
import {
  ElementType,
  encodeModel,
  node,
  onnx,
  tensorValueInfo,
} from "../../src/pose/onnx_graph.ts";
import { renderSyntheticCycle } from "../../src/sources/synthetic_source.ts";
import { computeLetterbox, type Frame } from "../../src/sources/frame.ts";

Deno.test("fixture models are what scripts/gen_test_models.ts writes", async () => {
  for (const [name, bytes] of Object.entries(fixtureModels())) {
    assertEquals(
      await Deno.readFile(fixturePath(name)),
      new Uint8Array(bytes),
      `${name} is stale: run deno task gen-models`,
    );
  }
});

Deno.test("loadModelFile() refuses a missing file, naming the path", async () => {
  const path = fixturePath("no_such_model.onnx");
  await assertRejects(
    () => loadModelFile(path),
    ModelLoadError,
    `Cannot load model ${path}: file not found`,
  );
});

Deno.test("loadModelFile() refuses a corrupt file, naming the path", async () => {
  const path = fixturePath("corrupt.onnx");
  await assertRejects(
    () => loadModelFile(path),
    ModelLoadError,
    `Cannot load model ${path}: not an ONNX model`,
  );
});

Deno.test("loadModelFile() refuses an unknown output layout, naming the shapes it saw and the layouts read", async () => {
  const path = fixturePath("unknown_layout.onnx");
  const err = await assertRejects(() => loadModelFile(path), UnknownModelLayoutError, path);
  assert(err.message.startsWith(`Unknown model layout in ${path}: `), err.message);
  assert(err.message.includes("output output0 [batch,10,100]"), err.message);
  assert(err.message.includes("input images [batch,3,640,640]"), err.message);
  assert(
    err.message.includes("reads Ultralytics YOLO-pose [N,4+classes+K*D,anchors]"),
    err.message,
  );
  assert(err.message.includes("mmpose one-stage (RTMO)"), err.message);
});

Deno.test("loadModelFile() refuses a model whose metadata task is not pose, naming the task", async () => {
  const path = fixturePath("yolo11_detect.onnx");
  const err = await assertRejects(() => loadModelFile(path), UnknownModelLayoutError);
  assert(
    err.message.includes(`${path}: its metadata says task 'detect', not 'pose'`),
    err.message,
  );
  assert(err.message.includes("output output0 [1,84,16]"), err.message);
});

Deno.test("prepareModel() refuses outputs that contradict the metadata, saying what it means", () => {
  const model = (channels: number, anchors: number, meta: Record<string, string> | undefined) =>
    buildKnownOutputModel({
      inputDims: [1, 3, 640, 640],
      outputs: [{
        name: "output0",
        values: new Float32Array(channels * anchors),
        dims: [channels, anchors],
      }],
      metadata: meta,
    });
  const cases: [Uint8Array, string][] = [
    [
      model(60, 16, ultralyticsMetadata()),
      "output output0 [1,60,16] does not have the 56 values per anchor (4 + 1 class + 17 x 3) that its metadata means",
    ],
    [
      model(56, 16, ultralyticsMetadata({ kptShape: [21, 3], names: ["hand"] })),
      "does not have the 68 values per anchor (4 + 1 class + 21 x 3)",
    ],
    [
      model(300, 57, ultralyticsMetadata()),
      "(it looks like an end2end or nms=True output, but the metadata says neither)",
    ],
    [
      model(300, 56, ultralyticsMetadata({ end2end: true })),
      "does not have the 57 values per row (6 + 17 x 3) that its metadata (end2end or nms, kpt_shape [17, 3]) means",
    ],
    [
      model(68, 16, undefined),
      "output output0 [1,68,16] is neither [N,56,anchors] nor [N,rows,57], and without Ultralytics' metadata",
    ],
  ];
  for (const [bytes, message] of cases) {
    const err = assertThrows(() => prepareModel(bytes, "m.onnx"), UnknownModelLayoutError);
    assert(err.message.includes(message), `${err.message}\nlacks: ${message}`);
  }
});

Deno.test("prepareModel() refuses unreadable metadata, naming the file and the entry", () => {
  const bytes = buildKnownOutputModel({
    inputDims: [1, 3, 640, 640],
    outputs: [{ name: "output0", values: knownOutput(), dims: [56, 16] }],
    metadata: { ...ultralyticsMetadata(), kpt_shape: "17x3" },
  });
  assertThrows(
    () => prepareModel(bytes, "bad_meta.onnx"),
    ModelLoadError,
    'Cannot load model bad_meta.onnx: its metadata kpt_shape is "17x3": Cannot read Python literal',
  );
});

Deno.test("prepareModel() refuses an empty file", () => {
  assertThrows(
    () => prepareModel(new Uint8Array(0), "empty.onnx"),
    ModelLoadError,
    "empty.onnx: the file is empty",
  );
});

/** What each layout fixture is read as. */
const LAYOUTS: Record<string, unknown[]> = {
  // name: family, keypoints x dims, classes, WxH (source), fixed batch, precision, outputs
  "yolo11_pose.onnx": ["yolo-anchors", 17, 3, ["person"], "640x640 model", 1, "float32", [
    "output0",
  ]],
  "yolo11_pose_dynamic.onnx": [
    "yolo-anchors",
    17,
    3,
    ["person"],
    "640x480 metadata imgsz",
    null,
    "float32",
    ["output0"],
  ],
  "yolo11_pose_half.onnx": ["yolo-anchors", 17, 3, ["person"], "640x640 model", 1, "float16", [
    "output0_float32",
  ]],
  "yolo11_pose_nms.onnx": [
    "yolo-rows",
    17,
    3,
    ["person"],
    "640x640 metadata imgsz",
    null,
    "float32",
    [
      "output0",
    ],
  ],
  "yolo11_pose_half_nms.onnx": ["yolo-rows", 17, 3, ["person"], "640x640 model", 1, "float16", [
    "output0_float32",
  ]],
  "yolo26_pose.onnx": ["yolo-rows", 17, 3, ["person"], "640x640 model", 1, "float32", ["output0"]],
  "hand_pose.onnx": ["yolo-anchors", 21, 3, ["hand"], "640x640 model", 1, "float32", ["output0"]],
  "hand_pose_end2end.onnx": ["yolo-rows", 21, 3, ["hand"], "640x640 model", 1, "float32", [
    "output0",
  ]],
  "animal_pose.onnx": ["yolo-anchors", 8, 2, ["cat", "dog"], "640x640 model", 1, "float32", [
    "output0",
  ]],
  "rtmo.onnx": ["mmpose-rows", 17, 3, ["person"], "640x640 model", null, "float32", [
    "dets",
    "keypoints",
  ]],
  "known_pose.onnx": ["yolo-anchors", 17, 3, ["person"], "640x640 model", null, "float32", [
    "output0",
  ]],
};

Deno.test("loadModelFile() reads each layout: family, keypoints, classes, input size, batch, precision", async () => {
  for (const [name, expected] of Object.entries(LAYOUTS)) {
    const m = await loadModelFile(fixturePath(name));
    assertEquals(
      [
        m.layout.family,
        m.layout.keypoints,
        m.layout.keypointDims,
        m.layout.classNames,
        `${m.width}x${m.height} ${m.inputSizeSource}`,
        m.fixedBatch,
        m.precision,
        m.outputNames,
      ],
      expected,
      name,
    );
    assert(m.inputStagePrepended, name);
    assertEquals(m.inputName, name === "rtmo.onnx" ? "input_uint8_nhwc" : "images_uint8_nhwc");
  }
  const rtmo = await loadModelFile(fixturePath("rtmo.onnx"));
  assertEquals(rtmo.inputStage, "uint8 NHWC -> float32 BGR 0..255 NCHW, in the graph");
  assertEquals(rtmo.metadata, null);
  const half = await loadModelFile(fixturePath("yolo11_pose_half.onnx"));
  assertEquals(half.inputStage, "uint8 NHWC -> float16 RGB 0..1 NCHW, in the graph");
  assert(half.metadata?.half);
});

Deno.test("prepareModel() prepends the uint8 NHWC input stage; a uint8 NHWC model is used as it is", async () => {
  const model = await loadModelFile(fixturePath("known_pose.onnx"));
  assertEquals(model.inputName, "images_uint8_nhwc");
  assertEquals(model.outputNames, ["output0"]);
  assertEquals([model.width, model.height, model.fixedBatch, model.anchors], [640, 640, null, 16]);
  const again = prepareModel(model.bytes, "prepared");
  assertEquals(again.inputStagePrepended, false);
  assertEquals(again.inputStage, "uint8 NHWC, as the model takes it");
  assertEquals(again.bytes, model.bytes);
  // A prepared float16 model keeps its float32 output and is still float16 inside.
  const half = await loadModelFile(fixturePath("yolo11_pose_half.onnx"));
  const halfAgain = prepareModel(half.bytes, "prepared half");
  assertEquals([halfAgain.outputNames, halfAgain.precision], [["output0_float32"], "float16"]);
});

/** Runs a graph input -> Identity -> output (1x3x2x2) behind an input stage, on the CPU provider. */
async function runStage(
  elemType: typeof ElementType.FLOAT | typeof ElementType.FLOAT16,
  channels: "rgb" | "bgr",
  range: "0..1" | "0..255",
  pixels: number[],
): Promise<{ type: string; values: number[] }> {
  const model = onnx.ModelProto.decode(encodeModel({
    nodes: [node("Identity", ["x"], ["y"])],
    inputs: [tensorValueInfo("x", elemType, [1, 3, 2, 2])],
    outputs: [tensorValueInfo("y", elemType, [1, 3, 2, 2])],
  }));
  const graph = model.graph!;
  const inputName = prependInputStage(graph, graph.input![0]!, {
    elemType,
    channels,
    range,
    batch: 1,
    height: 2,
    width: 2,
  });
  const output = elemType === ElementType.FLOAT16 ? appendFloat32Cast(graph, "y") : "y";
  const session = await ort.InferenceSession.create(onnx.ModelProto.encode(model).finish());
  try {
    const input = new ort.Tensor("uint8", Uint8Array.from(pixels), [1, 2, 2, 3]);
    const result = (await session.run({ [inputName]: input }))[output]!;
    return { type: result.type, values: Array.from(result.data as Float32Array) };
  } finally {
    await session.release();
  }
}

// Four RGB pixels (HWC): (255,0,51) (0,102,0) (0,0,255) (51,153,204).
const PIXELS = [255, 0, 51, 0, 102, 0, 0, 0, 255, 51, 153, 204];

Deno.test("prependInputStage() turns uint8 RGB NHWC into float32 RGB 0..1 NCHW (Ultralytics)", async () => {
  const { type, values } = await runStage(ElementType.FLOAT, "rgb", "0..1", PIXELS);
  assertEquals(type, "float32");
  // Planes R, G, B of the 2x2 picture, each value / 255.
  assertEquals(values, [1, 0, 0, 0.2, 0, 0.4, 0, 0.6, 0.2, 0, 1, 0.8].map(Math.fround));
});

Deno.test("prependInputStage() turns uint8 RGB NHWC into float32 BGR 0..255 NCHW (RTMO, as rtmlib feeds it)", async () => {
  const { values } = await runStage(ElementType.FLOAT, "bgr", "0..255", PIXELS);
  // Planes B, G, R, unscaled.
  assertEquals(values, [51, 0, 255, 204, 0, 102, 0, 153, 255, 0, 0, 51]);
});

Deno.test("prependInputStage() casts to float16 for a half model, appendFloat32Cast() hands back float32", async () => {
  const { type, values } = await runStage(ElementType.FLOAT16, "rgb", "0..1", PIXELS);
  assertEquals(type, "float32");
  // The division happens in float16: 51/255 = 0.2 rounds to float16 0.199951171875.
  assertEquals(values, [1, 0, 0, 0.2, 0, 0.4, 0, 0.6, 0.2, 0, 1, 0.8].map(Math.f16round));
});

Deno.test("a half model runs in float16 as prepared and in float32 on the CPU provider, to the same persons", async () => {
  const model = await loadModelFile(fixturePath("yolo11_pose_half.onnx"));
  const graph = onnx.ModelProto.decode(model.bytes).graph!;
  const cast = graph.node!.find((n) => n.name === "pose_exporter_pre_cast")!;
  assertEquals(
    Number(cast.attribute![0]!.i),
    ElementType.FLOAT16,
    "the input stage casts to float16",
  );
  assertEquals(graph.output!.map((o) => o.type!.tensorType!.elemType), [ElementType.FLOAT]);
  assert(hasFloat16(graph));
  const converted = convertToFloat32(model.bytes);
  assert(!hasFloat16(onnx.ModelProto.decode(converted).graph!), "no float16 left");
  assertEquals(sessionBytes(model, "cpu"), converted);
  assertEquals(sessionBytes(model, "cuda"), model.bytes, "CUDA runs the float16 graph");
  const lb = computeLetterbox({ width: 1280, height: 720 }, { width: 640, height: 640 });
  const input = new ort.Tensor("uint8", new Uint8Array(640 * 640 * 3), [1, 640, 640, 3]);
  const decoded: unknown[] = [];
  // As prepared (ONNX Runtime's CPU provider casts around each float16 node), then converted.
  for (const bytes of [model.bytes, converted]) {
    const session = await ort.InferenceSession.create(bytes);
    try {
      const out = (await session.run({ [model.inputName]: input }))["output0_float32"]!;
      assertEquals(out.type, "float32");
      const persons = createPoseDecoder(model.layout).decode(
        [{ data: out.data as Float32Array, dims: out.dims }],
        0,
        lb,
      );
      decoded.push(persons.map((p) => [p.box, p.score]));
    } finally {
      await session.release();
    }
  }
  assertEquals(decoded[0], decoded[1]);
  assertEquals(decoded[0], [
    [[540, 160, 740, 560], Math.f16round(0.9)],
    [[150, 40, 250, 200], Math.f16round(0.6)],
    [[1100, 0, 1280, 20], Math.f16round(0.3)],
  ]);
});

Deno.test("a model with a fixed batch of 1 runs at batch 1", async () => {
  const model = await loadModelFile(fixturePath("known_pose_batch1.onnx"));
  assertEquals(model.fixedBatch, 1);
  const runner = await createOrtRunner(model, {
    provider: "cpu",
    shapes: batchShapes(8, model.fixedBatch),
  });
  try {
    assertEquals(runner.shapes, [1]);
  } finally {
    await runner.release();
  }
});

Deno.test("createOrtRunner() uses power-of-two batch shapes up to the largest batch", async () => {
  const model = await loadModelFile(fixturePath("known_pose.onnx"));
  const runner = await createOrtRunner(model, {
    provider: "cpu",
    shapes: batchShapes(6, model.fixedBatch),
  });
  try {
    assertEquals(runner.shapes, [1, 2, 4, 6]);
    assertEquals(runner.provider, "cpu");
  } finally {
    await runner.release();
  }
});

Deno.test("a dynamic model is fed --input-size, its anchors follow the size", async () => {
  const model = await loadModelFile(fixturePath("yolo11_pose_dynamic.onnx"), {
    inputSize: { width: 320, height: 320 },
  });
  assertEquals([model.width, model.height, model.inputSizeSource], [320, 320, "--input-size"]);
  const runner = await createOrtRunner(model, { provider: "cpu", shapes: [1] });
  try {
    const lb = computeLetterbox({ width: 1280, height: 720 }, { width: 320, height: 320 });
    const frame: Frame = {
      stream: 0,
      seq: 0,
      capturedAt: 0,
      pixels: new Uint8Array(320 * 320 * 3),
      letterbox: lb,
    };
    const out = await runner.run([frame]);
    // 16 known anchors + (320/32)^2 empty ones.
    assertEquals(out.outputs[0]!.dims, [1, 56, 116]);
  } finally {
    await runner.release();
  }
});

Deno.test("buildDemoModel() is deterministic and finds the synthetic figures", async () => {
  const bytes = buildDemoModel();
  assertEquals(new Uint8Array(bytes), new Uint8Array(buildDemoModel()));
  const model = prepareModel(bytes, "demo");
  assertEquals([model.width, model.height, model.anchors, model.fixedBatch], [
    640,
    640,
    8400,
    null,
  ]);
  assertEquals(model.metadata, null);
  const runner = await createOrtRunner(model, {
    provider: "cpu",
    shapes: batchShapes(1, model.fixedBatch),
  });
  try {
    const cycle = renderSyntheticCycle({ width: 1280, height: 720 }, { width: 640, height: 640 });
    const frame = {
      stream: 0,
      seq: 0,
      capturedAt: 0,
      pixels: cycle.frames[0]!,
      letterbox: cycle.letterbox,
    };
    const decoder = createPoseDecoder(model.layout);
    const output = await runner.run([frame]);
    const persons = decoder.decode(output.outputs, 0, cycle.letterbox);
    assertEquals(persons.length, 2, "two walkers are drawn");
    for (const p of persons) {
      assert(p.box[0] >= 0 && p.box[2] <= 1280 && p.box[1] >= 0 && p.box[3] <= 720, `box ${p.box}`);
    }
    const blank = { ...frame, pixels: new Uint8Array(640 * 640 * 3).fill(114) };
    const none = await runner.run([blank]);
    assertEquals(decoder.decode(none.outputs, 0, cycle.letterbox).length, 0);
  } finally {
    await runner.release();
  }
});
