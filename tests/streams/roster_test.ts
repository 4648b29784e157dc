import { assert, assertEquals } from "../_assert.ts";
import { parseSamples } from "../_helpers.ts";
import { Batcher } from "../../src/pipeline/batcher.ts";
import { Pipeline } from "../../src/pipeline/pipeline.ts";
import type { InferenceRunner } from "../../src/pose/inference.ts";
import { StreamRoster } from "../../src/streams/roster.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { createMetricsHandler } from "../../src/metrics/server.ts";
import { Logger } from "../../src/log.ts";
import type { Frame, FrameSink, FrameSource } from "../../src/sources/frame.ts";
import { parseSourceUri, type SourceSpec } from "../../src/sources/source_uri.ts";

const QUIET = new Logger({ writer: { writeLine: () => {} } });

/** A source that pushes frames only when told to. */
class ManualSource implements FrameSource {
  sink: FrameSink | null = null;
  stopped = false;
  constructor(readonly id: string, readonly stream: number) {}
  start(sink: FrameSink): void {
    this.sink = sink;
  }
  push(seq: number, released: number[]): void {
    const frame: Frame = {
      stream: this.stream,
      seq,
      capturedAt: performance.now(),
      pixels: new Uint8Array(3),
      letterbox: { scale: 1, padX: 0, padY: 0, sourceWidth: 1, sourceHeight: 1 },
      release: () => released.push(seq),
    };
    this.sink!.push(frame);
  }
  stop(): Promise<void> {
    this.stopped = true;
    return Promise.resolve();
  }
}

/** A runner that is never run: the roster's tests keep frames queued. */
const IDLE_RUNNER: InferenceRunner = {
  provider: "cpu",
  shapes: [8],
  run: () => Promise.reject(new Error("not run")),
  release: () => Promise.resolve(),
};

function setUp() {
  const metrics = new PoseMetrics([]);
  const pipeline = new Pipeline({
    runner: IDLE_RUNNER,
    metrics,
    log: QUIET,
    batchTimeoutMs: 1000,
    queueFrames: 4,
    streamId: (stream) => roster.idOf(stream),
  });
  const batcher = pipeline.batcher;
  const sources = new Map<string, ManualSource>();
  const roster: StreamRoster = new StreamRoster({
    sink: pipeline.intake,
    metrics,
    log: QUIET,
    listeners: [metrics, pipeline],
    createSource: ({ id, index }) => {
      const source = new ManualSource(id, index);
      sources.set(`${id}@${index}`, source);
      return source;
    },
  });
  const streams = {
    apply: (specs: SourceSpec[]) => roster.apply({ specs, decoders: new Map() }),
    get: (id: string) => roster.get(id),
    idOf: (index: number) => roster.idOf(index),
  };
  const scrape = async () =>
    parseSamples(
      await (await createMetricsHandler(metrics.registry)(new Request("http://x/metrics"))).text(),
    );
  return { metrics, batcher, sources, streams, scrape };
}

const spec = (id: string, uri = "synthetic") => parseSourceUri(id, uri);

Deno.test("StreamRoster.apply() keeps, removes, adds and restarts streams by their lines", async () => {
  const { metrics, batcher, sources, streams, scrape } = setUp();
  await streams.apply([spec("keep"), spec("gone"), spec("moved")]);
  const keep = streams.get("keep")!;
  metrics.recordFrame(keep.index, 10, 1, performance.now());
  const released: number[] = [];
  sources.get(`gone@${streams.get("gone")!.index}`)!.push(0, released);
  sources.get(`gone@${streams.get("gone")!.index}`)!.push(1, released);
  assertEquals(batcher.size, 2);

  const changes = await streams.apply([spec("keep"), spec("moved", "synthetic@5"), spec("new")]);
  assertEquals(changes, {
    added: ["new"],
    removed: ["gone"],
    restarted: ["moved"],
    unchanged: ["keep"],
  });
  assertEquals(streams.get("keep"), keep, "the kept stream is the same object, untouched");
  assert(!sources.get(`keep@${keep.index}`)!.stopped);
  assertEquals(released, [0, 1], "the removed stream's queued frames were released");
  assertEquals(batcher.size, 0);
  assertEquals(metrics.removedStreamDrops.value(0), 2, "and counted without a stream label");
  const samples = await scrape();
  assert(!samples.some((s) => s.labels.stream_id === "gone"), "no series of a removed stream");
  assertEquals(
    samples.find((s) => s.name === "pose_frames_total" && s.labels.stream_id === "keep")?.value,
    1,
    "the kept stream's counters go on",
  );
  assert(samples.some((s) => s.name === "pose_frames_total" && s.labels.stream_id === "new"));
  assert(streams.get("moved")!.index > 2, "a restarted stream gets a new index");
  assertEquals(streams.idOf(1), "gone", "a removed index keeps its id for frames in flight");
});

Deno.test("Batcher - frames of a removed stream are released, not queued", () => {
  const batcher = new Batcher(1, { maxBatch: 4, timeoutMs: 1000, queueFrames: 2 });
  batcher.addStream(1);
  const released: number[] = [];
  const frame = (stream: number, seq: number): Frame => ({
    stream,
    seq,
    capturedAt: 0,
    pixels: new Uint8Array(3),
    letterbox: { scale: 1, padX: 0, padY: 0, sourceWidth: 1, sourceHeight: 1 },
    release: () => released.push(seq),
  });
  batcher.push(frame(1, 0));
  assertEquals(batcher.removeStream(1).map((f) => f.seq), [0]);
  batcher.push(frame(1, 1));
  assertEquals(released, [1]);
  assertEquals(batcher.size, 0);
  assertEquals(batcher.depth(1), 0);
});
