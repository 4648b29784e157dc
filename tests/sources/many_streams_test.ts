// Many streams into a batcher whose consumer is slower than they are: queues, frame slots and
// reader threads stay bounded, every frame is either batched, dropped (and counted) or still
// queued, and every slot is free again at the end. 64 synthetic streams, and 16 pipe-fed ones
// (ffmpeg's command replaced by a producer that replays decoded frames into the FIFOs).

import { assert, assertEquals } from "../_assert.ts";
import { Batcher } from "../../src/pipeline/batcher.ts";
import type { Frame, FrameSink, FrameSource } from "../../src/sources/frame.ts";
import { SyntheticSource } from "../../src/sources/synthetic_source.ts";
import { FfmpegSource } from "../../src/sources/ffmpeg_source.ts";
import { PipeReaders } from "../../src/sources/pipe_readers.ts";
import { StreamLifecycle } from "../../src/sources/stream_lifecycle.ts";
import { parseSourceUri } from "../../src/sources/source_uri.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { Logger } from "../../src/log.ts";
import { makeReplayTools } from "../../scripts/host_path.ts";

const QUEUE = 4;
const quiet = new Logger({ writer: { writeLine: () => {} } });

/** What a run saw: frames in, batched, dropped, still queued; the deepest queue and total. */
interface Tally {
  pushed: number;
  batched: number;
  dropped: number;
  left: number;
  deepest: number;
  mostQueued: number;
}

/**
 * Runs `sources` into one batcher for `ms`, with a consumer that takes a batch of at most
 * `maxBatch` every `consumeMs` (slower than the sources), then stops them and drains.
 */
async function run(
  sources: FrameSource[],
  options: { maxBatch: number; consumeMs: number; ms: number; sample?: () => void },
): Promise<Tally> {
  const tally: Tally = { pushed: 0, batched: 0, dropped: 0, left: 0, deepest: 0, mostQueued: 0 };
  const batcher = new Batcher(sources.length, {
    maxBatch: options.maxBatch,
    timeoutMs: 20,
    queueFrames: QUEUE,
    onDrop: () => tally.dropped++,
  });
  const sink: FrameSink = {
    push: (frame: Frame) => {
      tally.pushed++;
      batcher.push(frame);
      tally.deepest = Math.max(tally.deepest, batcher.depth(frame.stream));
      tally.mostQueued = Math.max(tally.mostQueued, batcher.size);
    },
    waitForRoom: (stream) => batcher.waitForRoom(stream),
  };
  for (const source of sources) source.start(sink);
  const until = performance.now() + options.ms;
  while (performance.now() < until) {
    const batch = await batcher.nextBatch();
    if (batch === null) break;
    await new Promise((r) => setTimeout(r, options.consumeMs));
    options.sample?.();
    tally.batched += batch.length;
    for (const frame of batch) frame.release?.();
  }
  await Promise.all(sources.map((s) => s.stop()));
  batcher.close();
  const left = batcher.drain();
  tally.left = left.length;
  for (const frame of left) frame.release?.();
  return tally;
}

Deno.test("many streams - 64 synthetic streams into a slow consumer: bounded queues, drops counted", async () => {
  const metrics = new PoseMetrics(Array.from({ length: 64 }, (_, i) => `s${i}`));
  const sources = Array.from({ length: 64 }, (_, i) =>
    new SyntheticSource({
      id: `s${i}`,
      stream: i,
      sourceWidth: 1280,
      sourceHeight: 720,
      width: 640,
      height: 640,
      fps: 30,
      lifecycle: new StreamLifecycle({ index: i, id: `s${i}` }, { metrics, log: quiet }),
    }));
  // 64 x 30 = 1920 frames/s offered; the consumer takes at most 32 every 50 ms (640/s).
  const tally = await run(sources, { maxBatch: 32, consumeMs: 50, ms: 3000 });
  assert(tally.pushed > 2000, `${tally.pushed} frames pushed`);
  assert(tally.dropped > 0, "a consumer this slow makes streams drop their oldest frames");
  assertEquals(tally.pushed, tally.batched + tally.dropped + tally.left, "every frame accounted");
  assert(tally.deepest <= QUEUE, `a queue held ${tally.deepest}`);
  assert(tally.mostQueued <= 64 * QUEUE, `${tally.mostQueued} frames queued at once`);
});

Deno.test({
  name:
    "many streams - 16 pipe-fed streams into a slow consumer: slots and queues bounded, all freed",
  ignore: !PipeReaders.available(),
  fn: async () => {
    const tools = await makeReplayTools({ width: 640, height: 360 }, { width: 640, height: 640 });
    const readers = new PipeReaders();
    const ids = Array.from({ length: 16 }, (_, i) => `p${i}`);
    const metrics = new PoseMetrics(ids);
    const slotsPerStream = 3 * QUEUE + 2;
    const sources = ids.map((id, i) => {
      const spec = parseSourceUri(id, "testsrc:640x360@30");
      if (spec.kind !== "ffmpeg") throw new Error("not an ffmpeg source");
      return new FfmpegSource({
        spec,
        stream: i,
        width: 640,
        height: 640,
        ffmpegPath: tools.ffmpeg,
        ffprobePath: tools.ffmpeg.replace(/ffmpeg$/, "ffprobe"),
        loop: false,
        realtime: true,
        stallTimeoutMs: 10_000,
        retryMaxMs: 1000,
        readers,
        frameSlots: slotsPerStream,
        lifecycle: new StreamLifecycle({ index: i, id }, { metrics, log: quiet }),
      });
    });
    let mostSlots = 0;
    let mostThreads = 0;
    const sample = () => {
      for (const s of sources) mostSlots = Math.max(mostSlots, s.slots?.inUse() ?? 0);
      mostThreads = Math.max(mostThreads, readers.threads);
    };
    try {
      // 16 x 30 = 480 frames/s offered; the consumer takes at most 8 every 50 ms (160/s).
      const tally = await run(sources, { maxBatch: 8, consumeMs: 50, ms: 4000, sample });
      assert(tally.batched > 50, `${tally.batched} frames batched`);
      assert(tally.dropped > 0, "a consumer this slow makes streams drop their oldest frames");
      assertEquals(
        tally.pushed,
        tally.batched + tally.dropped + tally.left,
        "every frame accounted",
      );
      assert(tally.deepest <= QUEUE, `a queue held ${tally.deepest}`);
      assert(mostSlots <= slotsPerStream, `a stream held ${mostSlots} slots`);
      assert(mostThreads >= 1 && mostThreads <= 16, `${mostThreads} reader threads`);
      for (const s of sources) {
        assert(s.frames > 0, `${s.id} delivered no frame`);
        assertEquals(s.slots?.inUse(), 0, `${s.id} left slots taken`);
        assertEquals(s.slots?.slotBytes, 640 * 360 * 3, "a slot holds the band, not the input");
      }
      assertEquals(
        [readers.threads, readers.streams],
        [0, 0],
        "every pipe closed, every reader ended",
      );
    } finally {
      await Deno.remove(tools.dir, { recursive: true }).catch(() => {});
    }
  },
});
