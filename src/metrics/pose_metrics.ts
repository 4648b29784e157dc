// The exporter's metrics, registered in a prom-client Registry; streams can come and go at run time.

import client from "prom-client";
import {
  DROP_REASONS,
  type DropReason,
  INFERENCE_BUCKETS_SECONDS,
  LATENCY_BUCKETS_SECONDS,
  LATENCY_QUANTILES,
  PIPELINE_STAGES,
  type PipelineStage,
  POSE_BATCH_SIZE,
  POSE_CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS,
  POSE_CONFIG_RELOAD_FAILURES_TOTAL,
  POSE_CONFIG_RELOAD_SUCCESS,
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
  POSE_REMOVED_STREAM_FRAMES_DROPPED_TOTAL,
  POSE_RESULTS_LOST_TOTAL,
  POSE_STAGE_LATENCY_SECONDS,
  POSE_STREAM_FAILURES_TOTAL,
  POSE_STREAM_INFO,
  POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS,
  POSE_STREAM_RESTARTS_TOTAL,
  POSE_STREAM_UP,
  STAGE_BUCKETS_SECONDS,
  STREAM_DOWN_REASONS,
  type StreamDownReason,
} from "./definitions.ts";
import {
  IndexedCounter,
  IndexedGauge,
  IndexedHistogram,
  type IndexedMetric,
  type LabelSet,
} from "./indexed_metrics.ts";
import { WindowRate } from "./window_rate.ts";
import { WindowSummary } from "./window_summary.ts";
import { registerProcessMetrics } from "./process_metrics.ts";
import type { StreamKey, StreamListener } from "../streams/running_stream.ts";

/** Options of {@linkcode PoseMetrics}. */
export interface PoseMetricsOptions {
  /** Window of pose_fps in seconds. @default {5} */
  fpsWindowSeconds?: number;
  /** Window of the pose_latency_ms quantiles in seconds. @default {60} */
  latencyWindowSeconds?: number;
  /** Latency samples kept per stream for the quantiles. @default {4096} */
  latencySamples?: number;
  /** The batch shapes the model runs at, for the batch size buckets. @default {[1, 2, 4, 8]} */
  batchShapes?: readonly number[];
  /** Registry to register in; a fresh one with prom-client's default metrics when absent. */
  registry?: client.Registry;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/** A per-stream family and how many series each stream has in it (one per reason, etc.). */
interface StreamFamily {
  metric: IndexedMetric;
  /** The label sets of one stream's series, in order. */
  labels: (id: string) => LabelSet[];
}

/**
 * The exporter's metrics. Each stream has an index (`Frame.stream`); its label sets exist
 * (at zero) from {@linkcode PoseMetrics.streamAdded} on, and each update is an index, not a
 * label lookup. {@linkcode PoseMetrics.streamRemoved} removes every series of a stream.
 */
export class PoseMetrics implements StreamListener {
  readonly registry: client.Registry;
  readonly fps: WindowRate;
  readonly latencyMs: WindowSummary;
  readonly latencySeconds: IndexedHistogram;
  readonly frames: IndexedCounter;
  readonly dropped: IndexedCounter;
  readonly personsDetected: IndexedCounter;
  readonly persons: IndexedGauge;
  readonly queueDepth: IndexedGauge;
  batchSize: IndexedHistogram;
  readonly inferenceSeconds: IndexedHistogram;
  readonly streamUp: IndexedGauge;
  readonly streamRestarts: IndexedCounter;
  readonly streamFailures: IndexedCounter;
  readonly lastFrameTimestamp: IndexedGauge;
  readonly streamInfo: IndexedGauge;
  readonly stageSeconds: IndexedHistogram;
  readonly resultsLost: IndexedCounter;
  readonly removedStreamDrops: IndexedCounter;
  readonly reloadSuccess: IndexedGauge;
  readonly lastReloadSuccess: IndexedGauge;
  readonly reloadFailures: IndexedCounter;
  #info: IndexedGauge | null = null;
  #now: () => number;
  #families: StreamFamily[];
  #queues: { depth(stream: number): number } | null = null;

  /**
   * @param streamIds the streams at start, given indexes 0, 1, ... in order
   * @param options windows, batch shapes, registry and clock
   */
  constructor(streamIds: readonly string[], options: PoseMetricsOptions = {}) {
    this.#now = options.now ?? (() => performance.now());
    const now = this.#now;
    if (options.registry) {
      this.registry = options.registry;
    } else {
      this.registry = new client.Registry();
      collectDefaultMetricsLintClean(this.registry);
    }
    const none: LabelSet[] = [];
    this.fps = new WindowRate(POSE_FPS, none, {
      windowSeconds: options.fpsWindowSeconds ?? 5,
      now,
    });
    this.latencyMs = new WindowSummary(POSE_LATENCY_MS, none, {
      quantiles: LATENCY_QUANTILES,
      windowSeconds: options.latencyWindowSeconds ?? 60,
      capacity: options.latencySamples ?? 4096,
      now,
    });
    this.frames = new IndexedCounter(POSE_FRAMES_TOTAL, none);
    this.dropped = new IndexedCounter(POSE_FRAMES_DROPPED_TOTAL, none);
    this.personsDetected = new IndexedCounter(POSE_PERSONS_DETECTED_TOTAL, none);
    this.persons = new IndexedGauge(POSE_PERSONS, none);
    this.latencySeconds = new IndexedHistogram(POSE_LATENCY_SECONDS, none, LATENCY_BUCKETS_SECONDS);
    this.batchSize = new IndexedHistogram(
      POSE_BATCH_SIZE,
      [{}],
      options.batchShapes ?? [1, 2, 4, 8],
    );
    this.inferenceSeconds = new IndexedHistogram(
      POSE_INFERENCE_DURATION_SECONDS,
      [{}],
      INFERENCE_BUCKETS_SECONDS,
    );
    this.queueDepth = new IndexedGauge(POSE_QUEUE_DEPTH, none, () => this.#refreshQueueDepth());
    this.streamUp = new IndexedGauge(POSE_STREAM_UP, none);
    this.streamRestarts = new IndexedCounter(POSE_STREAM_RESTARTS_TOTAL, none);
    this.streamFailures = new IndexedCounter(POSE_STREAM_FAILURES_TOTAL, none);
    this.lastFrameTimestamp = new IndexedGauge(POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS, none);
    this.streamInfo = new IndexedGauge(POSE_STREAM_INFO, none);
    this.stageSeconds = new IndexedHistogram(
      POSE_STAGE_LATENCY_SECONDS,
      PIPELINE_STAGES.map((stage) => ({ stage })),
      STAGE_BUCKETS_SECONDS,
    );
    this.resultsLost = new IndexedCounter(POSE_RESULTS_LOST_TOTAL, [{}]);
    this.removedStreamDrops = new IndexedCounter(POSE_REMOVED_STREAM_FRAMES_DROPPED_TOTAL, [{}]);
    this.reloadSuccess = new IndexedGauge(POSE_CONFIG_RELOAD_SUCCESS, [{}]);
    this.lastReloadSuccess = new IndexedGauge(POSE_CONFIG_LAST_RELOAD_SUCCESS_TIMESTAMP_SECONDS, [
      {},
    ]);
    this.reloadFailures = new IndexedCounter(POSE_CONFIG_RELOAD_FAILURES_TOTAL, [{}]);
    const one = (id: string) => [{ stream_id: id }];
    this.#families = [
      { metric: this.fps, labels: one },
      { metric: this.latencyMs, labels: one },
      { metric: this.frames, labels: one },
      {
        metric: this.dropped,
        labels: (id) => DROP_REASONS.map((reason) => ({ stream_id: id, reason })),
      },
      { metric: this.personsDetected, labels: one },
      { metric: this.persons, labels: one },
      { metric: this.latencySeconds, labels: one },
      { metric: this.queueDepth, labels: one },
      { metric: this.streamUp, labels: one },
      { metric: this.streamRestarts, labels: one },
      {
        metric: this.streamFailures,
        labels: (id) => STREAM_DOWN_REASONS.map((reason) => ({ stream_id: id, reason })),
      },
      { metric: this.lastFrameTimestamp, labels: one },
    ];
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
        this.streamInfo,
        this.stageSeconds,
        this.resultsLost,
        this.removedStreamDrops,
        this.reloadSuccess,
        this.lastReloadSuccess,
        this.reloadFailures,
      ]
    ) this.register(metric);
    streamIds.forEach((id, stream) => this.addStream(stream, id));
  }

  /** Registers one more indexed metric in this registry. */
  register(metric: IndexedMetric): void {
    // prom-client types registerMetric for its own Metric class; ours implements the part it reads.
    this.registry.registerMetric(metric as unknown as client.Metric);
  }

  /** Stream `key` was added: every per-stream series starts at zero, its fps counts from now. */
  streamAdded(key: StreamKey): void {
    this.addStream(key.index, key.id);
    this.fps.start(key.index, this.#now());
  }

  /** Stream `key` was removed: every series of it leaves (its decoder info included). */
  streamRemoved(key: StreamKey): void {
    const stream = key.index;
    if (this.streamUp.labelSets[stream] == null) return;
    for (const { metric, labels } of this.#families) {
      const count = labels(key.id).length;
      for (let i = 0; i < count; i++) metric.setSeries(stream * count + i, null);
    }
    if (stream < this.streamInfo.labelSets.length) this.streamInfo.setSeries(stream, null);
  }

  /** Gives stream index `stream` the id `id`: every per-stream series starts at zero. */
  addStream(stream: number, id: string): void {
    for (const { metric, labels } of this.#families) {
      const sets = labels(id);
      sets.forEach((set, i) => metric.setSeries(stream * sets.length + i, set));
    }
  }

  /** Sets pose_stream_info for stream `key`: where its video is decoded. */
  setDecoder(key: StreamKey, decoder: string): void {
    if (this.streamUp.labelSets[key.index] == null) return;
    this.streamInfo.setSeries(key.index, { stream_id: key.id, decoder });
    this.streamInfo.set(key.index, 1);
  }

  /** Sets the buckets of pose_batch_size to the batch shapes the model runs at (once known). */
  setBatchShapes(shapes: readonly number[]): void {
    this.registry.removeSingleMetric(this.batchSize.name);
    this.batchSize = new IndexedHistogram(POSE_BATCH_SIZE, [{}], shapes);
    this.register(this.batchSize);
  }

  /** Reads pose_queue_depth from `queues` at each scrape. */
  watchQueues(queues: { depth(stream: number): number }): void {
    this.#queues = queues;
  }

  #refreshQueueDepth(): void {
    const queues = this.#queues;
    if (queues === null) return;
    const series = this.queueDepth.labelSets;
    for (let stream = 0; stream < series.length; stream++) {
      if (series[stream] !== null) this.queueDepth.set(stream, queues.depth(stream));
    }
  }

  /** Sets pose_exporter_info; called once the provider and model are known. */
  setInfo(info: { version: string; provider: string; model: string }): void {
    if (this.#info) this.registry.removeSingleMetric(this.#info.name);
    this.#info = new IndexedGauge(POSE_EXPORTER_INFO, [info]);
    this.#info.set(0, 1);
    this.register(this.#info);
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

  /** Records the time one frame spent in `stage`, in seconds. */
  recordStage(stage: PipelineStage, seconds: number): void {
    this.stageSeconds.observe(PIPELINE_STAGES.indexOf(stage), seconds);
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

  /** Records a reload's outcome, as Prometheus exports its own. */
  recordReload(ok: boolean, atMs: number = Date.now()): void {
    this.reloadSuccess.set(0, ok ? 1 : 0);
    if (ok) this.lastReloadSuccess.set(0, atMs / 1000);
    else this.reloadFailures.inc(0);
  }
}

/**
 * prom-client's default metrics, less the three `nodejs_active_*_total` gauges that
 * `promtool check metrics` flags (a `_total` that is not a counter), with the process memory and
 * file descriptor gauges read from /proc (prom-client's read nothing under Deno).
 */
function collectDefaultMetricsLintClean(registry: client.Registry): void {
  // The event-loop lag histogram samples with a timer in Deno: at prom-client's 10 ms it woke
  // the loop 113 times a second (~8 ms CPU/s idle); 100 ms keeps the gauges and costs a tenth.
  client.collectDefaultMetrics({ register: registry, eventLoopMonitoringPrecision: 100 });
  for (const name of LINT_FLAGGED_DEFAULTS) registry.removeSingleMetric(name);
  registerProcessMetrics(registry);
}

/** prom-client default metrics that promtool flags. */
export const LINT_FLAGGED_DEFAULTS = [
  "nodejs_active_handles_total",
  "nodejs_active_requests_total",
  "nodejs_active_resources_total",
] as const;
