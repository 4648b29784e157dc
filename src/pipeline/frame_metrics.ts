// The one writer of per-frame metrics: every frame read, dropped, decoded or timed is counted here.

import type { DropReason, PipelineStage } from "../metrics/definitions.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { Frame } from "../sources/frame.ts";
import type { FrameResult } from "./result.ts";

/** Seconds one frame spent in each stage inside its end-to-end span. */
export interface FrameStages {
  queue: number;
  handoff: number;
  inference: number;
  postprocess: number;
}

/**
 * Records what happens to each frame in the exporter's metrics. The pipeline's parts report
 * here and nowhere else: the intake (a frame read), the batcher (a full queue), the processor
 * (a model run, a decoded frame and its stages, a failed run, the sinks' time) and the stop and
 * the removal of a stream (frames still queued).
 */
export class FrameMetrics {
  #metrics: PoseMetrics;

  constructor(metrics: PoseMetrics) {
    this.#metrics = metrics;
  }

  /** A frame of `frame.stream` was read from its source. */
  arrived(frame: Frame): void {
    this.#metrics.lastFrameTimestamp.set(frame.stream, Date.now() / 1000);
  }

  /** `n` frames of `stream` were dropped without poses for `reason`. */
  dropped(stream: number, reason: DropReason, n = 1): void {
    this.#metrics.recordDrop(stream, reason, n);
  }

  /** `n` frames of a removed stream were still queued: counted without a stream label. */
  droppedOfRemovedStream(n: number): void {
    if (n > 0) this.#metrics.removedStreamDrops.inc(0, n);
  }

  /** One model run over `frames` frames took `seconds`. */
  batch(frames: number, seconds: number): void {
    this.#metrics.recordBatch(frames, seconds);
  }

  /** A frame's poses were decoded: frames, fps, latency, persons and its stages. */
  decoded(result: FrameResult, stages: FrameStages): void {
    const metrics = this.#metrics;
    const frame = result.frame;
    metrics.recordFrame(frame.stream, result.latencyMs, result.persons.length, result.decodedAt);
    metrics.recordStage("queue", stages.queue);
    metrics.recordStage("handoff", stages.handoff);
    metrics.recordStage("inference", stages.inference);
    metrics.recordStage("postprocess", stages.postprocess);
    if (frame.readMs !== undefined) metrics.recordStage("source", frame.readMs / 1000);
  }

  /** The tracking stage took `seconds` over one frame's result. */
  tracked(seconds: number): void {
    this.#metrics.recordStage("track" satisfies PipelineStage, seconds);
  }

  /** The sinks took `seconds` over one frame's result. */
  sinks(seconds: number): void {
    this.#metrics.recordStage("sink" satisfies PipelineStage, seconds);
  }
}
