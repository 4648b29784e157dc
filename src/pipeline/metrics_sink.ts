// The sink that turns frame results into metric updates.

import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { FrameResult, ResultSink } from "./result.ts";

/** Records each result in the exporter's metrics: frames, fps, latency, persons. */
export class MetricsSink implements ResultSink {
  #metrics: PoseMetrics;

  constructor(metrics: PoseMetrics) {
    this.#metrics = metrics;
  }

  write(result: FrameResult): void {
    this.#metrics.recordFrame(
      result.frame.stream,
      result.latencyMs,
      result.persons.length,
      result.decodedAt,
    );
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
