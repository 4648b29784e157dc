// The inference loop: takes batches from the batcher, runs the model (which decodes the poses),
// times each stage of each frame, and feeds the sinks.

import type { Batcher } from "./batcher.ts";
import type { Frame } from "../sources/frame.ts";
import type { InferenceRunner } from "../pose/inference.ts";
import type { FrameResult, ResultSink } from "./result.ts";
import type { Logger } from "../log.ts";
import type { FrameMetrics } from "./frame_metrics.ts";

/** Takes a look at frames before their results reach the sinks (the live view). */
export interface FrameTap {
  /** Whether it wants a copy of this stream's next frame; called per frame, so cheap. */
  wants(stream: number): boolean;
  /** Copies what it needs of `frame`; its result reaches the sinks right after. */
  capture(frame: Frame): void;
}

/** What {@linkcode PoseProcessor} works with. */
export interface PoseProcessorParts {
  batcher: Batcher;
  runner: InferenceRunner;
  /** The id of a stream index (kept for removed streams, whose last frames may still arrive). */
  streamId: (stream: number) => string;
  sinks: readonly ResultSink[];
  /** Where every per-frame figure is recorded. */
  metrics: FrameMetrics;
  log: Logger;
  /** Called after each model run with the batch shape it ran at. */
  onBatchShape?: (shape: number) => void;
  /** Sees each frame it wants just before the frame's result reaches the sinks. */
  tap?: FrameTap;
  /**
   * Runs on each result, in frame order per stream, before the metrics and the sinks see it
   * (the tracking stage: sets track ids, drops persons under the score threshold); its time is
   * the `track` stage.
   */
  track?: { process(result: FrameResult): void };
  /**
   * Batches in flight at once: with 2, the next batch is gathered and handed over while the
   * model runs the current one (a worker runner queues it). @default {2}
   */
  depth?: number;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

const ERROR_LOG_INTERVAL_MS = 10_000;

/**
 * Runs batches until the batcher is closed and empty. A failed model run drops that
 * batch's frames (counted as `inference_error`) and the loop goes on.
 *
 * Each frame's end-to-end span (pixels read to poses back on this thread) is split into
 * stages that add up to it: `queue` (until its batch is sent), `inference` and `postprocess`
 * (as the runner measured them) and `handoff` (the rest: the trips between threads).
 * `source` (reading the frame) and `sink` (writing its result) lie outside the span.
 *
 * A frame's pixels go back to their pool only after every sink has seen its result.
 */
export class PoseProcessor {
  #parts: PoseProcessorParts;
  #now: () => number;
  #lastErrorLog = -Infinity;
  #suppressedErrors = 0;
  /** Resolves when the batch taken last has written its results: batches write in order. */
  #lastWritten: Promise<void> = Promise.resolve();
  /** Frames whose poses were decoded. */
  processed = 0;
  /** `performance.now()` of the last decoded frame, or NaN before the first. */
  lastDecodedAt = NaN;

  constructor(parts: PoseProcessorParts) {
    this.#parts = parts;
    this.#now = parts.now ?? (() => performance.now());
  }

  /** Runs the loop; resolves once the batcher is closed and drained. */
  async run(): Promise<void> {
    const lanes = Math.max(1, this.#parts.depth ?? 2);
    await Promise.all(Array.from({ length: lanes }, () => this.#lane()));
  }

  async #lane(): Promise<void> {
    const { batcher, runner, sinks, metrics, streamId, tap, track } = this.#parts;
    while (true) {
      const batch = await batcher.nextBatch();
      if (!batch) return;
      const sentAt = this.#now();
      // Results leave in the order batches were taken, even when a later batch comes back
      // first (two lanes, or a session swap with the old session still finishing a batch).
      const previous = this.#lastWritten;
      let written = () => {};
      this.#lastWritten = new Promise((resolve) => (written = resolve));
      let output;
      try {
        output = await runner.run(batch);
      } catch (err) {
        for (const frame of batch) {
          metrics.dropped(frame.stream, "inference_error");
          frame.release?.();
        }
        this.#logError(err, batch.length);
        await previous;
        written();
        continue;
      }
      const decodedAt = this.#now();
      await previous;
      metrics.batch(batch.length, output.seconds);
      this.#parts.onBatchShape?.(output.shape);
      const stages = {
        queue: 0,
        handoff: Math.max(0, (decodedAt - sentAt) / 1000 - output.seconds - output.decodeSeconds),
        inference: output.seconds,
        postprocess: output.decodeSeconds,
      };
      for (let i = 0; i < batch.length; i++) {
        const frame = batch[i]!;
        const result: FrameResult = {
          frame,
          streamId: streamId(frame.stream),
          persons: output.persons[i] ?? [],
          decodedAt,
          latencyMs: decodedAt - frame.capturedAt,
        };
        if (track !== undefined) {
          const trackStart = this.#now();
          track.process(result);
          metrics.tracked((this.#now() - trackStart) / 1000);
        }
        stages.queue = (sentAt - frame.capturedAt) / 1000;
        metrics.decoded(result, stages);
        const sinkStart = this.#now();
        if (tap?.wants(frame.stream)) tap.capture(frame);
        for (const sink of sinks) sink.write(result);
        metrics.sinks((this.#now() - sinkStart) / 1000);
        // Every sink has seen the result: the pixels can go back to their pool.
        frame.release?.();
        this.processed++;
        this.lastDecodedAt = decodedAt;
      }
      written();
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
