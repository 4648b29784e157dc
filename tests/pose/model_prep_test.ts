import { assert, assertEquals, assertRejects, assertThrows } from "../_assert.ts";
import { fixturePath } from "../_helpers.ts";
import { fixtureModels } from "../../scripts/gen_test_models.ts";
import { buildDemoModel } from "../../src/pose/demo_model.ts";
import { PoseDecoder } from "../../src/pose/decoder.ts";
import { createOrtRunner } from "../../src/pose/inference.ts";
import { batchShapes } from "../../src/pose/batch_shapes.ts";
import {
  loadModelFile,
  ModelLoadError,
  prepareModel,
  UnknownModelLayoutError,
} from "../../src/pose/model_prep.ts";
import { renderSyntheticCycle } from "../../src/sources/synthetic_source.ts";

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

Deno.test("loadModelFile() refuses an unknown output layout, naming the shapes it saw", async () => {
  const path = fixturePath("unknown_layout.onnx");
  const err = await assertRejects(() => loadModelFile(path), UnknownModelLayoutError, path);
  assert(err.message.includes("output output0 [batch,10,100]"), err.message);
  assert(err.message.includes("input images [batch,3,640,640]"), err.message);
});

Deno.test("prepareModel() refuses an empty file", () => {
  assertThrows(
    () => prepareModel(new Uint8Array(0), "empty.onnx"),
    ModelLoadError,
    "empty.onnx: the file is empty",
  );
});

Deno.test("prepareModel() prepends the uint8 NHWC input stage and reads the layout", async () => {
  const model = await loadModelFile(fixturePath("known_pose.onnx"));
  assertEquals(model.inputName, "images_uint8_nhwc");
  assertEquals(model.outputName, "output0");
  assertEquals([model.width, model.height, model.fixedBatch, model.anchors], [640, 640, null, 16]);
  assert(model.inputStagePrepended);
  const again = prepareModel(model.bytes, "prepared");
  assertEquals(again.inputStagePrepended, false, "a uint8 NHWC model is used as it is");
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
    const output = await runner.run([frame]);
    const persons = new PoseDecoder().decode(output.data, 0, output.anchors, cycle.letterbox);
    assertEquals(persons.length, 2, "two walkers are drawn");
    for (const p of persons) {
      assert(p.box[0] >= 0 && p.box[2] <= 1280 && p.box[1] >= 0 && p.box[3] <= 720, `box ${p.box}`);
    }
    const blank = { ...frame, pixels: new Uint8Array(640 * 640 * 3).fill(114) };
    const none = await runner.run([blank]);
    assertEquals(new PoseDecoder().decode(none.data, 0, none.anchors, cycle.letterbox).length, 0);
  } finally {
    await runner.release();
  }
});
