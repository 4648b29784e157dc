import { assert, assertEquals } from "../_assert.ts";
import { fixturePath } from "../_helpers.ts";
import { PoseDecoder } from "../../src/pose/decoder.ts";
import { computeLetterbox, type Frame } from "../../src/sources/frame.ts";
import { createOrtRunner } from "../../src/pose/inference.ts";
import { batchShapes } from "../../src/pose/batch_shapes.ts";
import { loadModelFile } from "../../src/pose/model_prep.ts";

// Source 1280x720 into 640x640: scale 0.5, no side padding, 140 rows above and below.
const LETTERBOX = computeLetterbox({ width: 1280, height: 720 }, { width: 640, height: 640 });

Deno.test("computeLetterbox() centres the scaled image", () => {
  assertEquals(LETTERBOX, { scale: 0.5, padX: 0, padY: 140, sourceWidth: 1280, sourceHeight: 720 });
  assertEquals(computeLetterbox({ width: 480, height: 640 }, { width: 640, height: 640 }).padX, 80);
});

function expectedKeypoints(cx: number, cy: number): number[] {
  // Fixture keypoint k sits at (cx - 20 + 2k, cy - 70 + 5k) with visibility 0.5 (scripts/gen_test_models.ts).
  const out: number[] = [];
  for (let k = 0; k < 17; k++) {
    const x = (cx - 20 + 2 * k) * 2;
    const y = Math.min(720, Math.max(0, (cy - 70 + 5 * k - 140) * 2));
    out.push(Math.min(1280, x), y, 0.5);
  }
  return out;
}

Deno.test("PoseDecoder.decode() gives the known model's persons exactly, in source pixels", async () => {
  const model = await loadModelFile(fixturePath("known_pose.onnx"));
  const runner = await createOrtRunner(model, {
    provider: "cpu",
    shapes: batchShapes(4, model.fixedBatch),
  });
  try {
    const frames: Frame[] = [0, 1, 2].map((seq) => ({
      stream: seq,
      seq,
      capturedAt: performance.now(),
      pixels: new Uint8Array(640 * 640 * 3).fill(seq * 50),
      letterbox: LETTERBOX,
    }));
    const output = await runner.run(frames);
    assertEquals(output.shape, 4);
    assertEquals(output.anchors, 16);
    const decoder = new PoseDecoder({ scoreThreshold: 0.25, iouThreshold: 0.45 });
    for (let i = 0; i < frames.length; i++) {
      const persons = decoder.decode(output.data, i, output.anchors, LETTERBOX);
      // Anchor 3 (0.9) kept; anchor 7 (0.8) suppressed by it; anchor 0 (0.6) kept;
      // anchor 12 (0.2) under threshold; anchor 15 (0.3) kept, its box clipped at the image edges.
      assertEquals(persons.map((p) => p.score), [
        Math.fround(0.9),
        Math.fround(0.6),
        Math.fround(0.3),
      ]);
      assertEquals(persons.map((p) => p.box), [
        [540, 160, 740, 560],
        [150, 40, 250, 200],
        [1100, 0, 1280, 20],
      ]);
      assertEquals(Array.from(persons[0]!.keypoints), expectedKeypoints(320, 320));
      assertEquals(Array.from(persons[1]!.keypoints), expectedKeypoints(100, 200));
      assertEquals(Array.from(persons[2]!.keypoints), expectedKeypoints(600, 100));
    }
  } finally {
    await runner.release();
  }
});

Deno.test("PoseDecoder.decode() applies its score threshold and NMS IoU options", async () => {
  const model = await loadModelFile(fixturePath("known_pose.onnx"));
  const runner = await createOrtRunner(model, {
    provider: "cpu",
    shapes: batchShapes(1, model.fixedBatch),
  });
  try {
    const frame: Frame = {
      stream: 0,
      seq: 0,
      capturedAt: 0,
      pixels: new Uint8Array(640 * 640 * 3),
      letterbox: LETTERBOX,
    };
    const output = await runner.run([frame]);
    const strict = new PoseDecoder({ scoreThreshold: 0.7 }).decode(output.data, 0, 16, LETTERBOX);
    assertEquals(strict.map((p) => p.score), [Math.fround(0.9)]);
    const loose = new PoseDecoder({ scoreThreshold: 0.1, iouThreshold: 0.9 }).decode(
      output.data,
      0,
      16,
      LETTERBOX,
    );
    assertEquals(loose.map((p) => p.score), [0.9, 0.8, 0.6, 0.3, 0.2].map(Math.fround));
    const capped = new PoseDecoder({ scoreThreshold: 0.1, iouThreshold: 0.9, maxDetections: 2 })
      .decode(output.data, 0, 16, LETTERBOX);
    assertEquals(capped.length, 2);
  } finally {
    await runner.release();
  }
});

Deno.test("PoseDecoder.decode() stays capped when every anchor passes the threshold", () => {
  const anchors = 8400;
  const batch = 2;
  const output = new Float32Array(batch * 56 * anchors);
  for (let f = 0; f < batch; f++) {
    const base = f * 56 * anchors;
    for (let a = 0; a < anchors; a++) {
      // Small boxes on a grid that never overlap, so NMS suppresses nothing.
      output[base + a] = (a % 100) * 10 + 5;
      output[base + anchors + a] = Math.floor(a / 100) * 10 + 5;
      output[base + 2 * anchors + a] = 4;
      output[base + 3 * anchors + a] = 4;
      output[base + 4 * anchors + a] = 0.5 + (a % 97) / 1000;
    }
  }
  const lb = { scale: 1, padX: 0, padY: 0, sourceWidth: 1000, sourceHeight: 1000 };
  const decoder = new PoseDecoder({ maxCandidates: 500, maxDetections: 300 });
  for (let f = 0; f < batch; f++) {
    const persons = decoder.decode(output, f, anchors, lb);
    assertEquals(persons.length, 300);
    for (let i = 1; i < persons.length; i++) assert(persons[i - 1]!.score >= persons[i]!.score);
    assertEquals(persons[0]!.score, Math.fround(0.5 + 96 / 1000));
  }
  const fewCandidates = new PoseDecoder({ maxCandidates: 10, maxDetections: 300 }).decode(
    output,
    0,
    anchors,
    lb,
  );
  assertEquals(fewCandidates.length, 10);
});

Deno.test("PoseDecoder.decode() refuses an output too short for the frame", () => {
  let message = "";
  try {
    new PoseDecoder().decode(new Float32Array(56 * 10), 1, 10, LETTERBOX);
  } catch (err) {
    message = (err as Error).message;
  }
  assert(message.includes("Cannot decode frame 1"), message);
});
