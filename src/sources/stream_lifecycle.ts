// A stream's lifecycle (starting, up, down, retrying, finished): metrics and one log line per transition.

import type { Logger } from "../log.ts";
import type { StreamDownReason } from "../metrics/definitions.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { Decoder } from "./decode.ts";
import { redactSecrets } from "./source_uri.ts";

/** Log fields with any URL credentials in their values replaced (a second guard: sources redact). */
function shown(fields: Record<string, string | number>): Record<string, string | number> {
  return Object.fromEntries(
    Object.entries(fields).map(([k, v]) => [k, typeof v === "string" ? redactSecrets(v) : v]),
  );
}

/** Where a stream is in its lifecycle. */
export type StreamState = "starting" | "up" | "down" | "retrying" | "finished" | "stopped";

/**
 * Tracks one stream's state and reports each change (not each frame) in metrics and the log.
 */
export class StreamLifecycle {
  /** The stream's index (`Frame.stream`). */
  readonly stream: number;
  readonly id: string;
  #metrics: PoseMetrics;
  #log: Logger;
  #state: StreamState = "starting";
  /** Why the stream last went down, with ffmpeg's last words when there were some. */
  lastDown: { reason: StreamDownReason; detail: string } | null = null;
  /** Where its video is decoded, once decided. */
  decoder: Decoder | null = null;

  /**
   * @param key the stream's index and id, as the roster gave them
   * @param parts where transitions are reported
   */
  constructor(key: { index: number; id: string }, parts: { metrics: PoseMetrics; log: Logger }) {
    this.stream = key.index;
    this.id = key.id;
    this.#metrics = parts.metrics;
    this.#log = parts.log;
  }

  /** The current state. */
  get state(): StreamState {
    return this.#state;
  }

  /** The source is being (re)started. */
  starting(fields: Record<string, string | number> = {}): void {
    if (this.#state === "retrying") this.#metrics.streamRestarts.inc(this.stream);
    this.#state = "starting";
    this.#log.info("stream starting", { stream_id: this.id, ...shown(fields) });
  }

  /** The first frame arrived. */
  up(fields: Record<string, string | number> = {}): void {
    if (this.#state === "up") return;
    this.#state = "up";
    this.#metrics.streamUp.set(this.stream, 1);
    this.#log.info("stream up", { stream_id: this.id, ...shown(fields) });
  }

  /** The source failed or ended where it should not have; `detail` is shown with URL credentials replaced. */
  down(reason: StreamDownReason, rawDetail: string): void {
    const detail = redactSecrets(rawDetail);
    this.#state = "down";
    this.lastDown = { reason, detail };
    this.#metrics.streamUp.set(this.stream, 0);
    this.#metrics.recordStreamFailure(this.stream, reason);
    this.#log.warn("stream down", { stream_id: this.id, reason, detail: detail || undefined });
  }

  /** A restart is scheduled after `delayMs`. */
  retrying(delayMs: number): void {
    this.#state = "retrying";
    this.#log.info("stream retrying", { stream_id: this.id, in_s: Math.round(delayMs / 100) / 10 });
  }

  /** A file source reached its end without --loop: done, not failed. */
  finished(frames: number): void {
    this.#state = "finished";
    this.#metrics.streamUp.set(this.stream, 0);
    this.#log.info("stream finished", { stream_id: this.id, frames });
  }

  /** Where this stream's video is decoded was decided: one log line and pose_stream_info. */
  decoderChosen(decoder: Decoder, reason: string): void {
    this.decoder = decoder;
    this.#metrics.setDecoder({ index: this.stream, id: this.id }, decoder);
    this.#log.info("stream decoder", {
      stream_id: this.id,
      decoder,
      reason: redactSecrets(reason),
    });
  }

  /** The exporter is shutting down. */
  stopped(): void {
    this.#state = "stopped";
    this.#metrics.streamUp.set(this.stream, 0);
  }
}
