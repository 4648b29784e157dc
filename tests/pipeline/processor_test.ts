import { assertAlmostEquals, assertEquals } from "../_assert.ts";
import { Batcher } from "../../src/pipeline/batcher.ts";
import { PoseProcessor } from "../../src/pipeline/processor.ts";
import type { FrameResult } from "../../src/pipeline/result.ts";
import type { InferenceOutput, InferenceRunner } from "../../src/pose/inference.ts";
import type { Frame } from "../../src/sources/frame.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { FrameMetrics } from "../../src/pipeline/frame_metrics.ts";
import { PIPELINE_STAGES } from "../../src/metrics/definitions.ts";
import { Logger } from "../../src/log.ts";

const QUIET = new Logger({ writer: { writeLine: () => {} } });
const LETTERBOX = { scale: 1, padX: 0, padY: 0, sourceWidth: 4, sourceHeight: 4 };

/** A runner on a fake clock: the run takes 20 ms of inference, 5 ms of decoding, 7 ms of trips. */
class ClockedRunner implements InferenceRunner {
  readonly provider = "cpu" as const;
  readonly shapes = [1, 2];
  constructor(readonly clock: { now: number }) {}
  run(frames: readonly Frame[]): Promise<InferenceOutput> {
    this.clock.now += 32;
    return Promise.resolve({
      persons: frames.map(() => []),
      shape: frames.length,
      seconds: 0.020,
      decodeSeconds: 0.005,
    });
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("PoseProcessor - the stages inside a frame's span add up to its end-to-end latency", async () => {
  const clock = { now: 1000 };
  const now = () => clock.now;
  const metrics = new PoseMetrics(["a", "b"], { now });
  const batcher = new Batcher(2, { maxBatch: 2, timeoutMs: 0, queueFrames: 4, now });
  const results: FrameResult[] = [];
  const processor = new PoseProcessor({
    batcher,
    runner: new ClockedRunner(clock),
    streamId: (s) => ["a", "b"][s]!,
    sinks: [{ write: (r) => results.push(r), close: () => Promise.resolve() }],
    metrics: new FrameMetrics(metrics),
    log: QUIET,
    now,
    depth: 1,
  });
  const pixels = new Uint8Array(48);
  batcher.push({ stream: 0, seq: 0, capturedAt: 990, readMs: 3, pixels, letterbox: LETTERBOX });
  batcher.push({ stream: 1, seq: 0, capturedAt: 975, pixels, letterbox: LETTERBOX });
  batcher.close();
  await processor.run();
  assertEquals(results.map((r) => r.latencyMs), [42, 57]);
  const sum = (stage: string) => metrics.stageSeconds.sum(PIPELINE_STAGES.indexOf(stage as never));
  const count = (stage: string) =>
    metrics.stageSeconds.count(PIPELINE_STAGES.indexOf(stage as never));
  const inSpan = ["queue", "handoff", "inference", "postprocess"];
  const spanTotal = inSpan.reduce((total, stage) => total + sum(stage), 0);
  assertAlmostEquals(spanTotal, (42 + 57) / 1000, 1e-9, "the span's stages add up");
  assertAlmostEquals(sum("queue"), (10 + 25) / 1000, 1e-9);
  assertAlmostEquals(sum("inference"), 2 * 0.020, 1e-9);
  assertAlmostEquals(sum("postprocess"), 2 * 0.005, 1e-9);
  assertAlmostEquals(sum("handoff"), 2 * 0.007, 1e-9);
  assertEquals(count("source"), 1, "only a frame whose source timed its read");
  assertAlmostEquals(sum("source"), 0.003, 1e-9);
  assertEquals(count("sink"), 2);
});

Deno.test("PoseProcessor - a tap sees each frame it wants before the pixels are released", async () => {
  const metrics = new PoseMetrics(["a"]);
  const batcher = new Batcher(1, { maxBatch: 2, timeoutMs: 0, queueFrames: 4 });
  const events: string[] = [];
  const processor = new PoseProcessor({
    batcher,
    runner: new ClockedRunner({ now: 0 }),
    streamId: () => "a",
    sinks: [],
    metrics: new FrameMetrics(metrics),
    log: QUIET,
    tap: {
      wants: (stream) => stream === 0,
      capture: (frame) => events.push(`capture ${frame.seq}`),
    },
  });
  for (const seq of [0, 1]) {
    batcher.push({
      stream: 0,
      seq,
      capturedAt: performance.now(),
      pixels: new Uint8Array(48),
      letterbox: LETTERBOX,
      release: () => events.push(`release ${seq}`),
    });
  }
  batcher.close();
  await processor.run();
  assertEquals(events, ["capture 0", "release 0", "capture 1", "release 1"]);
});

/** A runner whose first batch takes longer than the second, as with a session swap. */
class SlowFirstRunner implements InferenceRunner {
  readonly provider = "cpu" as const;
  readonly shapes = [1];
  #calls = 0;
  async run(frames: readonly Frame[]): Promise<InferenceOutput> {
    const delay = this.#calls++ === 0 ? 40 : 1;
    await new Promise((r) => setTimeout(r, delay));
    return { persons: frames.map(() => []), shape: 1, seconds: 0, decodeSeconds: 0 };
  }
  release(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("PoseProcessor - results leave in batch order even when a later batch returns first", async () => {
  const metrics = new PoseMetrics(["a"]);
  const batcher = new Batcher(1, { maxBatch: 1, timeoutMs: 0, queueFrames: 4 });
  const seqs: number[] = [];
  const processor = new PoseProcessor({
    batcher,
    runner: new SlowFirstRunner(),
    streamId: () => "a",
    sinks: [{ write: (r) => seqs.push(r.frame.seq), close: () => Promise.resolve() }],
    metrics: new FrameMetrics(metrics),
    log: QUIET,
    depth: 2,
  });
  for (const seq of [0, 1, 2]) {
    batcher.push({
      stream: 0,
      seq,
      capturedAt: 0,
      pixels: new Uint8Array(3),
      letterbox: LETTERBOX,
    });
  }
  batcher.close();
  await processor.run();
  assertEquals(seqs, [0, 1, 2]);
});

Deno.test("PoseProcessor - a frame's pixels go back to their pool only after every sink saw its result", async () => {
  const metrics = new PoseMetrics(["a"]);
  const batcher = new Batcher(1, { maxBatch: 2, timeoutMs: 0, queueFrames: 4 });
  const events: string[] = [];
  const sink = (name: string) => ({
    write: (r: FrameResult) => events.push(`${name} ${r.frame.seq}`),
    close: () => Promise.resolve(),
  });
  const processor = new PoseProcessor({
    batcher,
    runner: new ClockedRunner({ now: 0 }),
    streamId: () => "a",
    sinks: [sink("first"), sink("second")],
    metrics: new FrameMetrics(metrics),
    log: QUIET,
  });
  for (const seq of [0, 1]) {
    batcher.push({
      stream: 0,
      seq,
      capturedAt: performance.now(),
      pixels: new Uint8Array(48),
      letterbox: LETTERBOX,
      release: () => events.push(`release ${seq}`),
    });
  }
  batcher.close();
  await processor.run();
  assertEquals(events, ["first 0", "second 0", "release 0", "first 1", "second 1", "release 1"]);
  assertEquals(metrics.frames.value(0), 2, "the metrics recorded both frames");
});
