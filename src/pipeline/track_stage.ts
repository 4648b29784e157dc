// The tracking stage: one ByteTracker per stream, run in frame order between decoding and the
// sinks; gives each person its track id and keeps only persons at or above --score-threshold.

import type { Logger } from "../log.ts";
import type { TrackMetrics } from "../metrics/track_metrics.ts";
import type { StreamKey, StreamListener } from "../streams/running_stream.ts";
import { ByteTracker, type TrackEndedEvent } from "../tracking/byte_tracker.ts";
import { createRunId } from "../tracking/run_id.ts";
import type { StreamTrackEvents, TrackEventListener } from "../tracking/track_events.ts";
import type { FrameResult } from "./result.ts";

/** The `--track*` flags, resolved. */
export interface TrackingConfig {
  /** `--track` (on) / `--no-track`. */
  enabled: boolean;
  /** `--track-high`: first-association score (`track_high_thresh`). */
  highThreshold: number;
  /** `--track-low`: lowest score handed to the tracker (`track_low_thresh`). */
  lowThreshold: number;
  /** `--track-new`: lowest score that starts a track (`new_track_thresh`). */
  newTrackThreshold: number;
  /** `--track-match`: largest first-association cost (`match_thresh`). */
  matchThreshold: number;
  /** `--track-buffer-s` in ms: how long a lost track waits for its person (`track_buffer`). */
  lostTrackBufferMs: number;
  /** `--track-keypoint-weight`: weight of the OKS term in the association cost. */
  keypointWeight: number;
}

/**
 * The defaults of {@linkcode TrackingConfig}: Ultralytics' `bytetrack.yaml`, plus the keypoint
 * term at 0.4. Measured with `scripts/track_bench.ts` (docs/measurements.md): on 3000 synthetic
 * crossings with noisy boxes it cut id switches from 1514 to 709, and on the walking scene with
 * the demo model it changed nothing (IDF1 96.5% and no switch either way), for a few µs per frame.
 */
export const TRACKING_DEFAULTS: Readonly<TrackingConfig> = {
  enabled: true,
  highThreshold: 0.25,
  lowThreshold: 0.1,
  newTrackThreshold: 0.25,
  matchThreshold: 0.8,
  lostTrackBufferMs: 1000,
  keypointWeight: 0.4,
};

/**
 * The score the decoder must keep persons down to: `--score-threshold`, or lower with tracking
 * on, since the tracker's second association needs the low-score detections.
 *
 * @param scoreThreshold `--score-threshold`
 * @param tracking the tracking flags
 * @returns the decoder's threshold
 */
export function decodeThreshold(scoreThreshold: number, tracking: TrackingConfig): number {
  return tracking.enabled ? Math.min(scoreThreshold, tracking.lowThreshold) : scoreThreshold;
}

/** Options of {@linkcode TrackStage}. */
export interface TrackStageOptions {
  /** Thresholds and buffer (`enabled` is not read: a stage exists only with tracking on). */
  tracking: TrackingConfig;
  /** Persons scoring at or below this are dropped after tracking, as the decoder drops them. */
  scoreThreshold: number;
  /** Where tracks started, active and ended are counted. */
  metrics?: TrackMetrics;
  /** Told of tracks started and ended, per stream. */
  listeners?: readonly TrackEventListener[];
  /** Run id qualifying every track id of this run. @default {createRunId()} */
  runId?: string;
  /** Clock of frame times (`Frame.capturedAt`), for the end of a removed stream. @default {performance.now} */
  now?: () => number;
  log?: Logger;
}

/** One stream's tracker and the time of its last frame. */
interface StreamTracker {
  key: StreamKey;
  tracker: ByteTracker;
}

/**
 * Tracks people per stream. As a {@linkcode StreamListener} it gives each added stream a
 * tracker and ends a removed stream's tracks (an unchanged stream keeps its tracker across a
 * reload: the roster does not remove it). A stream id that comes back (a restart, a reload that
 * changed its URI) gets its old tracker back, so its ids go on counting and are never reused in
 * a run; ids are unique per stream id and qualified by {@linkcode TrackStage.runId} across runs.
 */
export class TrackStage implements StreamListener {
  /** Run id of every track id of this run. */
  readonly runId: string;
  #options: TrackStageOptions;
  #byIndex: (StreamTracker | undefined)[] = [];
  /** Trackers by stream id, kept after removal so that a returning id keeps counting. */
  #byId = new Map<string, ByteTracker>();
  #listeners: TrackEventListener[];
  #now: () => number;

  constructor(options: TrackStageOptions) {
    this.#options = options;
    this.runId = options.runId ?? createRunId();
    this.#listeners = [...(options.listeners ?? [])];
    this.#now = options.now ?? (() => performance.now());
    // Fails at start, naming the bad value, rather than at the first stream.
    this.#tracker();
  }

  /** Adds a listener of track events (the MQTT publisher). */
  addListener(listener: TrackEventListener): void {
    this.#listeners.push(listener);
  }

  /** Confirmed tracks of stream index `stream` in view now (0 when it has no tracker). */
  activeCount(stream: number): number {
    return this.#byIndex[stream]?.tracker.activeCount ?? 0;
  }

  #tracker(): ByteTracker {
    const t = this.#options.tracking;
    return new ByteTracker({
      runId: this.runId,
      highThreshold: t.highThreshold,
      lowThreshold: t.lowThreshold,
      newTrackThreshold: t.newTrackThreshold,
      matchThreshold: t.matchThreshold,
      lostTrackBufferMs: t.lostTrackBufferMs,
      keypointWeight: t.keypointWeight,
    });
  }

  streamAdded(key: StreamKey): void {
    let tracker = this.#byId.get(key.id);
    if (tracker === undefined) {
      tracker = this.#tracker();
      this.#byId.set(key.id, tracker);
    }
    this.#byIndex[key.index] = { key, tracker };
    this.#options.metrics?.streamAdded(key);
  }

  streamRemoved(key: StreamKey): void {
    const entry = this.#byIndex[key.index];
    if (entry !== undefined) {
      this.#byIndex[key.index] = undefined;
      this.#endAll(entry);
    }
    this.#options.metrics?.streamRemoved(key);
  }

  /** Ends the tracks of every stream (the stop); their events reach the listeners. */
  stop(): void {
    for (const entry of this.#byIndex) if (entry !== undefined) this.#endAll(entry);
  }

  #endAll(entry: StreamTracker): void {
    const ended = entry.tracker.endAll(this.#now());
    for (const e of ended) this.#options.metrics?.ended(e.durationMs);
    this.#options.metrics?.record(entry.key.index, 0, 0);
    if (ended.length > 0) this.#emit(entry.key, [], ended, 0);
  }

  /**
   * Tracks one frame's persons (called in frame order per stream): sets `trackId` on each
   * tracked person, then drops the persons under the score threshold, in place, and sets
   * `result.runId`. A frame of a stream without a tracker (removed while its frame was in
   * flight) is only filtered.
   */
  process(result: FrameResult): void {
    const persons = result.persons;
    const entry = this.#byIndex[result.frame.stream];
    if (entry !== undefined) {
      const tracker = entry.tracker;
      const update = tracker.update(persons, Math.max(result.frame.capturedAt, tracker.lastTimeMs));
      const ids = update.ids;
      for (let i = 0; i < persons.length; i++) {
        const id = ids[i];
        if (id !== null && id !== undefined) persons[i]!.trackId = id;
      }
      const metrics = this.#options.metrics;
      const active = tracker.activeCount;
      if (metrics !== undefined) {
        metrics.record(entry.key.index, active, update.started.length);
        for (let i = 0; i < update.ended.length; i++) metrics.ended(update.ended[i]!.durationMs);
      }
      if (update.started.length > 0 || update.ended.length > 0) {
        this.#emit(entry.key, update.started.slice(), update.ended.slice(), active);
      }
    }
    const threshold = this.#options.scoreThreshold;
    let kept = 0;
    for (let i = 0; i < persons.length; i++) {
      const p = persons[i]!;
      if (p.score > threshold) persons[kept++] = p;
    }
    if (kept !== persons.length) persons.length = kept;
    result.runId = this.runId;
  }

  #emit(
    key: StreamKey,
    started: StreamTrackEvents["started"],
    ended: readonly TrackEndedEvent[],
    active: number,
  ): void {
    if (this.#listeners.length === 0) return;
    const events: StreamTrackEvents = {
      stream: key.index,
      streamId: key.id,
      runId: this.runId,
      started,
      ended,
      active,
    };
    for (const listener of this.#listeners) {
      try {
        listener.tracksChanged(events);
      } catch (err) {
        this.#options.log?.error("a track event listener failed", {
          stream_id: key.id,
          error: (err as Error).message ?? String(err),
        });
      }
    }
  }
}
