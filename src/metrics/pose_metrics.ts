// The exporter's metrics for a fixed set of streams, registered in a prom-client Registry.

import client from "prom-client";
import {
  DROP_REASONS,
  type DropReason,
  INFERENCE_BUCKETS_SECONDS,
  LATENCY_BUCKETS_SECONDS,
  LATENCY_QUANTILES,
  POSE_BATCH_SIZE,
  POSE_EXPORTER_INFO,
  POSE_FPS,
  POSE_FRAMES_DROPPED_TOTAL,
  POSE_FRAMES_TOTAL,
  POSE_INFERENCE_DURATION_SECONDS,
  POSE_LATENCY_MS,
  POSE_LATENCY_SECONDS,
  POSE_PERSONS,
  POSE_PERSONS_DETECTED_TOTAL,
  POSE_QUEUE_DEPTH,
  POSE_STREAM_FAILURES_TOTAL,
  POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS,
  POSE_STREAM_RESTARTS_TOTAL,
  POSE_STREAM_UP,
  STREAM_DOWN_REASONS,
  type StreamDownReason,
} from "./definitions.ts";
import {
  IndexedCounter,
  IndexedGauge,
  IndexedHistogram,
  type IndexedMetric,
} from "./indexed_metrics.ts";
import { WindowRate } from "./window_rate.ts";
import { WindowSummary } from "./window_summary.ts";

/** Options of {@linkcode PoseMetrics}. */
export interface PoseMetricsOptions {
  /** Window of pose_fps in seconds. @default {5} */
  fpsWindowSeconds?: number;
  /** Window of the pose_latency_ms quantiles in seconds. @default {60} */
  latencyWindowSeconds?: number;
  /** Latency samples kept per stream for the quantiles. @default {4096} */
  latencySamples?: number;
  /** Largest batch, for the batch size buckets. @default {8} */
  maxBatchSize?: number;
  /** Registry to register in; a fresh one with prom-client's default metrics when absent. */
  registry?: client.Registry;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/** Builds the batch-size buckets: powers of two up to and including `max`. */
function batchBuckets(max: number): number[] {
  const buckets: number[] = [];
  for (let b = 1; b < max; b *= 2) buckets.push(b);
  buckets.push(max);
  return buckets;
}

/**
 * The exporter's metrics. Streams are fixed at construction, so every label set exists
 * (at zero) before the first event and each update is an index, not a label lookup.
 */
export class PoseMetrics {
  readonly registry: client.Registry;
  readonly streamIds: readonly string[];
  readonly fps: WindowRate;
  readonly latencyMs: WindowSummary;
  readonly latencySeconds: IndexedHistogram;
  readonly frames: IndexedCounter;
  readonly dropped: IndexedCounter;
  readonly personsDetected: IndexedCounter;
  readonly persons: IndexedGauge;
  readonly queueDepth: IndexedGauge;
  readonly batchSize: IndexedHistogram;
  readonly inferenceSeconds: IndexedHistogram;
  readonly streamUp: IndexedGauge;
  readonly streamRestarts: IndexedCounter;
  readonly streamFailures: IndexedCounter;
  readonly lastFrameTimestamp: IndexedGauge;
  #info: IndexedGauge | null = null;
  #now: () => number;

  constructor(streamIds: readonly string[], options: PoseMetricsOptions = {}) {
    this.streamIds = streamIds;
    this.#now = options.now ?? (() => performance.now());
    const now = this.#now;
    if (options.registry) {
      this.registry = options.registry;
    } else {
      this.registry = new client.Registry();
      client.collectDefaultMetrics({ register: this.registry });
    }
    const streams = streamIds.map((id) => ({ stream_id: id }));
    const streamReasons = streamIds.flatMap((id) =>
      DROP_REASONS.map((reason) => ({ stream_id: id, reason }))
    );
    this.fps = new WindowRate(POSE_FPS, streams, {
      windowSeconds: options.fpsWindowSeconds ?? 5,
      now,
    });
    this.latencyMs = new WindowSummary(POSE_LATENCY_MS, streams, {
      quantiles: LATENCY_QUANTILES,
      windowSeconds: options.latencyWindowSeconds ?? 60,
      capacity: options.latencySamples ?? 4096,
      now,
    });
    this.frames = new IndexedCounter(POSE_FRAMES_TOTAL, streams);
    this.dropped = new IndexedCounter(POSE_FRAMES_DROPPED_TOTAL, streamReasons);
    this.personsDetected = new IndexedCounter(POSE_PERSONS_DETECTED_TOTAL, streams);
    this.persons = new IndexedGauge(POSE_PERSONS, streams);
    this.latencySeconds = new IndexedHistogram(
      POSE_LATENCY_SECONDS,
      streams,
      LATENCY_BUCKETS_SECONDS,
    );
    this.batchSize = new IndexedHistogram(
      POSE_BATCH_SIZE,
      [{}],
      batchBuckets(options.maxBatchSize ?? 8),
    );
    this.inferenceSeconds = new IndexedHistogram(
      POSE_INFERENCE_DURATION_SECONDS,
      [{}],
      INFERENCE_BUCKETS_SECONDS,
    );
    this.queueDepth = new IndexedGauge(POSE_QUEUE_DEPTH, streams);
    this.streamUp = new IndexedGauge(POSE_STREAM_UP, streams);
    this.streamRestarts = new IndexedCounter(POSE_STREAM_RESTARTS_TOTAL, streams);
    this.streamFailures = new IndexedCounter(
      POSE_STREAM_FAILURES_TOTAL,
      streamIds.flatMap((id) => STREAM_DOWN_REASONS.map((reason) => ({ stream_id: id, reason }))),
    );
    this.lastFrameTimestamp = new IndexedGauge(POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS, streams);
    for (
      const metric of [
        this.fps,
        this.latencyMs,
        this.frames,
        this.dropped,
        this.personsDetected,
        this.persons,
        this.latencySeconds,
        this.batchSize,
        this.inferenceSeconds,
        this.queueDepth,
        this.streamUp,
        this.streamRestarts,
        this.streamFailures,
        this.lastFrameTimestamp,
      ]
    ) this.register(metric);
  }

  /** Registers one more indexed metric in this registry. */
  register(metric: IndexedMetric): void {
    // prom-client types registerMetric for its own Metric class; ours implements the part it reads.
    this.registry.registerMetric(metric as unknown as client.Metric);
  }

  /** Sets pose_exporter_info; called once the provider and model are known. */
  setInfo(info: { version: string; provider: string; model: string }): void {
    if (this.#info) this.registry.removeSingleMetric(this.#info.name);
    this.#info = new IndexedGauge(POSE_EXPORTER_INFO, [info]);
    this.#info.set(0, 1);
    this.register(this.#info);
  }

  /** Marks a stream as started, so its fps counts from now. */
  startStream(stream: number, atMs: number = this.#now()): void {
    this.fps.start(stream, atMs);
  }

  /** Records one decoded frame of `stream`. */
  recordFrame(stream: number, latencyMs: number, persons: number, atMs: number): void {
    this.frames.inc(stream);
    this.fps.record(stream, 1, atMs);
    this.latencyMs.observe(stream, latencyMs, atMs);
    this.latencySeconds.observe(stream, latencyMs / 1000);
    this.personsDetected.inc(stream, persons);
    this.persons.set(stream, persons);
  }

  /** Records `n` frames of `stream` dropped for `reason`. */
  recordDrop(stream: number, reason: DropReason, n = 1): void {
    this.dropped.inc(stream * DROP_REASONS.length + DROP_REASONS.indexOf(reason), n);
  }

  /** Frames of `stream` dropped for `reason` so far. */
  dropCount(stream: number, reason: DropReason): number {
    return this.dropped.value(stream * DROP_REASONS.length + DROP_REASONS.indexOf(reason));
  }

  /** Frames of `stream` dropped for any reason so far. */
  totalDrops(stream: number): number {
    let total = 0;
    for (const reason of DROP_REASONS) total += this.dropCount(stream, reason);
    return total;
  }

  /** Records that `stream` went down for `reason`. */
  recordStreamFailure(stream: number, reason: StreamDownReason): void {
    this.streamFailures.inc(
      stream * STREAM_DOWN_REASONS.length + STREAM_DOWN_REASONS.indexOf(reason),
    );
  }

  /** Times `stream` went down for `reason` so far. */
  streamFailureCount(stream: number, reason: StreamDownReason): number {
    return this.streamFailures.value(
      stream * STREAM_DOWN_REASONS.length + STREAM_DOWN_REASONS.indexOf(reason),
    );
  }

  /** Records one model run over `frames` frames that took `seconds`. */
  recordBatch(frames: number, seconds: number): void {
    this.batchSize.observe(0, frames);
    this.inferenceSeconds.observe(0, seconds);
  }
}
