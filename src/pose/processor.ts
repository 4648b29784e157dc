// The inference loop: takes batches from the batcher, runs the model, decodes poses, feeds the sinks.

import type { Batcher } from "./batcher.ts";
import type { PoseDecoder } from "./decoder.ts";
import type { InferenceRunner } from "./inference.ts";
import type { ResultSink } from "./result.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { Logger } from "../log.ts";

/** What {@linkcode PoseProcessor} works with. */
export interface PoseProcessorParts {
  batcher: Batcher;
  runner: InferenceRunner;
  decoder: PoseDecoder;
  /** Stream ids, indexed by `Frame.stream`. */
  streamIds: readonly string[];
  sinks: readonly ResultSink[];
  metrics: PoseMetrics;
  log: Logger;
  /** Called after each model run with the batch shape it ran at. */
  onBatchShape?: (shape: number) => void;
  /**
   * Batches in flight at once: with 2, the next batch is gathered and handed over while the
   * model runs the current one (a worker runner queues it). @default {2}
   */
  depth?: number;
}

const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Runs batches until the batcher is closed and empty. A failed model run drops that
 * batch's frames (counted as `inference_error`) and the loop goes on.
 */
export class PoseProcessor {
  #parts: PoseProcessorParts;
  #lastErrorLog = -Infinity;
  #suppressedErrors = 0;
  /** Frames whose poses were decoded. */
  processed = 0;
  /** `performance.now()` of the last decoded frame, or NaN before the first. */
  lastDecodedAt = NaN;

  constructor(parts: PoseProcessorParts) {
    this.#parts = parts;
  }

  /** Runs the loop; resolves once the batcher is closed and drained. */
  async run(): Promise<void> {
    const lanes = Math.max(1, this.#parts.depth ?? 2);
    await Promise.all(Array.from({ length: lanes }, () => this.#lane()));
  }

  async #lane(): Promise<void> {
    const { batcher, runner, decoder, sinks, metrics, streamIds } = this.#parts;
    while (true) {
      const batch = await batcher.nextBatch();
      if (!batch) return;
      let output;
      try {
        const pending = runner.run(batch);
        // The runner copied the pixels before returning: the buffers can go back to their pools.
        for (const frame of batch) frame.release?.();
        output = await pending;
      } catch (err) {
        for (const frame of batch) metrics.recordDrop(frame.stream, "inference_error");
        this.#logError(err, batch.length);
        continue;
      }
      metrics.recordBatch(batch.length, output.seconds);
      this.#parts.onBatchShape?.(output.shape);
      for (let i = 0; i < batch.length; i++) {
        const frame = batch[i]!;
        const persons = output.persons?.[i] ??
          decoder.decode(output.data, i, output.anchors, frame.letterbox);
        const decodedAt = performance.now();
        const result = {
          frame,
          streamId: streamIds[frame.stream]!,
          persons,
          decodedAt,
          latencyMs: decodedAt - frame.capturedAt,
        };
        for (const sink of sinks) sink.write(result);
        this.processed++;
        this.lastDecodedAt = decodedAt;
      }
    }
  }

  #logError(err: unknown, frames: number): void {
    const now = performance.now();
    if (now - this.#lastErrorLog < ERROR_LOG_INTERVAL_MS) {
      this.#suppressedErrors++;
      return;
    }
    this.#parts.log.error("model run failed; batch dropped", {
      error: (err as Error).message ?? String(err),
      frames,
      similar_errors_since_last_log: this.#suppressedErrors,
    });
    this.#lastErrorLog = now;
    this.#suppressedErrors = 0;
  }
}
