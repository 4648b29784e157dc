import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  ByteTracker,
  type TrackerDetection,
  TrackerError,
} from "../../src/tracking/byte_tracker.ts";
import { SimulatedDetector } from "../../src/tracking/simulated_detector.ts";
import { SyntheticScene } from "../../src/tracking/synthetic_scene.ts";

const PERIOD = 1000 / 30;

/** A 60 x 150 person whose box left edge is at `x`. */
function person(x: number, y = 100, score = 0.9): TrackerDetection {
  return { box: [x, y, x + 60, y + 150], score };
}

/** A walker at `speed` px/s to the right, seen at time `t` ms. */
function walker(t: number, speed = 90, from = 100): TrackerDetection {
  return person(from + speed * t / 1000);
}

Deno.test("ByteTracker.update() keeps one id for a person walking across", () => {
  const tracker = new ByteTracker({ runId: "r" });
  const ids = new Set<number | null>();
  for (let f = 0; f < 90; f++) ids.add(tracker.update([walker(f * PERIOD)], f * PERIOD).ids[0]!);
  assertEquals([...ids], [1]);
  assertEquals(tracker.activeCount, 1);
});

Deno.test("ByteTracker.update() gives ids at once in the first frame, later only on a second sighting", () => {
  const tracker = new ByteTracker({ runId: "r" });
  const first = tracker.update([person(0)], 0);
  assertEquals(first.ids, [1]);
  assertEquals(first.started.map((e) => e.trackId), [1]);
  // A newcomer is unconfirmed in its first frame: no id, none spent.
  assertEquals(tracker.update([person(2), person(300)], PERIOD).ids, [1, null]);
  const third = tracker.update([person(4), person(302)], 2 * PERIOD);
  assertEquals(third.ids, [1, 2]);
  assertEquals(third.started.map((e) => [e.trackId, e.firstSeenMs, e.atMs]), [[
    2,
    PERIOD,
    2 * PERIOD,
  ]]);
});

Deno.test("ByteTracker.update() spends no id on a detection seen in one frame only", () => {
  const tracker = new ByteTracker({ runId: "r" });
  tracker.update([person(0)], 0);
  tracker.update([person(0), person(400)], PERIOD); // a one-frame false detection
  tracker.update([person(0)], 2 * PERIOD);
  tracker.update([person(0)], 3 * PERIOD);
  assertEquals(tracker.update([person(0), person(700)], 4 * PERIOD).ids, [1, null]);
  assertEquals(tracker.update([person(0), person(700)], 5 * PERIOD).ids, [1, 2]);
});

Deno.test("ByteTracker.update() keeps the id through a one-second occlusion", () => {
  const tracker = new ByteTracker({ runId: "r" });
  const seen: (number | null)[] = [];
  const ended: number[] = [];
  for (let f = 0; f < 120; f++) {
    const t = f * PERIOD;
    // Hidden for frames 40..69: 30 frames, one second at 30 fps.
    const visible = f < 40 || f >= 70;
    const u = tracker.update(visible ? [walker(t)] : [], t);
    if (visible) seen.push(u.ids[0]!);
    ended.push(...u.ended.map((e) => e.trackId));
    if (!visible) assertEquals(tracker.lostCount, 1);
  }
  assertEquals(new Set(seen), new Set([1]));
  assertEquals(ended, []);
});

Deno.test("ByteTracker.update() keeps the id through a one-second occlusion when frame times jitter", () => {
  // Frame times as a real clock gives them: up to 8 ms late. Hidden for exactly the buffer (30
  // frames), the person is back in the 31st frame, as with a frame count; a frame late by a
  // millisecond must not end the track one frame early.
  for (const late of [1, 8, 16]) {
    const tracker = new ByteTracker({ runId: "r" });
    const seen = new Set<number | null>();
    for (let f = 0; f < 110; f++) {
      // The last frame of the occlusion is late; the others jitter a little.
      const t = f * PERIOD + (f === 69 ? late : (f % 3) * 0.5);
      const visible = f < 40 || f >= 70;
      const u = tracker.update(visible ? [walker(t)] : [], t);
      if (visible) seen.add(u.ids[0]!);
    }
    assertEquals([...seen], [1], `the occlusion's last frame late by ${late} ms`);
  }
  // One frame more and the track has ended, jitter or not.
  const tracker = new ByteTracker({ runId: "r" });
  const ids = new Set<number | null>();
  for (let f = 0; f < 110; f++) {
    const t = f * PERIOD + (f % 2) * 8;
    const visible = f < 40 || f >= 72;
    const u = tracker.update(visible ? [walker(t)] : [], t);
    if (visible && u.ids[0] !== null) ids.add(u.ids[0]!);
  }
  assertEquals([...ids], [1, 2]);
});

Deno.test("ByteTracker.update() ends a track lost for longer than the buffer, then gives a new id", () => {
  const tracker = new ByteTracker({ runId: "r" });
  const ids = new Set<number | null>();
  const ended = [];
  for (let f = 0; f < 120; f++) {
    const t = f * PERIOD;
    const visible = f < 40 || f >= 80; // 40 frames hidden: 1.33 s
    const u = tracker.update(visible ? [walker(t)] : [], t);
    if (visible && u.ids[0] !== null) ids.add(u.ids[0]!);
    ended.push(...u.ended);
  }
  assertEquals([...ids], [1, 2]);
  assertEquals(ended.length, 1);
  assertEquals(ended[0]!.reason, "lost");
  assertEquals(ended[0]!.lastSeenMs, 39 * PERIOD);
  assertEquals(ended[0]!.durationMs, 39 * PERIOD);
});

Deno.test("ByteTracker.update() counts the lost buffer in time, not frames", () => {
  // At 10 fps, 15 missing frames are 1.5 s: past the 1-s buffer (30 frames would keep it).
  const slow = new ByteTracker({ runId: "r" });
  const slowIds = new Set<number | null>();
  for (let f = 0; f < 60; f++) {
    const t = f * 100;
    const visible = f < 20 || f >= 35;
    const u = slow.update(visible ? [walker(t, 30)] : [], t);
    if (visible && u.ids[0] !== null) slowIds.add(u.ids[0]!);
  }
  assertEquals([...slowIds], [1, 2]);
  // At 60 fps, 50 missing frames are 0.83 s: within the buffer (30 frames would have dropped it).
  const fast = new ByteTracker({ runId: "r" });
  const fastIds = new Set<number | null>();
  for (let f = 0; f < 200; f++) {
    const t = f * 1000 / 60;
    const visible = f < 60 || f >= 110;
    const u = fast.update(visible ? [walker(t)] : [], t);
    if (visible) fastIds.add(u.ids[0]!);
  }
  assertEquals([...fastIds], [1]);
});

Deno.test("ByteTracker.update() keeps the id when a detection is missing or low-score for a frame", () => {
  const tracker = new ByteTracker({ runId: "r" });
  const ids: (number | null)[] = [];
  for (let f = 0; f < 60; f++) {
    const t = f * PERIOD;
    let detections = [walker(t)];
    if (f === 20) detections = [];
    if (f === 30) detections = [{ ...walker(t), score: 0.15 }]; // between low and high
    const u = tracker.update(detections, t);
    if (detections.length) ids.push(u.ids[0]!);
    assertEquals(u.started.length, f === 0 ? 1 : 0);
  }
  assert(ids.every((id) => id === 1), ids.join());
  // A low-score detection never starts a track, and one below the low threshold is ignored.
  const fresh = new ByteTracker({ runId: "r" });
  for (let f = 0; f < 5; f++) {
    const u = fresh.update([person(0, 100, 0.2), person(300, 100, 0.05)], f * PERIOD);
    assertEquals(u.ids, [null, null]);
  }
  assertEquals(fresh.activeCount, 0);
});

Deno.test("ByteTracker.update() survives dropped frames: prediction follows elapsed time", () => {
  // 450 px/s: 15 px per frame for a 60-px-wide box. After half a second, frames are dropped in
  // runs of up to 4, so the person moves up to 75 px (more than the box width) between frames.
  const run = (clock: (f: number, delivered: number) => number) => {
    const detector = new SimulatedDetector({ seed: 4, boxNoise: 0.01 });
    const tracker = new ByteTracker({ runId: "r" });
    const ids = new Set<number | null>();
    let f = 0;
    for (let delivered = 0; f < 150; delivered++) {
      const box = walker(f * PERIOD, 450, 0).box;
      const [d] = detector.detect([{ id: 1, box, keypoints: new Float32Array(0) }]);
      ids.add(tracker.update([d!], clock(f, delivered)).ids[0]!);
      f += f < 15 ? 1 : 1 + Math.floor(detector.random() * 5);
    }
    return [...ids];
  };
  assertEquals(run((f) => f * PERIOD), [1]);
  // The same frames stamped as if none had been dropped (a tracker counting frames) lose it.
  assert(run((_, delivered) => delivered * PERIOD).length > 1);
});

Deno.test("ByteTracker.update() lets no two people swap ids where they cross in the synthetic scene", () => {
  const scene = new SyntheticScene();
  const detector = new SimulatedDetector({ seed: 8, boxNoise: 0.02 });
  const tracker = new ByteTracker({ runId: "r" });
  const tracksOf = new Map<number, Set<number>>();
  const peopleOf = new Map<number, Set<number>>();
  for (let f = 0; f < 12 * 30; f++) {
    const t = f * PERIOD;
    const detections = detector.detect(scene.personsAt(t));
    const ids = tracker.update(detections, t).ids;
    detections.forEach((d, i) => {
      const id = ids[i];
      if (id === null || id === undefined) return;
      if (!tracksOf.has(d.truthId)) tracksOf.set(d.truthId, new Set());
      tracksOf.get(d.truthId)!.add(id);
      if (!peopleOf.has(id)) peopleOf.set(id, new Set());
      peopleOf.get(id)!.add(d.truthId);
    });
  }
  // Persons 1 and 2 cross; person 3 passes behind the sign. Each keeps one id, each id one person.
  for (const [truth, tracks] of tracksOf) {
    assertEquals(tracks.size, 1, `person ${truth}: ${[...tracks]}`);
  }
  for (const [id, people] of peopleOf) assertEquals(people.size, 1, `track ${id}: ${[...people]}`);
  assertEquals(tracksOf.size, 5);
});

Deno.test("ByteTracker.update() never reuses an id, also after endAll()", () => {
  const scene = new SyntheticScene();
  const tracker = new ByteTracker({ runId: "r" });
  const started: number[] = [];
  const ended: number[] = [];
  for (let f = 0; f < 2 * 12 * 30; f++) {
    const t = f * PERIOD;
    const u = tracker.update(scene.personsAt(t).map((p) => ({ box: p.box, score: 0.9 })), t);
    started.push(...u.started.map((e) => e.trackId));
    ended.push(...u.ended.map((e) => e.trackId));
  }
  assertEquals(started, Array.from({ length: 10 }, (_, i) => i + 1));
  assertEquals(new Set(ended).size, ended.length);
  const stopped = tracker.endAll(24_000);
  assertEquals(stopped.map((e) => e.reason), stopped.map(() => "stopped"));
  assertEquals(tracker.activeCount + tracker.lostCount, 0);
  // The result's arrays are reused: copy what is kept.
  const again = [...tracker.update([person(0)], 24_100).ids];
  const confirmed = [...tracker.update([person(0)], 24_133).ids];
  assertEquals([again, confirmed], [[null], [11]]);
});

Deno.test("ByteTracker - an ended event carries duration, first and last seen, last box and keypoints", () => {
  const tracker = new ByteTracker({ runId: "run-7" });
  const keypoints = new Float32Array(51).fill(3);
  for (let f = 0; f <= 10; f++) {
    tracker.update([{ ...person(f), keypoints }], 1000 + f * 100);
  }
  keypoints.fill(0); // the event keeps a copy
  let ended = null;
  for (let t = 2100; !ended; t += 100) ended = tracker.update([], t).ended[0];
  assertEquals(ended, {
    type: "ended",
    runId: "run-7",
    trackId: 1,
    reason: "lost",
    firstSeenMs: 1000,
    lastSeenMs: 2000,
    durationMs: 1000,
    endedAtMs: 3100,
    box: [10, 100, 70, 250],
    keypoints: new Float32Array(51).fill(3),
  });
});

Deno.test("ByteTracker.update() reuses its result and skips boxes without area", () => {
  const tracker = new ByteTracker({ runId: "r" });
  const a = tracker.update([person(0), { box: [5, 5, 5, 50], score: 0.9 }], 0);
  const ids = a.ids;
  assertEquals(ids, [1, null]);
  const b = tracker.update([person(1)], PERIOD);
  assert(b === a && b.ids === ids, "the same result object and arrays each frame");
});

Deno.test("ByteTracker.update() refuses a frame time that goes back or is not a number", () => {
  const tracker = new ByteTracker({ runId: "r" });
  tracker.update([], 100);
  tracker.update([], 100);
  assertThrows(
    () => tracker.update([], 99),
    TrackerError,
    "99 ms is before the previous frame's 100 ms",
  );
  assertThrows(() => tracker.update([], NaN), TrackerError, "not a number");
});

Deno.test("ByteTracker() refuses options out of range, naming them", () => {
  assertThrows(() => new ByteTracker({ matchThreshold: 1.5 }), TrackerError, "matchThreshold");
  assertThrows(
    () => new ByteTracker({ lowThreshold: 0.5, highThreshold: 0.3 }),
    TrackerError,
    "lowThreshold 0.5 is above highThreshold 0.3",
  );
  assertThrows(() => new ByteTracker({ lostTrackBufferMs: -1 }), TrackerError, "lostTrackBufferMs");
  assertThrows(() => new ByteTracker({ runId: "" }), TrackerError, "runId");
  assertThrows(
    () => new ByteTracker({ keypointWeight: 0.3, keypointSigmas: [0] }),
    TrackerError,
    "sigma",
  );
  assert(/^[0-9a-z]+-[0-9a-z]{4}$/.test(new ByteTracker().runId));
});

Deno.test("ByteTracker - the keypoint term tells apart two people whose boxes coincide", () => {
  // Two people with the same box, arms up or down: IoU cannot tell them apart, OKS can.
  const box: [number, number, number, number] = [100, 100, 200, 300];
  const pose = (armsUp: boolean) => {
    const k = new Float32Array(51);
    for (let i = 0; i < 17; i++) {
      k[3 * i] = 110 + 5 * i;
      k[3 * i + 1] = armsUp && i >= 7 && i <= 10 ? 110 : 110 + 10 * i;
      k[3 * i + 2] = 0.9;
    }
    return k;
  };
  const run = (keypointWeight: number) => {
    const tracker = new ByteTracker({ runId: "r", keypointWeight });
    tracker.update([{ box, score: 0.9, keypoints: pose(true) }], 0);
    // The same person is now second in the list, after a stranger with the other pose whose
    // box (slightly bigger score) overlaps the track as much.
    const u = tracker.update([
      { box, score: 0.95, keypoints: pose(false) },
      { box, score: 0.9, keypoints: pose(true) },
    ], PERIOD);
    return [...u.ids];
  };
  assertEquals(run(0), [1, null], "by IoU and score alone the stranger wins");
  assertEquals(run(0.5), [null, 1]);
});
