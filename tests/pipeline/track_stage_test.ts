// The tracking stage: ids on persons, the score filter after tracking, per-stream trackers kept
// across removals of other streams, events and metrics; its flags, its JSONL fields.

import { assert, assertEquals } from "../_assert.ts";
import type { Person } from "../../src/pose/decoder.ts";
import type { FrameResult } from "../../src/pipeline/result.ts";
import { toJsonlRecord } from "../../src/pipeline/jsonl_sink.ts";
import { decodeThreshold, TRACKING_DEFAULTS, TrackStage } from "../../src/pipeline/track_stage.ts";
import { TrackMetrics } from "../../src/metrics/track_metrics.ts";
import type { StreamTrackEvents } from "../../src/tracking/track_events.ts";
import { ConfigError, envNameOf, parseConfig } from "../../src/config.ts";

const LETTERBOX = { scale: 1, padX: 0, padY: 0, sourceWidth: 1000, sourceHeight: 1000 };

function person(x: number, score: number): Person {
  return { box: [x, 100, x + 100, 300], score, keypoints: new Float32Array(0) };
}

function result(stream: number, seq: number, persons: Person[]): FrameResult {
  const capturedAt = 1000 + seq * 100 / 3;
  return {
    frame: { stream, seq, capturedAt, pixels: new Uint8Array(0), letterbox: LETTERBOX },
    streamId: `s${stream}`,
    persons,
    decodedAt: capturedAt + 5,
    latencyMs: 5,
  };
}

function setUp() {
  const events: StreamTrackEvents[] = [];
  const metrics = new TrackMetrics();
  let now = 0;
  const stage = new TrackStage({
    tracking: TRACKING_DEFAULTS,
    scoreThreshold: 0.25,
    metrics,
    runId: "run1-abcd",
    listeners: [{ tracksChanged: (e) => events.push(e) }],
    now: () => now,
  });
  return { stage, events, metrics, setNow: (ms: number) => (now = ms) };
}

Deno.test("TrackStage.process() gives ids, keeps a person through low scores, shows only persons above the threshold", () => {
  const { stage } = setUp();
  stage.streamAdded({ index: 0, id: "s0" });
  const seen: (number | undefined)[][] = [];
  const counts: number[] = [];
  for (let seq = 0; seq < 30; seq++) {
    // Person a walks right; from frame 10 to 19 its score drops to 0.15 (under the threshold,
    // above --track-low). Person b stands still at 0.9.
    const a = person(100 + 5 * seq, seq >= 10 && seq < 20 ? 0.15 : 0.9);
    const b = person(600, 0.9);
    const r = result(0, seq, [a, b]);
    stage.process(r);
    assertEquals(r.runId, "run1-abcd");
    counts.push(r.persons.length);
    seen.push(r.persons.map((p) => p.trackId));
    assert(r.persons.every((p) => p.score > 0.25), "no person under the threshold is shown");
  }
  assertEquals(seen[0], [1, 2], "the tracker's first frame confirms at once");
  assertEquals(counts.slice(10, 20), Array(10).fill(1), "the low-score person is not shown");
  assertEquals(seen[25], [1, 2], "the same ids after the low-score stretch");
  assertEquals(stage.activeCount(0), 2);
});

Deno.test("TrackStage ends a removed stream's tracks (events, metrics) and never reuses its ids", () => {
  const { stage, events, metrics, setNow } = setUp();
  stage.streamAdded({ index: 0, id: "s0" });
  stage.streamAdded({ index: 1, id: "s1" });
  for (let seq = 0; seq < 5; seq++) {
    stage.process(result(0, seq, [person(100 + 5 * seq, 0.9)]));
    stage.process(result(1, seq, [person(400, 0.9), person(700, 0.9)]));
  }
  assertEquals(metrics.active.value(0), 1);
  assertEquals(metrics.active.value(1), 2);
  assertEquals(metrics.started.value(1), 2);
  const started = events.filter((e) => e.stream === 1).flatMap((e) => e.started);
  assertEquals(started.map((e) => [e.runId, e.trackId]), [["run1-abcd", 1], ["run1-abcd", 2]]);

  // s1 is removed: its two tracks end (reason "stopped"), its series go; s0 is not touched.
  setNow(2000);
  stage.streamRemoved({ index: 1, id: "s1" });
  const ended = events.at(-1)!;
  assertEquals([ended.streamId, ended.active], ["s1", 0]);
  assertEquals(ended.ended.map((e) => [e.trackId, e.reason, e.endedAtMs]), [
    [1, "stopped", 2000],
    [2, "stopped", 2000],
  ]);
  assertEquals(metrics.duration.count(0), 2);
  assertEquals(metrics.active.labelSets[1], null, "the removed stream's series are gone");
  assertEquals(metrics.active.value(0), 1, "the other stream's tracks go on");
  // A frame of the removed stream still in flight: filtered, not tracked.
  const late = result(1, 5, [person(400, 0.9), person(500, 0.1)]);
  stage.process(late);
  assertEquals(late.persons.map((p) => p.trackId), [undefined]);

  // The same id comes back (a restart under a new index): its ids go on from 3.
  stage.streamAdded({ index: 2, id: "s1" });
  // (Its tracker has seen frames before: a new person is confirmed in its second frame.)
  for (const seq of [0, 1]) {
    const back = result(2, seq, [person(400, 0.9)]);
    back.frame.capturedAt = 3000 + seq * 33;
    stage.process(back);
    assertEquals(back.persons[0]!.trackId, seq === 0 ? undefined : 3);
  }

  // The stop ends every open track.
  stage.stop();
  const last = events.slice(-2).map((e) => [e.streamId, e.ended.map((t) => t.trackId)]);
  assertEquals(last, [["s0", [1]], ["s1", [3]]]);
});

Deno.test("TrackStage tracks on with a frame time that goes back (clamped, not thrown)", () => {
  const { stage } = setUp();
  stage.streamAdded({ index: 0, id: "s0" });
  const a = result(0, 1, [person(100, 0.9)]);
  stage.process(a);
  const b = result(0, 0, [person(102, 0.9)]);
  stage.process(b);
  assertEquals(b.persons[0]!.trackId, 1);
});

Deno.test("decodeThreshold() lowers the decoder's threshold to --track-low only with tracking", () => {
  assertEquals(decodeThreshold(0.25, TRACKING_DEFAULTS), 0.1);
  assertEquals(decodeThreshold(0.05, TRACKING_DEFAULTS), 0.05);
  assertEquals(decodeThreshold(0.25, { ...TRACKING_DEFAULTS, enabled: false }), 0.25);
});

Deno.test("toJsonlRecord() writes run_id and each tracked person's track_id", () => {
  const r = result(0, 3, [{ ...person(100, 0.9), trackId: 7 }, person(300, 0.5)]);
  r.runId = "run1-abcd";
  const record = toJsonlRecord(r);
  assertEquals(record.run_id, "run1-abcd");
  assertEquals(record.persons.map((p) => p.track_id), [7, undefined]);
  assertEquals(Object.keys(JSON.parse(JSON.stringify(record)).persons[0]), [
    "box",
    "score",
    "track_id",
    "keypoints",
  ]);
  const untracked = toJsonlRecord(result(0, 3, [person(100, 0.9)]));
  assert(!("run_id" in untracked) && !("track_id" in untracked.persons[0]!));
});

Deno.test("parseConfig() reads the --track flags: on by default, --no-track, ranges, variables", () => {
  const base = ["--streams", "1"];
  const d = parseConfig(base).tracking;
  assertEquals(d, { ...TRACKING_DEFAULTS });
  assertEquals(parseConfig([...base, "--no-track"]).tracking.enabled, false);
  assertEquals(parseConfig(base, { [envNameOf("no-track")]: "1" }).tracking.enabled, false);
  const t = parseConfig([
    ...base,
    "--track-high",
    "0.5",
    "--track-low=0.2",
    "--track-new",
    "0.6",
    "--track-match",
    "0.7",
    "--track-buffer-s",
    "2.5",
    "--track-keypoint-weight",
    "0.6",
  ]).tracking;
  assertEquals(
    [t.highThreshold, t.lowThreshold, t.newTrackThreshold, t.matchThreshold],
    [0.5, 0.2, 0.6, 0.7],
  );
  assertEquals([t.lostTrackBufferMs, t.keypointWeight], [2500, 0.6]);
  assertEquals(
    parseConfig(base, { POSE_EXPORTER_TRACK_BUFFER_S: "3" }).tracking.lostTrackBufferMs,
    3000,
  );
  const problems = (args: string[]) => {
    try {
      parseConfig([...base, ...args]);
    } catch (err) {
      if (err instanceof ConfigError) return err.problems.join("\n");
      throw err;
    }
    return "";
  };
  assert(problems(["--track-low", "0.3"]).includes("--track-low: 0.3 is above --track-high"));
  assert(problems(["--track", "--no-track"]).includes("contradict"));
  assert(problems(["--track-high", "1.5"]).includes("--track-high"));
});
