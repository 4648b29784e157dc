import { assert, assertEquals } from "../_assert.ts";
import { SimulatedDetector } from "../../src/tracking/simulated_detector.ts";

const PEOPLE = [
  { id: 1, box: [0, 0, 50, 100], keypoints: new Float32Array(51).fill(0.9) },
  { id: 2, box: [10, 0, 60, 100], keypoints: new Float32Array(51).fill(0.9) },
];

Deno.test("SimulatedDetector.detect() is deterministic for a seed and noisy as asked", () => {
  const a = new SimulatedDetector({ seed: 5 }).detect(PEOPLE);
  const b = new SimulatedDetector({ seed: 5 }).detect(PEOPLE);
  assertEquals(a, b);
  assertEquals(a.map((d) => d.truthId), [1, 2]);
  assert(a[0]!.box.some((x, i) => x !== PEOPLE[0]!.box[i]), "boxes are moved");
  assert(a.every((d) => d.score >= 0.75 && d.score <= 0.95));
  const exact = new SimulatedDetector({ boxNoise: 0, keypointNoise: 0, scoreJitter: 0 });
  assertEquals(exact.detect(PEOPLE)[1]!.box, [10, 0, 60, 100]);
});

Deno.test("SimulatedDetector.detect() misses people at its miss rate and applies NMS", () => {
  const detector = new SimulatedDetector({ seed: 2, missRate: 0.5, boxNoise: 0 });
  let found = 0;
  for (let i = 0; i < 1000; i++) found += detector.detect([PEOPLE[0]!]).length;
  assert(found > 420 && found < 580, `${found}`);
  // The two boxes overlap by IoU 40/60: NMS at 0.45 keeps the better-scored one.
  const nms = new SimulatedDetector({ seed: 2, boxNoise: 0, nmsIou: 0.45 }).detect(PEOPLE);
  assertEquals(nms.length, 1);
});
