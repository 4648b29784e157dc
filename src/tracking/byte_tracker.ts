// ByteTrack for one stream: gives each detected person a track id that lasts across frames.

import { boxIou } from "./_box_iou.ts";
import {
  cornersToXyah,
  KALMAN_STATE_LENGTH,
  KalmanBoxFilter,
  type KalmanBoxFilterOptions,
} from "./kalman_box_filter.ts";
import {
  BOX_AREA_TO_SEGMENT_AREA,
  COCO_KEYPOINT_SIGMAS,
  KeypointSimilarity,
} from "./keypoint_similarity.ts";
import { LinearAssignment } from "./linear_assignment.ts";
import { createRunId } from "./run_id.ts";

/** One detection handed to the tracker; the decoder's `Person` fits it. */
export interface TrackerDetection {
  /** Box corners `[x1, y1, x2, y2]` in source pixels. */
  box: ArrayLike<number>;
  /** Detection score, 0..1. */
  score: number;
  /** Keypoints as K x D numbers (x, y[, confidence]) in source pixels, when the model has them. */
  keypoints?: Float32Array | null;
}

/** Options of {@linkcode ByteTracker}; the defaults are Ultralytics' `bytetrack.yaml`. */
export interface ByteTrackerOptions {
  /**
   * Run id that qualifies this tracker's ids (see {@linkcode createRunId}).
   * @default {createRunId()}
   */
  runId?: string;
  /**
   * Detections at or above this score take part in the first association
   * (`track_high_thresh`).
   * @default {0.25}
   */
  highThreshold?: number;
  /**
   * Detections above this and below the high threshold take part in the second association
   * (`track_low_thresh`).
   * @default {0.1}
   */
  lowThreshold?: number;
  /** Unmatched detections at or above this start a track (`new_track_thresh`). @default {0.25} */
  newTrackThreshold?: number;
  /**
   * Largest cost of a first-association match; the cost is 1 - IoU x score with `fuseScore`,
   * else 1 - IoU (`match_thresh`).
   * @default {0.8}
   */
  matchThreshold?: number;
  /** Largest cost (1 - IoU) of a low-score detection's match to a tracked track. @default {0.5} */
  lowMatchThreshold?: number;
  /** Largest cost of a match of a track seen once (unconfirmed). @default {0.7} */
  unconfirmedMatchThreshold?: number;
  /**
   * Milliseconds a lost track is kept for its person to return (`track_buffer`, 30 frames at
   * 30 fps).
   * @default {1000}
   */
  lostTrackBufferMs?: number;
  /** Multiplies the IoU similarity by the detection score (`fuse_score`). @default {true} */
  fuseScore?: boolean;
  /**
   * Weight of the keypoint term: similarity = (1 - w) IoU + w OKS between the track's last
   * keypoints (moved with its predicted box) and the detection's, where both have keypoints,
   * the boxes overlap and the track was seen in the previous frame. Off by default, as
   * ByteTrack; the exporter runs it at 0.4 (`TRACKING_DEFAULTS`): on synthetic crossings with
   * noisy boxes (`scripts/track_bench.ts`) that cut id switches by about half.
   * @default {0}
   */
  keypointWeight?: number;
  /** Numbers per keypoint in `TrackerDetection.keypoints`. @default {3} */
  keypointDims?: 2 | 3;
  /** OKS sigmas, one per keypoint. @default {COCO_KEYPOINT_SIGMAS} */
  keypointSigmas?: readonly number[];
  /** Kalman filter noise and nominal frame period. */
  kalman?: KalmanBoxFilterOptions;
}

/** A tracker option or input was unusable. */
export class TrackerError extends Error {
  /**
   * @param message What failed and the offending value.
   * @param options The cause, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrackerError";
  }
}

/**
 * Why a track ended: lost for longer than the buffer, dropped as the younger of two duplicate
 * tracks, or ended by {@linkcode ByteTracker.endAll}.
 */
export type TrackEndReason = "lost" | "duplicate" | "stopped";

/** A track was confirmed (seen in two frames, or in the tracker's first frame) and got its id. */
export interface TrackStartedEvent {
  type: "started";
  runId: string;
  trackId: number;
  /** Frame time (ms) of the first detection of this person. */
  firstSeenMs: number;
  /** Frame time (ms) at which the track got its id. */
  atMs: number;
  /** Detection box at `atMs`, corners in source pixels. */
  box: [number, number, number, number];
  score: number;
}

/** A confirmed track ended. */
export interface TrackEndedEvent {
  type: "ended";
  runId: string;
  trackId: number;
  reason: TrackEndReason;
  /** Frame time (ms) of the first detection. */
  firstSeenMs: number;
  /** Frame time (ms) of the last matched detection. */
  lastSeenMs: number;
  /** `lastSeenMs - firstSeenMs`. */
  durationMs: number;
  /** Frame time (ms) of the update that ended it. */
  endedAtMs: number;
  /** Last matched detection box, corners in source pixels. */
  box: [number, number, number, number];
  /** Last matched detection's keypoints (a copy), or null. */
  keypoints: Float32Array | null;
}

/**
 * What one {@linkcode ByteTracker.update} returns. The object and its arrays are reused by the
 * next update: copy what must outlive it.
 */
export interface TrackerUpdate {
  /** Track id of each input detection (same order), or null when it is not tracked. */
  readonly ids: readonly (number | null)[];
  /** Tracks that got their id in this update. */
  readonly started: readonly TrackStartedEvent[];
  /** Tracks that ended in this update. */
  readonly ended: readonly TrackEndedEvent[];
}

/** The mutable form of {@linkcode TrackerUpdate} that the tracker fills. */
interface UpdateBuffers {
  ids: (number | null)[];
  started: TrackStartedEvent[];
  ended: TrackEndedEvent[];
}

const TRACKED = 0;
const LOST = 1;
/** Tracked and lost tracks closer than this IoU are duplicates (ByteTrack: distance < 0.15). */
const DUPLICATE_IOU = 0.85;
// KEYPOINTS_OF_TRACKED_ONLY: the keypoint term is used for tracks seen in the previous frame
// only. A lost track's last keypoints, moved with its predicted box, no longer tell where the
// limbs are, and OKS, sharper than IoU, kept a person who came back from behind an occluder from
// their old id: on the walking scene with the demo model, OKS on lost tracks too gave IDF1 88.6%
// and 2 id switches against 96.5% and none without it; tracked only, 96.8% and none
// (scripts/track_bench.ts and docs/measurements.md have the crossing figures).
/** Slack on the lost buffer so a buffer of exactly N frame periods is not lost to rounding. */
const BUFFER_SLACK_MS = 1e-3;
/** Weight of each new frame interval in the running estimate of the stream's frame interval. */
const INTERVAL_SMOOTHING = 0.1;

class Track {
  id = 0;
  confirmed = false;
  removed = false;
  state = TRACKED;
  readonly kalman = new Float64Array(KALMAN_STATE_LENGTH);
  /** Box of the Kalman mean, corners. */
  readonly box = new Float64Array(4);
  /** Last matched detection box, corners. */
  readonly lastBox = new Float64Array(4);
  keypoints: Float32Array | null = null;
  hasKeypoints = false;
  /** The last keypoints moved and scaled with the predicted box. */
  predictedKeypoints: Float32Array | null = null;
  /**
   * Score and times in a typed array: V8 may box a number stored in an object field, one
   * allocation per store, where a typed-array store never allocates.
   */
  readonly #numbers = new Float64Array(4);

  constructor(timeMs: number) {
    this.#numbers[1] = this.#numbers[2] = this.#numbers[3] = timeMs;
  }

  get score(): number {
    return this.#numbers[0]!;
  }
  set score(value: number) {
    this.#numbers[0] = value;
  }
  /** Frame time of the first detection. */
  get firstSeenMs(): number {
    return this.#numbers[1]!;
  }
  /** Frame time of the last matched detection. */
  get lastSeenMs(): number {
    return this.#numbers[2]!;
  }
  set lastSeenMs(value: number) {
    this.#numbers[2] = value;
  }
  /** Frame time the Kalman state was last predicted to. */
  get predictedAtMs(): number {
    return this.#numbers[3]!;
  }
  set predictedAtMs(value: number) {
    this.#numbers[3] = value;
  }
}

/**
 * A list of tracks that keeps its storage, so clearing and refilling it each frame allocates
 * nothing (setting an array's length to 0 frees its backing store in V8). Entries past `size`
 * are stale and may keep a few ended tracks alive until overwritten.
 */
class TrackList {
  readonly items: Track[] = [];
  size = 0;

  clear(): void {
    this.size = 0;
  }

  push(t: Track): void {
    this.items[this.size++] = t;
  }

  /** Drops the removed tracks, keeping the order of the others. */
  compact(): void {
    let kept = 0;
    for (let i = 0; i < this.size; i++) {
      const t = this.items[i]!;
      if (!t.removed) this.items[kept++] = t;
    }
    this.size = kept;
  }
}

function checkUnit(name: string, value: number): void {
  if (!(value >= 0 && value <= 1)) {
    throw new TrackerError(`Cannot create the tracker: ${name} is not within 0..1: ${value}`);
  }
}

function validDetection(d: TrackerDetection): boolean {
  const b = d.box;
  return Number.isFinite(d.score) && b[2]! > b[0]! && b[3]! > b[1]! &&
    Number.isFinite(b[0]!) && Number.isFinite(b[1]!) && Number.isFinite(b[2]!) &&
    Number.isFinite(b[3]!);
}

/**
 * ByteTrack (Zhang et al. 2022) as Ultralytics implements it, per stream and in frame order:
 *
 * 1. Every track's Kalman filter predicts its box at the frame's time.
 * 2. Detections scoring at least `highThreshold` are matched to the confirmed tracked and the
 *    lost tracks, cost 1 - IoU x score (`fuseScore`), optimal assignment, cost at most
 *    `matchThreshold`. A matched lost track is found again with its old id.
 * 3. Detections between `lowThreshold` and `highThreshold` are matched to the tracked tracks
 *    left over, cost 1 - IoU at most `lowMatchThreshold`; tracked tracks still unmatched are lost.
 * 4. Tracks seen in one frame only (unconfirmed) are matched to the high-score detections left,
 *    cost at most `unconfirmedMatchThreshold`; a match confirms the track and gives it its id,
 *    an unconfirmed track without a match is dropped.
 * 5. High-score detections still unmatched, scoring at least `newTrackThreshold`, start
 *    unconfirmed tracks (confirmed at once in the tracker's first frame).
 * 6. Lost tracks unseen for more than `lostTrackBufferMs` (and half a frame interval of slack for
 *    jittering frame times) end; of a tracked and a lost track overlapping by IoU > 0.85, the
 *    younger ends.
 *
 * Time rather than frame counts: the Kalman filter steps by elapsed time and the lost buffer is
 * in milliseconds, so streams at any rate, and with dropped frames, keep their tracks.
 *
 * Ids are integers from 1, unique per tracker and never reused; the tracker's `runId` tells
 * them apart from another run's (JSONL consumers join on run id, stream id and track id, and
 * MOTChallenge tools want integer ids). Unconfirmed tracks have no id yet, so a one-frame false
 * detection spends none.
 *
 * The update allocates only when tracks start or end; its result's arrays are reused.
 *
 * @example
 * ```ts
 * const tracker = new ByteTracker({ runId: "run1" });
 * const a = tracker.update([{ box: [10, 10, 60, 110], score: 0.9 }], 0);
 * a.ids; // [1]
 * const b = tracker.update([{ box: [12, 10, 62, 110], score: 0.9 }], 33);
 * b.ids; // [1]
 * ```
 */
export class ByteTracker {
  readonly runId: string;
  readonly highThreshold: number;
  readonly lowThreshold: number;
  readonly newTrackThreshold: number;
  readonly matchThreshold: number;
  readonly lowMatchThreshold: number;
  readonly unconfirmedMatchThreshold: number;
  readonly lostTrackBufferMs: number;
  readonly fuseScore: boolean;
  readonly keypointWeight: number;

  #kf: KalmanBoxFilter;
  #oks: KeypointSimilarity | null;
  #solver = new LinearAssignment();
  #nextId = 1;
  #frames = 0;
  /**
   * Time of the last frame and the running mean of the frame interval (0 before the second
   * frame), in a typed array so that storing them never allocates.
   */
  #lastTime = new Float64Array([-Infinity, 0]);
  #tracked = new TrackList();
  #lost = new TrackList();
  #spareTracked = new TrackList();
  #spareLost = new TrackList();
  #pool = new TrackList();
  #unconfirmed = new TrackList();
  #leftTracked = new TrackList();
  #high = new Int32Array(16);
  #low = new Int32Array(16);
  #rest = new Int32Array(16);
  #detTrack: (Track | null)[] = [];
  #xyah = new Float64Array(4);
  #result: UpdateBuffers = { ids: [], started: [], ended: [] };

  /**
   * @param options Thresholds, buffer, keypoint term and run id.
   * @throws {TrackerError} When an option is out of range, naming it.
   */
  constructor(options: ByteTrackerOptions = {}) {
    this.runId = options.runId ?? createRunId();
    if (this.runId.length === 0) {
      throw new TrackerError("Cannot create the tracker: runId is empty");
    }
    this.highThreshold = options.highThreshold ?? 0.25;
    this.lowThreshold = options.lowThreshold ?? 0.1;
    this.newTrackThreshold = options.newTrackThreshold ?? 0.25;
    this.matchThreshold = options.matchThreshold ?? 0.8;
    this.lowMatchThreshold = options.lowMatchThreshold ?? 0.5;
    this.unconfirmedMatchThreshold = options.unconfirmedMatchThreshold ?? 0.7;
    this.lostTrackBufferMs = options.lostTrackBufferMs ?? 1000;
    this.fuseScore = options.fuseScore ?? true;
    this.keypointWeight = options.keypointWeight ?? 0;
    checkUnit("highThreshold", this.highThreshold);
    checkUnit("lowThreshold", this.lowThreshold);
    checkUnit("newTrackThreshold", this.newTrackThreshold);
    checkUnit("matchThreshold", this.matchThreshold);
    checkUnit("lowMatchThreshold", this.lowMatchThreshold);
    checkUnit("unconfirmedMatchThreshold", this.unconfirmedMatchThreshold);
    checkUnit("keypointWeight", this.keypointWeight);
    if (this.lowThreshold > this.highThreshold) {
      throw new TrackerError(
        `Cannot create the tracker: lowThreshold ${this.lowThreshold} is above ` +
          `highThreshold ${this.highThreshold}`,
      );
    }
    if (!(this.lostTrackBufferMs >= 0 && Number.isFinite(this.lostTrackBufferMs))) {
      throw new TrackerError(
        "Cannot create the tracker: lostTrackBufferMs is not a non-negative number: " +
          this.lostTrackBufferMs,
      );
    }
    try {
      this.#kf = new KalmanBoxFilter(options.kalman);
      this.#oks = this.keypointWeight > 0
        ? new KeypointSimilarity({
          dims: options.keypointDims ?? 3,
          sigmas: options.keypointSigmas ?? COCO_KEYPOINT_SIGMAS,
        })
        : null;
    } catch (err) {
      throw new TrackerError(`Cannot create the tracker: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }

  /** Confirmed tracks matched in the last update (people in view now). */
  get activeCount(): number {
    let n = 0;
    for (let i = 0; i < this.#tracked.size; i++) if (this.#tracked.items[i]!.confirmed) n++;
    return n;
  }

  /** Time of the last update in milliseconds (-Infinity before the first). */
  get lastTimeMs(): number {
    return this.#lastTime[0]!;
  }

  /** Tracks lost but still within the buffer. */
  get lostCount(): number {
    return this.#lost.size;
  }

  /**
   * Tracks one frame.
   *
   * @param detections The frame's detections, down to `lowThreshold`; boxes without area are
   * not tracked.
   * @param timeMs The frame's time in milliseconds (any monotonic clock); never earlier than
   * the previous frame's.
   * @returns Each detection's track id, and the tracks started and ended; valid until the
   * next call.
   * @throws {TrackerError} When `timeMs` is not finite or goes back.
   */
  update(detections: readonly TrackerDetection[], timeMs: number): TrackerUpdate {
    if (!Number.isFinite(timeMs)) {
      throw new TrackerError(`Cannot track a frame: its time is not a number: ${timeMs}`);
    }
    if (timeMs < this.#lastTime[0]!) {
      throw new TrackerError(
        `Cannot track a frame: its time ${timeMs} ms is before the previous frame's ${
          this.#lastTime[0]
        } ms`,
      );
    }
    const interval = timeMs - this.#lastTime[0]!;
    if (this.#frames > 0) {
      const mean = this.#lastTime[1]!;
      this.#lastTime[1] = this.#frames === 1
        ? interval
        : mean + INTERVAL_SMOOTHING * (interval - mean);
    }
    this.#lastTime[0] = timeMs;
    this.#frames++;
    const result = this.#result;
    if (result.started.length) result.started.length = 0;
    if (result.ended.length) result.ended.length = 0;
    const n = detections.length;
    const detTrack = this.#detTrack;
    for (let i = 0; i < n; i++) detTrack[i] = null;
    if (this.#high.length < n) {
      this.#high = new Int32Array(2 * n);
      this.#low = new Int32Array(2 * n);
      this.#rest = new Int32Array(2 * n);
    }

    // Split the detections by score.
    const high = this.#high;
    const low = this.#low;
    let highCount = 0;
    let lowCount = 0;
    for (let i = 0; i < n; i++) {
      const d = detections[i]!;
      if (!validDetection(d)) continue;
      if (d.score >= this.highThreshold) high[highCount++] = i;
      else if (d.score > this.lowThreshold) low[lowCount++] = i;
    }

    // Step 1: predict every track at this frame's time.
    const pool = this.#pool;
    const unconfirmed = this.#unconfirmed;
    pool.clear();
    unconfirmed.clear();
    for (let i = 0; i < this.#tracked.size; i++) {
      const t = this.#tracked.items[i]!;
      this.#predict(t);
      if (t.confirmed) pool.push(t);
      else unconfirmed.push(t);
    }
    for (let i = 0; i < this.#lost.size; i++) {
      const t = this.#lost.items[i]!;
      this.#predict(t);
      pool.push(t);
    }

    // Step 2: high-score detections against tracked and lost tracks.
    const solver = this.#solver;
    this.#fillCosts(pool, detections, high, highCount, true);
    solver.solve(this.matchThreshold);
    const leftTracked = this.#leftTracked;
    leftTracked.clear();
    for (let r = 0; r < pool.size; r++) {
      const c = solver.rowToCol[r]!;
      const t = pool.items[r]!;
      if (c >= 0) this.#match(t, detections, high[c]!);
      else if (t.state === TRACKED) leftTracked.push(t);
    }
    const rest = this.#rest;
    let restCount = 0;
    for (let c = 0; c < highCount; c++) {
      if (solver.colToRow[c]! < 0) rest[restCount++] = high[c]!;
    }

    // Step 3: low-score detections against the tracked tracks left; the rest are lost.
    this.#fillCosts(leftTracked, detections, low, lowCount, false);
    solver.solve(this.lowMatchThreshold);
    for (let r = 0; r < leftTracked.size; r++) {
      const c = solver.rowToCol[r]!;
      const t = leftTracked.items[r]!;
      if (c >= 0) this.#match(t, detections, low[c]!);
      else t.state = LOST;
    }

    // Step 4: unconfirmed tracks against the high-score detections left.
    this.#fillCosts(unconfirmed, detections, rest, restCount, true);
    solver.solve(this.unconfirmedMatchThreshold);
    for (let r = 0; r < unconfirmed.size; r++) {
      const t = unconfirmed.items[r]!;
      const c = solver.rowToCol[r]!;
      if (c >= 0) {
        this.#match(t, detections, rest[c]!);
        this.#confirm(t, timeMs);
      } else {
        t.removed = true;
      }
    }

    // Step 5: new tracks from the high-score detections still unmatched.
    const tracked = this.#spareTracked;
    const lost = this.#spareLost;
    tracked.clear();
    lost.clear();
    for (let i = 0; i < this.#tracked.size; i++) {
      const t = this.#tracked.items[i]!;
      if (t.removed) continue;
      (t.state === TRACKED ? tracked : lost).push(t);
    }
    for (let i = 0; i < this.#lost.size; i++) {
      const t = this.#lost.items[i]!;
      (t.state === TRACKED ? tracked : lost).push(t);
    }
    for (let c = 0; c < restCount; c++) {
      if (solver.colToRow[c]! >= 0) continue;
      const i = rest[c]!;
      const d = detections[i]!;
      if (d.score < this.newTrackThreshold) continue;
      const t = new Track(timeMs);
      cornersToXyah(d.box, this.#xyah);
      this.#kf.initiate(t.kalman, this.#xyah);
      this.#record(t, d);
      detTrack[i] = t;
      if (this.#frames === 1) this.#confirm(t, timeMs);
      tracked.push(t);
    }

    // Step 6: end lost tracks past the buffer, then the younger of duplicates. The buffer has
    // half a frame interval of slack: frame times jitter (a camera's clock, a late timer), and a
    // person hidden for exactly the buffer (30 frames at 30 fps) is matched in the frame after
    // it, before this step, as with Ultralytics' frame count; without the slack, a frame 1 ms
    // late ended the track one frame early, and the person came back with a new id.
    const buffer = this.lostTrackBufferMs + BUFFER_SLACK_MS +
      0.5 * Math.min(this.#lastTime[1]!, this.lostTrackBufferMs);
    for (let i = 0; i < lost.size; i++) {
      const t = lost.items[i]!;
      if (timeMs - t.lastSeenMs > buffer) {
        this.#end(t, "lost", timeMs);
      }
    }
    lost.compact();
    let duplicates = false;
    for (let i = 0; i < tracked.size; i++) {
      const p = tracked.items[i]!;
      for (let j = 0; j < lost.size; j++) {
        const q = lost.items[j]!;
        if (p.removed || q.removed || boxIou(p.box, q.box) <= DUPLICATE_IOU) continue;
        duplicates = true;
        const younger = p.lastSeenMs - p.firstSeenMs > q.lastSeenMs - q.firstSeenMs ? q : p;
        this.#end(younger, "duplicate", timeMs);
      }
    }
    if (duplicates) {
      tracked.compact();
      lost.compact();
    }
    this.#spareTracked = this.#tracked;
    this.#spareLost = this.#lost;
    this.#tracked = tracked;
    this.#lost = lost;

    const ids = result.ids;
    if (ids.length !== n) ids.length = n;
    for (let i = 0; i < n; i++) {
      const t = detTrack[i];
      ids[i] = t && t.confirmed && !t.removed ? t.id : null;
    }
    return result;
  }

  /**
   * Ends every confirmed track, as when the stream stops; the tracker stays usable and keeps
   * counting ids from where it was.
   *
   * @param timeMs Time of the stop, in milliseconds.
   * @returns One ended event per confirmed track, reason `"stopped"`.
   */
  endAll(timeMs: number): TrackEndedEvent[] {
    const ended: TrackEndedEvent[] = [];
    for (const list of [this.#tracked, this.#lost]) {
      for (let i = 0; i < list.size; i++) {
        const t = list.items[i]!;
        if (t.confirmed) ended.push(this.#endedEvent(t, "stopped", timeMs));
        t.removed = true;
      }
      list.clear();
    }
    return ended;
  }

  /** The current frame's time; a typed-array read, where a number argument may be boxed. */
  get #now(): number {
    return this.#lastTime[0]!;
  }

  #predict(t: Track): void {
    const timeMs = this.#now;
    // ByteTrack stops a lost box growing or shrinking: its height velocity is zeroed.
    if (t.state !== TRACKED) t.kalman[7] = 0;
    this.#kf.predict(t.kalman, timeMs - t.predictedAtMs);
    t.predictedAtMs = timeMs;
    this.#kf.box(t.kalman, t.box);
    if (this.#oks && t.hasKeypoints) this.#moveKeypoints(t);
  }

  /** Moves the track's last keypoints with its box: last box to predicted box. */
  #moveKeypoints(t: Track): void {
    const from = t.lastBox;
    const to = t.box;
    const sx = (to[2]! - to[0]!) / (from[2]! - from[0]!);
    const sy = (to[3]! - to[1]!) / (from[3]! - from[1]!);
    const fx = (from[0]! + from[2]!) / 2, fy = (from[1]! + from[3]!) / 2;
    const tx = (to[0]! + to[2]!) / 2, ty = (to[1]! + to[3]!) / 2;
    const k = t.keypoints!;
    let out = t.predictedKeypoints;
    if (!out || out.length !== k.length) out = t.predictedKeypoints = new Float32Array(k.length);
    const dims = this.#oks!.dims;
    for (let o = 0; o + 1 < k.length; o += dims) {
      out[o] = tx + (k[o]! - fx) * sx;
      out[o + 1] = ty + (k[o + 1]! - fy) * sy;
      if (dims === 3) out[o + 2] = k[o + 2]!;
    }
  }

  /**
   * Sizes the solver for `tracks` x `count` detections (indices in `columns`) and fills its
   * costs, 1 - similarity: for the `full` cost the IoU blended with OKS (the keypoint term) and
   * multiplied by the score (`fuseScore`), else the IoU alone (the low-score pass). One loop,
   * no value returned per pair, so no number is boxed.
   */
  #fillCosts(
    tracks: TrackList,
    detections: readonly TrackerDetection[],
    columns: Int32Array,
    count: number,
    full: boolean,
  ): void {
    const cost = this.#solver.prepare(tracks.size, count);
    const fuse = full && this.fuseScore;
    const oks = full ? this.#oks : null;
    const w = this.keypointWeight;
    for (let r = 0; r < tracks.size; r++) {
      const t = tracks.items[r]!;
      // Only a track seen in the previous frame: see KEYPOINTS_OF_TRACKED_ONLY.
      const useKeypoints = oks !== null && t.hasKeypoints && t.state === TRACKED;
      for (let c = 0; c < count; c++) {
        const d = detections[columns[c]!]!;
        let similarity = boxIou(t.box, d.box);
        if (useKeypoints && similarity > 0 && d.keypoints) {
          const b = d.box;
          const area = BOX_AREA_TO_SEGMENT_AREA * (b[2]! - b[0]!) * (b[3]! - b[1]!);
          const o = oks.similarity(t.predictedKeypoints!, d.keypoints, area);
          if (!Number.isNaN(o)) similarity = (1 - w) * similarity + w * o;
        }
        if (fuse) similarity *= d.score;
        cost[r * count + c] = 1 - similarity;
      }
    }
  }

  #match(t: Track, detections: readonly TrackerDetection[], i: number): void {
    const d = detections[i]!;
    cornersToXyah(d.box, this.#xyah);
    this.#kf.update(t.kalman, this.#xyah);
    this.#kf.box(t.kalman, t.box);
    t.state = TRACKED;
    t.lastSeenMs = this.#now;
    this.#record(t, d);
    this.#detTrack[i] = t;
  }

  /** Keeps the detection's box, score and keypoints as the track's last seen. */
  #record(t: Track, d: TrackerDetection): void {
    const b = d.box;
    t.lastBox[0] = b[0]!;
    t.lastBox[1] = b[1]!;
    t.lastBox[2] = b[2]!;
    t.lastBox[3] = b[3]!;
    t.score = d.score;
    const k = d.keypoints;
    if (k) {
      if (!t.keypoints || t.keypoints.length !== k.length) t.keypoints = new Float32Array(k.length);
      t.keypoints.set(k);
      t.hasKeypoints = true;
    } else {
      t.hasKeypoints = false;
    }
  }

  #confirm(t: Track, timeMs: number): void {
    t.confirmed = true;
    t.id = this.#nextId++;
    const b = t.lastBox;
    this.#result.started.push({
      type: "started",
      runId: this.runId,
      trackId: t.id,
      firstSeenMs: t.firstSeenMs,
      atMs: timeMs,
      box: [b[0]!, b[1]!, b[2]!, b[3]!],
      score: t.score,
    });
  }

  #end(t: Track, reason: TrackEndReason, timeMs: number): void {
    t.removed = true;
    if (t.confirmed) this.#result.ended.push(this.#endedEvent(t, reason, timeMs));
  }

  #endedEvent(t: Track, reason: TrackEndReason, timeMs: number): TrackEndedEvent {
    const b = t.lastBox;
    return {
      type: "ended",
      runId: this.runId,
      trackId: t.id,
      reason,
      firstSeenMs: t.firstSeenMs,
      lastSeenMs: t.lastSeenMs,
      durationMs: t.lastSeenMs - t.firstSeenMs,
      endedAtMs: timeMs,
      box: [b[0]!, b[1]!, b[2]!, b[3]!],
      keypoints: t.hasKeypoints && t.keypoints ? t.keypoints.slice() : null,
    };
  }
}
