import { assert, assertEquals } from "../_assert.ts";
import { Batcher } from "../../src/pipeline/batcher.ts";
import type { Frame } from "../../src/sources/frame.ts";
import type { InferenceOutput, InferenceRunner } from "../../src/pose/inference.ts";
import { SwappableRunner } from "../../src/pose/swappable_runner.ts";
import { PoseProcessor } from "../../src/pipeline/processor.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { FrameMetrics } from "../../src/pipeline/frame_metrics.ts";
import { Logger } from "../../src/log.ts";
import type { FrameResult } from "../../src/pipeline/result.ts";

/** A runner that records the frames it ran, takes a little time, and outputs nothing detected. */
class RecordingRunner implements InferenceRunner {
  readonly provider = "cpu" as const;
  readonly shapes = [1, 2, 4];
  ran: string[] = [];
  released = false;
  runsAfterRelease = 0;
  constructor(readonly name: string) {}
  async run(frames: readonly Frame[]): Promise<InferenceOutput> {
    if (this.released) this.runsAfterRelease++;
    for (const f of frames) this.ran.push(`${f.stream}:${f.seq}`);
    const shape = this.shapes.find((s) => s >= frames.length)!;
    await new Promise((r) => setTimeout(r, 2));
    return { persons: frames.map(() => []), shape, seconds: 0.002, decodeSeconds: 0 };
  }
  release(): Promise<void> {
    this.released = true;
    return Promise.resolve();
  }
}

Deno.test("SwappableRunner - a swap mid-stream loses no frame and runs none twice", async () => {
  const first = new RecordingRunner("first");
  const second = new RecordingRunner("second");
  const swappable = new SwappableRunner(first);
  const batcher = new Batcher(2, { maxBatch: 4, timeoutMs: 1, queueFrames: 1000 });
  const written: FrameResult[] = [];
  const processor = new PoseProcessor({
    batcher,
    runner: swappable,
    streamId: (stream) => ["a", "b"][stream]!,
    sinks: [{ write: (r) => written.push(r), close: () => Promise.resolve() }],
    metrics: new FrameMetrics(new PoseMetrics(["a", "b"])),
    log: new Logger({ writer: { writeLine: () => {} } }),
  });
  const loop = processor.run();
  const lb = { scale: 1, padX: 0, padY: 0, sourceWidth: 4, sourceHeight: 4 };
  const pixels = new Uint8Array(48);
  let swapped: Promise<void> | null = null;
  for (let seq = 0; seq < 100; seq++) {
    for (const stream of [0, 1]) {
      batcher.push({ stream, seq, capturedAt: performance.now(), pixels, letterbox: lb });
    }
    if (seq === 50) swapped = swappable.swap(second);
    if (seq % 5 === 0) await new Promise((r) => setTimeout(r, 3));
  }
  batcher.close();
  await loop;
  await swapped;
  const all = [...first.ran, ...second.ran];
  assertEquals(all.length, 200, "every frame ran once");
  assertEquals(new Set(all).size, 200, "no frame ran twice");
  assert(first.ran.length > 0 && second.ran.length > 0, "both runners ran batches");
  assertEquals(first.runsAfterRelease, 0, "the old runner was released only after its last batch");
  assert(first.released);
  for (const stream of ["a", "b"]) {
    const seqs = written.filter((r) => r.streamId === stream).map((r) => r.frame.seq);
    assertEquals(
      seqs,
      Array.from({ length: 100 }, (_, i) => i),
      `stream ${stream} in order, no gap`,
    );
  }
  assertEquals(swappable.swaps, 1);
});
