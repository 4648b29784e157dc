import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import {
  COCO_KEYPOINT_SIGMAS,
  KeypointSimilarity,
} from "../../src/tracking/keypoint_similarity.ts";

function pose(): Float32Array {
  const k = new Float32Array(51);
  for (let i = 0; i < 17; i++) k.set([10 * i, 5 * i, 0.9], 3 * i);
  return k;
}

Deno.test("KeypointSimilarity.similarity() is COCO's OKS", () => {
  const oks = new KeypointSimilarity();
  const a = pose();
  const b = pose();
  assertEquals(oks.similarity(a, b, 1000), 1);
  // The nose 5 px off: sigma 0.026, k = 0.052, e = 25 / (2 * 1000 * 0.052²) = 4.6228,
  // exp(-e) = 0.009822; the mean over 17 keypoints is (16 + 0.009822) / 17 = 0.941754.
  b[0] = 5;
  assertAlmostEquals(oks.similarity(a, b, 1000), 0.941754, 1e-6);
  assertEquals(COCO_KEYPOINT_SIGMAS.length, 17);
});

Deno.test("KeypointSimilarity.similarity() counts only keypoints confident in both poses", () => {
  const oks = new KeypointSimilarity();
  const a = pose();
  const b = pose();
  b[0] = 500;
  b[2] = 0.3; // the far-off nose is not confident: not counted
  assertEquals(oks.similarity(a, b, 1000), 1);
  for (let i = 2; i < 51; i += 3) b[i] = 0;
  assert(Number.isNaN(oks.similarity(a, b, 1000)), "nothing seen in both");
  assert(Number.isNaN(oks.similarity(a, new Float32Array(6), 1000)), "another layout");
  const xy = new KeypointSimilarity({ dims: 2, sigmas: [0.1, 0.1] });
  assertEquals(xy.similarity([0, 0, 1, 1], [0, 0, 1, 1], 10), 1);
});

Deno.test("KeypointSimilarity() refuses a sigma that is not positive", () => {
  assertThrows(() => new KeypointSimilarity({ sigmas: [0.1, -1] }), RangeError, "sigma 1");
});
