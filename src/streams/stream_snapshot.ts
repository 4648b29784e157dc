// One snapshot per stream: what the live view, the status display and /readyz read.

import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { Readiness } from "../metrics/server.ts";
import type { StreamState } from "../sources/stream_lifecycle.ts";
import type { RunningStream } from "./running_stream.ts";

/** One stream as everyone who shows it sees it, at one moment. */
export interface StreamSnapshot {
  /** Its index (`Frame.stream`). */
  index: number;
  id: string;
  state: StreamState;
  /** Why the stream is not up, with ffmpeg's last words; null while it is up. */
  reason: string | null;
  /** Where its video is decoded. */
  decoder: string;
  /** Frames per second over the recent window. */
  fps: number;
  /** Latency quantiles in milliseconds; null before the first frame. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Frames whose poses were decoded. */
  frames: number;
  /** Frames dropped for any reason. */
  drops: number;
  /** Frames waiting for a batch. */
  queued: number;
  /** Persons in its latest decoded frame. */
  persons: number;
}

const orNull = (value: number) => Number.isFinite(value) ? value : null;

/**
 * Takes the snapshot of each running stream from its lifecycle and the metrics.
 *
 * @param streams the roster's streams
 * @param metrics the exporter's metrics
 * @param queueDepth frames waiting per stream index
 */
export function snapshotStreams(
  streams: readonly RunningStream[],
  metrics: PoseMetrics,
  queueDepth: (stream: number) => number,
): StreamSnapshot[] {
  return streams.map(({ index, id, lifecycle, decoder }) => {
    const down = lifecycle.state !== "up" ? lifecycle.lastDown : null;
    return {
      index,
      id,
      state: lifecycle.state,
      reason: down ? `${down.reason}${down.detail ? `: ${down.detail}` : ""}` : null,
      decoder: lifecycle.decoder ?? decoder.decoder,
      fps: metrics.fps.rate(index),
      p50Ms: orNull(metrics.latencyMs.quantile(index, 0.5)),
      p99Ms: orNull(metrics.latencyMs.quantile(index, 0.99)),
      frames: metrics.frames.value(index),
      drops: metrics.totalDrops(index),
      queued: queueDepth(index),
      persons: metrics.persons.value(index),
    };
  });
}

/** A frame must have been decoded this recently for /readyz to answer ready. */
export const READY_WINDOW_MS = 10_000;

/**
 * Ready while a stream is up and a frame was decoded in the last {@linkcode READY_WINDOW_MS}.
 *
 * @param streams the snapshots, or null while the model is not loaded yet
 * @param decoded frames decoded so far, and when the last one was (`performance.now()`)
 */
export function assessReadiness(
  streams: readonly Pick<StreamSnapshot, "state">[] | null,
  decoded: { frames: number; lastAt: number; now?: number },
): Readiness {
  if (streams === null) return { ready: false, reason: "starting (model not loaded yet)" };
  if (!streams.some((s) => s.state === "up")) return { ready: false, reason: "no stream is up" };
  if (decoded.frames === 0) return { ready: false, reason: "no frame decoded yet" };
  if ((decoded.now ?? performance.now()) - decoded.lastAt >= READY_WINDOW_MS) {
    return { ready: false, reason: `no frame decoded in ${READY_WINDOW_MS / 1000} s` };
  }
  return { ready: true, reason: "" };
}
