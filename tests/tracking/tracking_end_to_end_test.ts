// The synthetic scene through a noisy simulated detector and the tracker, scored with MOT metrics.

import { assert, assertEquals } from "../_assert.ts";
import { ByteTracker, type ByteTrackerOptions } from "../../src/tracking/byte_tracker.ts";
import {
  formatMotRow,
  type MotScores,
  parseMotText,
  scoreMot,
} from "../../src/tracking/mot_metrics.ts";
import {
  SimulatedDetector,
  type SimulatedDetectorOptions,
} from "../../src/tracking/simulated_detector.ts";
import { SyntheticScene } from "../../src/tracking/synthetic_scene.ts";

interface Run {
  scores: MotScores;
  /** Track ids given to each ground-truth person. */
  tracksOf: Map<number, Set<number>>;
}

function track(
  fps: number,
  detector: SimulatedDetectorOptions,
  tracker: ByteTrackerOptions = {},
): Run {
  const scene = new SyntheticScene();
  const durationMs = 2 * scene.periodMs;
  const gt = parseMotText(scene.groundTruth({ fps, durationMs }));
  const detect = new SimulatedDetector(detector);
  const tracks = new ByteTracker({ runId: "e2e", ...tracker });
  const lines: string[] = [];
  const tracksOf = new Map<number, Set<number>>();
  for (let frame = 1;; frame++) {
    const t = (frame - 1) * 1000 / fps;
    if (t >= durationMs) break;
    const detections = detect.detect(scene.personsAt(t));
    const ids = tracks.update(detections, t).ids;
    detections.forEach((d, i) => {
      const id = ids[i];
      if (id === null || id === undefined) return;
      const [x1, y1, x2, y2] = d.box;
      lines.push(formatMotRow({
        frame,
        id,
        left: x1,
        top: y1,
        width: x2 - x1,
        height: y2 - y1,
        conf: d.score,
        classId: -1,
        visibility: -1,
      }));
      if (!tracksOf.has(d.truthId)) tracksOf.set(d.truthId, new Set());
      tracksOf.get(d.truthId)!.add(id);
    });
  }
  return { scores: scoreMot(gt, parseMotText(lines.join("\n"))), tracksOf };
}

function assertGood(run: Run): void {
  const s = run.scores;
  assert(s.idf1 >= 0.95, `IDF1 ${s.idf1}`);
  assertEquals(s.switches, 0);
  // The one-second occlusion (persons 3 and 8) and the crossing (1-2, 6-7) keep their ids.
  for (const person of [1, 2, 3, 6, 7, 8]) assertEquals(run.tracksOf.get(person)?.size, 1);
}

Deno.test("ByteTracker on the synthetic scene with small noise: IDF1 >= 0.95, no id switch", () => {
  const run = track(30, { seed: 1, boxNoise: 0.02, keypointNoise: 0.01 });
  assertGood(run);
  assert(run.scores.mota > 0.98, `MOTA ${run.scores.mota}`);
});

Deno.test("ByteTracker on the synthetic scene behind the decoder's NMS (0.45) with noisier boxes", () => {
  assertGood(track(30, { seed: 2, boxNoise: 0.03, nmsIou: 0.45 }));
});

Deno.test("ByteTracker on the synthetic scene at 15 fps, and at 30 fps with the keypoint term", () => {
  assertGood(track(15, { seed: 3, boxNoise: 0.02 }));
  assertGood(track(30, { seed: 1, boxNoise: 0.02 }, { keypointWeight: 0.3 }));
});
