// The pipeline's one wiring, used by the exporter and the benchmark alike: streams feed the
// cross-stream batcher, the processor runs batches through the model and feeds the sinks.

import type { Logger } from "../log.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { InferenceRunner } from "../pose/inference.ts";
import type { FrameSource } from "../sources/frame.ts";
import type { SourceFactoryOptions } from "../sources/source_factory.ts";
import type { SourceSpec } from "../sources/source_uri.ts";
import type { StreamLifecycle } from "../sources/stream_lifecycle.ts";
import { Batcher } from "./batcher.ts";
import { MetricsSink } from "./metrics_sink.ts";
import { type FrameTap, PoseProcessor } from "./processor.ts";
import type { ResultSink } from "./result.ts";
import { StreamSet } from "./stream_set.ts";

/** Options of {@linkcode Pipeline}. */
export interface PipelineOptions {
  /** The model runner; its largest batch shape is the largest batch. */
  runner: InferenceRunner;
  metrics: PoseMetrics;
  log: Logger;
  /** Close a batch when its oldest frame has waited this long, ms. */
  batchTimeoutMs: number;
  /** Frames a stream may keep waiting before its oldest is dropped. */
  queueFrames: number;
  /** Sinks besides the metrics (JSONL, live view). @default {[]} */
  sinks?: readonly ResultSink[];
  /** Sees frames before their pixels are released (the live view). */
  tap?: FrameTap;
  /** Called after each model run with its batch shape (the GPU's working shape). */
  onBatchShape?: (shape: number) => void;
  /** What every source shares, for {@linkcode StreamSet.add}. */
  sourceOptions?: SourceFactoryOptions;
  /** Builds a stream's source instead of the source factory (the benchmark, tests). */
  createSource?: (spec: SourceSpec, lifecycle: StreamLifecycle) => FrameSource;
}

/** The batcher, the processor and the streams, wired. */
export class Pipeline {
  readonly batcher: Batcher;
  readonly processor: PoseProcessor;
  readonly streams: StreamSet;
  #metrics: PoseMetrics;

  constructor(options: PipelineOptions) {
    const { metrics, log } = options;
    this.#metrics = metrics;
    this.batcher = new Batcher(0, {
      maxBatch: options.runner.shapes.at(-1)!,
      timeoutMs: options.batchTimeoutMs,
      queueFrames: options.queueFrames,
      onDrop: (frame) => metrics.recordDrop(frame.stream, "queue_full"),
    });
    metrics.watchQueues(this.batcher);
    this.streams = new StreamSet({
      batcher: this.batcher,
      metrics,
      log,
      sourceOptions: options.sourceOptions,
      createSource: options.createSource,
    });
    this.processor = new PoseProcessor({
      batcher: this.batcher,
      runner: options.runner,
      streamId: (stream) => this.streams.idOf(stream),
      sinks: [new MetricsSink(metrics), ...(options.sinks ?? [])],
      metrics,
      log,
      tap: options.tap,
      onBatchShape: options.onBatchShape,
    });
  }

  /**
   * Takes no more frames: the batcher closes, frames still queued are dropped and counted
   * (`shutdown`); the processor finishes the batches it holds and then its run() resolves.
   */
  stopIntake(): void {
    this.batcher.close();
    for (const frame of this.batcher.drain()) {
      this.#metrics.recordDrop(frame.stream, "shutdown");
      frame.release?.();
    }
  }
}
