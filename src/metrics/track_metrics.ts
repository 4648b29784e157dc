// The person-tracking metrics: tracks in view and started per stream, durations of ended tracks.

import {
  POSE_TRACK_DURATION_SECONDS,
  POSE_TRACKS_ACTIVE,
  POSE_TRACKS_STARTED_TOTAL,
  TRACK_DURATION_BUCKETS_SECONDS,
} from "./definitions.ts";
import {
  IndexedCounter,
  IndexedGauge,
  IndexedHistogram,
  type IndexedMetric,
} from "./indexed_metrics.ts";
import type { StreamKey } from "../streams/running_stream.ts";

/**
 * `pose_tracks_active{stream_id}`, `pose_tracks_started_total{stream_id}` and
 * `pose_track_duration_seconds` (all streams together). No label carries a track id. A stream's
 * series exist (at zero) from {@linkcode TrackMetrics.streamAdded} on and leave with
 * {@linkcode TrackMetrics.streamRemoved}, as the other per-stream series do.
 */
export class TrackMetrics {
  readonly active = new IndexedGauge(POSE_TRACKS_ACTIVE, []);
  readonly started = new IndexedCounter(POSE_TRACKS_STARTED_TOTAL, []);
  readonly duration = new IndexedHistogram(
    POSE_TRACK_DURATION_SECONDS,
    [{}],
    TRACK_DURATION_BUCKETS_SECONDS,
  );

  /** The three families, to register in the exporter's registry. */
  get families(): readonly IndexedMetric[] {
    return [this.active, this.started, this.duration];
  }

  /** Stream `key` was added: its series start at zero. */
  streamAdded(key: StreamKey): void {
    this.active.setSeries(key.index, { stream_id: key.id });
    this.started.setSeries(key.index, { stream_id: key.id });
  }

  /** Stream `key` was removed: its series leave. */
  streamRemoved(key: StreamKey): void {
    if (this.active.labelSets[key.index] == null) return;
    this.active.setSeries(key.index, null);
    this.started.setSeries(key.index, null);
  }

  /**
   * Records one tracker update of `stream`.
   *
   * @param stream the stream index
   * @param active confirmed tracks in view after the update
   * @param started tracks that got an id in it
   */
  record(stream: number, active: number, started: number): void {
    if (this.active.labelSets[stream] == null) return;
    this.active.set(stream, active);
    if (started > 0) this.started.inc(stream, started);
  }

  /** A track ended after `durationMs` (first to last detection). */
  ended(durationMs: number): void {
    this.duration.observe(0, durationMs / 1000);
  }
}
