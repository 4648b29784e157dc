// The models users bring, as a user runs them: the exporter with --model, its log and its JSONL lines.

import { assert, assertEquals } from "../_assert.ts";
import { fixturePath, freePort, jsonLogs, runExporter } from "../_helpers.ts";
import { toJsonlRecord } from "../../src/pipeline/jsonl_sink.ts";
import type { Person } from "../../src/pose/decoder.ts";
import type { FrameResult } from "../../src/pipeline/result.ts";
import { computeLetterbox } from "../../src/sources/frame.ts";

function result(persons: Person[]): FrameResult {
  return {
    frame: {
      stream: 0,
      seq: 7,
      capturedAt: 0,
      pixels: new Uint8Array(0),
      letterbox: computeLetterbox({ width: 1280, height: 720 }, { width: 640, height: 640 }),
    },
    streamId: "cam",
    persons,
    decodedAt: 5,
    latencyMs: 5,
  };
}

Deno.test("toJsonlRecord() writes keypoints as the model gives them, and class and name for several classes", () => {
  const pairs = toJsonlRecord(result([{
    box: [1, 2, 3, 4],
    score: 0.8,
    keypoints: Float32Array.from([10.123, 20.456, 30, 40]),
    keypointDims: 2,
    classId: 1,
    className: "dog",
  }]));
  assertEquals(pairs.persons, [{
    box: [1, 2, 3, 4],
    score: 0.8,
    class: 1,
    name: "dog",
    keypoints: [[10.12, 20.46], [30, 40]],
  }]);
  const triples = toJsonlRecord(result([{
    box: [1, 2, 3, 4],
    score: 0.5,
    keypoints: Float32Array.from({ length: 63 }, (_, i) => (i % 3 === 2 ? 0.25 : i)),
    keypointDims: 3,
  }]));
  assertEquals(triples.persons[0]!.keypoints.length, 21);
  assertEquals(triples.persons[0]!.keypoints[1], [3, 4, 0.25]);
  assert(!("class" in triples.persons[0]!), "a one-class model writes no class");
  // A person without keypointDims (older callers) is read as triples.
  const old = toJsonlRecord(
    result([{ box: [0, 0, 1, 1], score: 1, keypoints: Float32Array.from([1, 2, 3]) }]),
  );
  assertEquals(old.persons[0]!.keypoints, [[1, 2, 3]]);
});

/** Runs the exporter on `model` for a few seconds and reads its log and results. */
async function runModel(model: string, extra: string[] = []) {
  const dir = await Deno.makeTempDir({ prefix: "model-run-" });
  const results = `${dir}/results.jsonl`;
  try {
    const out = await runExporter([
      "--model",
      fixturePath(model),
      "--provider",
      "cpu",
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--results",
      results,
      "--log-format",
      "json",
      "--status",
      "off",
      "--duration",
      "4",
      ...extra,
    ]);
    assertEquals(out.code, 0, out.stderr);
    const lines = (await Deno.readTextFile(results)).split("\n").filter((l) => l !== "");
    return { logs: jsonLogs(out.stderr), records: lines.map((l) => JSON.parse(l)) };
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

Deno.test("exporter - a dynamic=True export runs at batches above 1, fed its metadata imgsz", async () => {
  const { logs, records } = await runModel("yolo11_pose_dynamic.onnx", [
    "--streams",
    "3",
    "--batch-size",
    "4",
  ]);
  const ready = logs.find((l) => l.msg === "model ready");
  assert(ready, "a model ready line");
  assertEquals(
    [ready.layout, ready.input, ready.batch_shapes, ready.precision],
    [
      "Ultralytics YOLO-pose [N,56,anchors], 17 keypoints x 3, 1 class",
      "640x480 (metadata imgsz)",
      "1,2,4",
      "float32",
    ],
  );
  assert(!logs.some((l) => /fixed at/.test(l.msg)), "no batch-1 warning");
  assert(records.length > 0, "results were written");
  // Synthetic sources are 1280x720: in 640x480 the letterbox is scale 0.5, pad (0, 60).
  assertEquals(records[0].persons.map((p: { box: number[] }) => p.box), [
    [540, 320, 740, 720],
    [150, 200, 250, 360],
    [1100, 0, 1280, 180],
  ]);
  assertEquals(records[0].persons[0].keypoints.length, 17);
});

Deno.test("exporter - a 21-keypoint hand model writes 21 points a person; a two-class model its class names", async () => {
  const hand = await runModel("hand_pose.onnx", ["--streams", "1"]);
  assert(hand.records.length > 0);
  const person = hand.records[0].persons[0];
  assertEquals(person.keypoints.length, 21);
  assertEquals(person.keypoints[20].length, 3);
  assert(!("class" in person));
  const animal = await runModel("animal_pose.onnx", ["--streams", "1"]);
  const [cat, dog] = animal.records[0].persons;
  assertEquals([cat.class, cat.name, dog.class, dog.name], [0, "cat", 1, "dog"]);
  assertEquals(cat.keypoints.length, 8);
  assertEquals(cat.keypoints[0], [580, 280]);
  const ready = animal.logs.find((l) => l.msg === "model ready");
  assertEquals(ready.classes, "cat,dog");
});

Deno.test("exporter - a float16 export on the CPU provider runs converted to float32 and says so once", async () => {
  const { logs, records } = await runModel("yolo11_pose_half.onnx", ["--streams", "1"]);
  const said = logs.filter((l) => l.msg === "float16 model runs in float32 on the CPU provider");
  assertEquals(said.length, 1);
  assert(records.length > 0);
  assertEquals(records[0].persons.map((p: { score: number }) => p.score), [0.9, 0.6, 0.3]);
  const ready = logs.find((l) => l.msg === "model ready");
  assertEquals(ready.input_stage, "uint8 NHWC -> float16 RGB 0..1 NCHW, in the graph");
});

Deno.test("exporter - a model whose task is not pose exits 1 naming the file and the task", async () => {
  const path = fixturePath("yolo11_detect.onnx");
  const { code, stderr } = await runExporter([
    "--model",
    path,
    "--streams",
    "1",
    "--listen",
    `127.0.0.1:${freePort()}`,
  ]);
  assertEquals(code, 1);
  assert(stderr.includes(`${path}: its metadata says task 'detect', not 'pose'`), stderr);
});
