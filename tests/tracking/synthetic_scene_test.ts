import { assert, assertAlmostEquals, assertEquals } from "../_assert.ts";
import {
  SCENE_PERIOD_MS,
  stickFigure,
  SyntheticScene,
} from "../../src/tracking/synthetic_scene.ts";
import { parseMotText } from "../../src/tracking/mot_metrics.ts";
import { boxIou } from "../../src/tracking/_box_iou.ts";

const PERIOD = 1000 / 30;
/** Frames of one cycle at 30 fps. */
const CYCLE = SCENE_PERIOD_MS * 30 / 1000;
const scene = new SyntheticScene();

function frames(count: number) {
  return Array.from({ length: count }, (_, f) => scene.personsAt(f * PERIOD));
}

Deno.test("SyntheticScene.personsAt() moves people continuously, across cycles too", () => {
  const all = frames(2 * CYCLE + 30);
  for (let f = 1; f < all.length; f++) {
    for (const p of all[f]!) {
      const before = all[f - 1]!.find((q) => q.id === p.id);
      if (!before) continue;
      const dx = (p.box[0] + p.box[2] - before.box[0] - before.box[2]) / 2;
      const dy = (p.box[1] + p.box[3] - before.box[1] - before.box[3]) / 2;
      assert(
        Math.hypot(dx, dy) < 20,
        `person ${p.id} jumps ${Math.hypot(dx, dy)} px at frame ${f}`,
      );
    }
  }
  assertEquals(scene.personsAt(0), []);
  assertEquals(scene.personsAt(SCENE_PERIOD_MS - 1), []);
});

Deno.test("SyntheticScene - one person is hidden behind the sign for exactly one second", () => {
  const [from, to] = scene.occlusionMs;
  assertAlmostEquals(to - from, 1000, 1e-9);
  const seen = frames(CYCLE).map((people) => people.some((p) => p.id === 3));
  const first = seen.indexOf(true);
  const last = seen.lastIndexOf(true);
  const hidden = seen.slice(first, last + 1).filter((s) => !s).length;
  assertEquals(hidden, 30);
  const behind = scene.personsAt((from + to) / 2, { includeHidden: true }).find((p) => p.id === 3);
  assert(behind && behind.visibility < 0.5, "drawn, but less than half visible");
  assert(scene.personsAt(from - 50).some((p) => p.id === 3 && p.visibility >= 0.5));
});

Deno.test("SyntheticScene - two people cross, overlapping but not enough for NMS to merge them", () => {
  let maxIou = 0;
  let order = 0;
  let swapped = false;
  for (const people of frames(CYCLE)) {
    const a = people.find((p) => p.id === 1);
    const b = people.find((p) => p.id === 2);
    if (!a || !b) continue;
    maxIou = Math.max(maxIou, boxIou(a.box, b.box));
    const now = Math.sign(a.box[0] - b.box[0]);
    if (order !== 0 && now !== 0 && now !== order) swapped = true;
    if (now !== 0) order = now;
  }
  assert(swapped, "they pass each other");
  assert(maxIou > 0.3 && maxIou < 0.45, `max IoU ${maxIou}`);
});

Deno.test("SyntheticScene - people enter and leave, each cycle with fresh ids", () => {
  const ids = new Set(frames(2 * CYCLE).flat().map((p) => p.id));
  assertEquals([...ids].sort((a, b) => a - b), [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
  const entering = scene.personsAt(700).find((p) => p.id === 1)!;
  assertEquals(entering.box[0], 0, "clipped at the frame's left edge");
});

Deno.test("SyntheticScene - nobody is in view for the last 1.8 s of a cycle and its first 0.2 s", () => {
  for (const layout of ["mixed", "uniform"] as const) {
    const s = new SyntheticScene({ layout });
    let lastSeen = -1;
    let firstSeen = -1;
    for (let t = 0; t < 2 * SCENE_PERIOD_MS; t += 10) {
      const inView = s.personsAt(t, { includeHidden: true }).length > 0;
      if (inView && t < SCENE_PERIOD_MS) lastSeen = t;
      if (inView && t >= SCENE_PERIOD_MS && firstSeen < 0) firstSeen = t;
    }
    // Longer than the tracker's lost buffer (1 s): a cycle's tracks all end before the next one.
    assert(firstSeen - lastSeen >= 2000 - 20, `${layout}: gap ${firstSeen - lastSeen} ms`);
  }
});

Deno.test("SyntheticScene - keypoints sit on a stick figure inside the box", () => {
  for (const p of scene.personsAt(4000)) {
    if (p.box[0] <= 0 || p.box[2] >= scene.width) continue;
    for (let k = 0; k < 17; k++) {
      const x = p.keypoints[3 * k]!, y = p.keypoints[3 * k + 1]!;
      assert(x >= p.box[0] && x <= p.box[2] && y >= p.box[1] && y <= p.box[3], `${p.id} kp ${k}`);
      assertAlmostEquals(p.keypoints[3 * k + 2]!, 0.9, 1e-6);
    }
  }
  const still = stickFigure([0, 0, 100, 200], { facing: 0, swing: 0 });
  assertEquals([still[0], still[1]], [50, 20]); // the nose, centred, near the top
});

Deno.test("SyntheticScene.groundTruth() writes gt.txt lines, frames from 1, as personsAt() sees them", () => {
  const rows = parseMotText(scene.groundTruth({ fps: 10, durationMs: 5000 }));
  assertEquals(rows[0]!.frame >= 1, true);
  for (let frame = 1; frame <= 50; frame++) {
    const expected = scene.personsAt((frame - 1) * 100);
    const got = rows.filter((r) => r.frame === frame);
    assertEquals(got.map((r) => r.id), expected.map((p) => p.id));
    got.forEach((r, i) => {
      assertAlmostEquals(r.left, expected[i]!.box[0], 0.006);
      assertAlmostEquals(r.width, expected[i]!.box[2] - expected[i]!.box[0], 0.011);
      assertEquals([r.conf, r.classId], [1, 1]);
    });
  }
  assert(rows.every((r) => r.frame <= 50));
});
