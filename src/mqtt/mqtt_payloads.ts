// The MQTT topics and their JSON payloads, built from plain values (pure: tested on literals).

import type { Person } from "../pose/decoder.ts";
import type { StreamSnapshot } from "../streams/stream_snapshot.ts";
import type { TrackEndedEvent, TrackStartedEvent } from "../tracking/byte_tracker.ts";

/** The topics of one prefix. */
export const mqttTopics = {
  /** `online` / `offline`, retained (the last will). */
  available: (prefix: string) => `${prefix}/available`,
  /** The stream's state, retained. */
  state: (prefix: string, streamId: string) => `${prefix}/${streamId}/state`,
  /** Track events `new`, `update`, `end`. */
  tracks: (prefix: string, streamId: string) => `${prefix}/${streamId}/tracks`,
  /** Every frame's result (with --mqtt-poses). */
  poses: (prefix: string, streamId: string) => `${prefix}/${streamId}/poses`,
};

/** The payload of `<prefix>/<stream_id>/state`. */
export interface StatePayload {
  stream_id: string;
  /** `up`, or `down` for every other state of the stream. */
  state: "up" | "down";
  /** The stream's own state: starting, up, down, retrying, finished, stopped. */
  status: string;
  /** Why it is not up (with ffmpeg's last words), or null. */
  reason: string | null;
  /** Frames per second now: 0 when it is not up (a stopped stream's last rate is not its rate). */
  fps: number;
  /** Persons in its latest frame; 0 when it is not up (nobody is seen by a stream that is down). */
  persons: number;
  /** Confirmed tracks active now (0 without tracking). */
  active_tracks: number;
  /** Where its video is decoded. */
  decoder: string;
  frames: number;
  drops: number;
  /** Epoch ms of this snapshot. */
  at_ms: number;
}

const round2 = (v: number) => Math.round(v * 100) / 100;
const round3 = (v: number) => Math.round(v * 1000) / 1000;

/** Epoch milliseconds of a `performance.now()` time. */
export function wallMs(performanceMs: number): number {
  return round3(performance.timeOrigin + performanceMs);
}

/**
 * The state payload of one stream.
 *
 * @param snapshot the stream's snapshot
 * @param activeTracks its confirmed tracks active now
 * @param atMs epoch ms of the snapshot
 * @returns the payload
 */
export function statePayload(
  snapshot: StreamSnapshot,
  activeTracks: number,
  atMs: number,
): StatePayload {
  const up = snapshot.state === "up";
  return {
    stream_id: snapshot.id,
    state: up ? "up" : "down",
    status: snapshot.state,
    reason: snapshot.reason,
    fps: up ? round2(snapshot.fps) : 0,
    persons: up ? snapshot.persons : 0,
    active_tracks: activeTracks,
    decoder: snapshot.decoder,
    frames: snapshot.frames,
    drops: snapshot.drops,
    at_ms: Math.round(atMs),
  };
}

/**
 * What makes a state worth publishing at once: up/down, the reason, the decoder, the active
 * tracks, someone in view or not (fps and counts change every frame; they go every 10 s).
 */
export function stateKey(payload: StatePayload): string {
  return `${payload.status}|${payload.reason}|${payload.decoder}|${payload.active_tracks}|${
    payload.persons > 0
  }`;
}

/** Keypoints as JSONL writes them: [x, y, v] (or [x, y]) rounded like the results file. */
export function keypointsJson(keypoints: Float32Array, dims: 2 | 3): number[][] {
  const out: number[][] = [];
  for (let k = 0; k + dims <= keypoints.length; k += dims) {
    const point = [round2(keypoints[k]!), round2(keypoints[k + 1]!)];
    if (dims === 3) point.push(round3(keypoints[k + 2]!));
    out.push(point);
  }
  return out;
}

/** Track ids qualified by the stream's run, as the results carry them. */
interface TrackIdentity {
  stream_id: string;
  run_id: string | null;
  track_id: number;
}

/** A track got its id. */
export interface TrackNewPayload extends TrackIdentity {
  type: "new";
  /** Epoch ms of its first detection. */
  first_seen_ms: number;
  /** Epoch ms at which it got its id. */
  at_ms: number;
  box: number[];
  score: number;
}

/** A track seen again (at most once a second). */
export interface TrackUpdatePayload extends TrackIdentity {
  type: "update";
  /** Epoch ms of the frame. */
  at_ms: number;
  box: number[];
  score: number;
  keypoints: number[][];
}

/** A track ended. */
export interface TrackEndPayload extends TrackIdentity {
  type: "end";
  /** lost, duplicate or stopped. */
  reason: string;
  first_seen_ms: number;
  last_seen_ms: number;
  duration_ms: number;
  ended_at_ms: number;
  /** Last matched box and keypoints. */
  box: number[];
  keypoints: number[][] | null;
}

/**
 * The `new` event of a track.
 *
 * @param streamId its stream
 * @param event the tracker's event
 * @returns the payload
 */
export function trackNewPayload(streamId: string, event: TrackStartedEvent): TrackNewPayload {
  return {
    type: "new",
    stream_id: streamId,
    run_id: event.runId,
    track_id: event.trackId,
    first_seen_ms: wallMs(event.firstSeenMs),
    at_ms: wallMs(event.atMs),
    box: event.box.map(round2),
    score: round3(event.score),
  };
}

/**
 * The `update` event of a tracked person in a frame.
 *
 * @param streamId its stream
 * @param runId the stream's run id, when known
 * @param person the person (with `trackId`)
 * @param atMs the frame's capture time, `performance.now()` clock
 * @returns the payload
 */
export function trackUpdatePayload(
  streamId: string,
  runId: string | null,
  person: Person,
  atMs: number,
): TrackUpdatePayload {
  return {
    type: "update",
    stream_id: streamId,
    run_id: runId,
    track_id: person.trackId!,
    at_ms: wallMs(atMs),
    box: person.box.map(round2),
    score: round3(person.score),
    keypoints: keypointsJson(person.keypoints, person.keypointDims ?? 3),
  };
}

/**
 * The `end` event of a track.
 *
 * @param streamId its stream
 * @param event the tracker's event
 * @param dims values per keypoint of the stream's model @default {3}
 * @returns the payload
 */
export function trackEndPayload(
  streamId: string,
  event: TrackEndedEvent,
  dims: 2 | 3 = 3,
): TrackEndPayload {
  return {
    type: "end",
    stream_id: streamId,
    run_id: event.runId,
    track_id: event.trackId,
    reason: event.reason,
    first_seen_ms: wallMs(event.firstSeenMs),
    last_seen_ms: wallMs(event.lastSeenMs),
    duration_ms: round3(event.durationMs),
    ended_at_ms: wallMs(event.endedAtMs),
    box: event.box.map(round2),
    keypoints: event.keypoints === null ? null : keypointsJson(event.keypoints, dims),
  };
}
