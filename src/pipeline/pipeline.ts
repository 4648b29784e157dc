// The data path, one wiring used by the exporter and the benchmark alike: frames come in through
// the intake, the cross-stream batcher groups them, the processor runs them through the model
// and feeds the sinks.

import type { Logger } from "../log.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { InferenceRunner } from "../pose/inference.ts";
import type { Frame, FrameSink } from "../sources/frame.ts";
import type { StreamKey, StreamListener } from "../streams/running_stream.ts";
import { Batcher, type FrameFeed } from "./batcher.ts";
import { FrameMetrics } from "./frame_metrics.ts";
import { type FrameTap, PoseProcessor } from "./processor.ts";
import type { FrameResult, ResultSink } from "./result.ts";

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
  /** The id of a stream index (kept for removed streams, whose last frames may still arrive). */
  streamId: (stream: number) => string;
  /** Sinks of the results (JSONL, live view); the metrics are recorded before them. */
  sinks?: readonly ResultSink[];
  /** Sees frames it wants just before their results reach the sinks (the live view). */
  tap?: FrameTap;
  /** Called after each model run with its batch shape (the GPU's working shape). */
  onBatchShape?: (shape: number) => void;
  /** The tracking stage, run on each result before the metrics and sinks; none: no tracking. */
  track?: { process(result: FrameResult): void };
  /** Sources whose frames wait until the batcher collects them (the pipe readers). */
  feed?: FrameFeed;
}

/**
 * The batcher and the processor, wired, with the intake every source pushes into. As a
 * {@linkcode StreamListener} it gives each added stream a queue and drops (and counts) what a
 * removed stream left queued.
 */
export class Pipeline implements StreamListener {
  readonly batcher: Batcher;
  readonly processor: PoseProcessor;
  /** Where every source puts its frames. */
  readonly intake: FrameSink;
  #metrics: FrameMetrics;
  #loop: Promise<void> | null = null;

  constructor(options: PipelineOptions) {
    const metrics = new FrameMetrics(options.metrics);
    this.#metrics = metrics;
    this.batcher = new Batcher(0, {
      maxBatch: options.runner.shapes.at(-1)!,
      timeoutMs: options.batchTimeoutMs,
      queueFrames: options.queueFrames,
      onDrop: (frame) => metrics.dropped(frame.stream, "queue_full"),
      feed: options.feed,
    });
    options.metrics.watchQueues(this.batcher);
    const batcher = this.batcher;
    this.intake = {
      push: (frame: Frame) => {
        metrics.arrived(frame);
        batcher.push(frame);
      },
      waitForRoom: (stream: number) => batcher.waitForRoom(stream),
    };
    this.processor = new PoseProcessor({
      batcher,
      runner: options.runner,
      streamId: options.streamId,
      sinks: options.sinks ?? [],
      metrics,
      log: options.log,
      tap: options.tap,
      onBatchShape: options.onBatchShape,
      track: options.track,
    });
  }

  /** Starts the processor's loop; resolves once the intake has stopped and every batch is done. */
  run(): Promise<void> {
    this.#loop ??= this.processor.run();
    return this.#loop;
  }

  streamAdded(key: StreamKey): void {
    this.batcher.addStream(key.index);
  }

  streamRemoved(key: StreamKey): void {
    const queued = this.batcher.removeStream(key.index);
    for (const frame of queued) frame.release?.();
    this.#metrics.droppedOfRemovedStream(queued.length);
  }

  /**
   * Takes no more frames: the batcher closes, frames still queued are dropped and counted
   * (`shutdown`); the processor finishes the batches it holds and then {@linkcode run} resolves.
   */
  stopIntake(): void {
    this.batcher.close();
    for (const frame of this.batcher.drain()) {
      this.#metrics.dropped(frame.stream, "shutdown");
      frame.release?.();
    }
  }
}
