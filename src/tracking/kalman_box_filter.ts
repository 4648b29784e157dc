// ByteTrack's constant-velocity Kalman filter for boxes (centre, aspect, height), stepped by time.

/** Length of the `Float64Array` that holds one track's filter state. */
export const KALMAN_STATE_LENGTH = 20;

/** Options of {@linkcode KalmanBoxFilter}. */
export interface KalmanBoxFilterOptions {
  /**
   * Frame period in milliseconds at which the process noise equals ByteTrack's per-frame noise.
   * @default {1000 / 30}
   */
  nominalFramePeriodMs?: number;
  /** Position noise, as a fraction of the box height per nominal frame. @default {1 / 20} */
  stdWeightPosition?: number;
  /** Velocity noise, as a fraction of the box height per nominal frame. @default {1 / 160} */
  stdWeightVelocity?: number;
}

/** Start of the covariances in the state: after the mean x, y, a, h, vx, vy, va, vh; 3 per axis. */
const COV = 8;

/**
 * The Kalman filter of ByteTrack (Ultralytics' `KalmanFilterXYAH`): the state is the box centre
 * x, y, its aspect ratio a = w / h, its height h, and their velocities; motion is constant
 * velocity and the box (x, y, a, h) is observed directly. Process and measurement noise are
 * proportional to the box height, with ByteTrack's weights.
 *
 * **Time, not frames.** Velocities are kept per second and each prediction steps by the
 * elapsed time `dt`, so streams at different rates and dropped frames move a box by the right
 * distance. The process noise grows linearly with `dt` (a random walk), scaled so that at
 * `dt` = the nominal frame period (30 fps) one prediction is exactly ByteTrack's per-frame step;
 * a gap of two periods adds twice the noise in one step. This keeps ByteTrack's tuning at
 * 30 fps and lets uncertainty grow with time rather than with a frame count.
 *
 * **Storage.** ByteTrack's matrices are diagonal per axis (the motion matrix couples each
 * quantity only with its own velocity; the noises and the initial covariance are diagonal), so
 * the 8x8 covariance stays block-diagonal: four independent 2x2 blocks. The filter keeps those
 * 12 numbers instead of 64, the 4x4 innovation covariance is diagonal, and no matrix is
 * inverted; results equal the full 8x8 filter's. One track's state is a
 * `Float64Array(KALMAN_STATE_LENGTH)` owned by the caller; no method allocates.
 *
 * @example
 * ```ts
 * const kf = new KalmanBoxFilter();
 * const state = new Float64Array(KALMAN_STATE_LENGTH);
 * kf.initiate(state, [320, 240, 0.5, 200]);
 * kf.predict(state, 33.3);
 * kf.update(state, [322, 240, 0.5, 200]);
 * const box = new Float64Array(4);
 * kf.box(state, box); // [x1, y1, x2, y2]
 * ```
 */
export class KalmanBoxFilter {
  readonly nominalFramePeriodMs: number;
  readonly stdWeightPosition: number;
  readonly stdWeightVelocity: number;
  /** Nominal frame period in seconds. */
  #t0: number;

  /**
   * @param options Noise weights and the nominal frame period.
   * @throws {RangeError} When a weight or the period is not a positive finite number.
   */
  constructor(options: KalmanBoxFilterOptions = {}) {
    this.nominalFramePeriodMs = options.nominalFramePeriodMs ?? 1000 / 30;
    this.stdWeightPosition = options.stdWeightPosition ?? 1 / 20;
    this.stdWeightVelocity = options.stdWeightVelocity ?? 1 / 160;
    for (
      const [name, value] of [
        ["nominalFramePeriodMs", this.nominalFramePeriodMs],
        ["stdWeightPosition", this.stdWeightPosition],
        ["stdWeightVelocity", this.stdWeightVelocity],
      ] as const
    ) {
      if (!(value > 0 && Number.isFinite(value))) {
        throw new RangeError(`Cannot create the Kalman filter: ${name} is not positive: ${value}`);
      }
    }
    this.#t0 = this.nominalFramePeriodMs / 1000;
  }

  /**
   * Starts a track from a measurement: the mean is the box at rest, the covariance ByteTrack's
   * initial one (velocities converted to per second).
   *
   * @param state The track's state, `KALMAN_STATE_LENGTH` numbers; overwritten.
   * @param xyah The box as centre x, centre y, aspect ratio w / h, height.
   */
  initiate(state: Float64Array, xyah: ArrayLike<number>): void {
    const h = xyah[3]!;
    const wp = 2 * this.stdWeightPosition * h;
    const wv = 10 * this.stdWeightVelocity * h / this.#t0;
    const wa = 1e-5 / this.#t0;
    for (let d = 0; d < 4; d++) {
      state[d] = xyah[d]!;
      state[d + 4] = 0;
      const c = COV + 3 * d;
      state[c] = d === 2 ? 1e-4 : wp * wp;
      state[c + 1] = 0;
      state[c + 2] = d === 2 ? wa * wa : wv * wv;
    }
  }

  /**
   * Moves the state `dtMs` milliseconds ahead at constant velocity and adds process noise
   * proportional to `dtMs`.
   *
   * @param state The track's state; updated in place.
   * @param dtMs Elapsed time in milliseconds, at least 0.
   */
  predict(state: Float64Array, dtMs: number): void {
    if (!(dtMs > 0)) return;
    const dt = dtMs / 1000;
    const r = dt / this.#t0;
    const h = state[3]!;
    const sp = this.stdWeightPosition * h;
    const sv = this.stdWeightVelocity * h / this.#t0;
    for (let d = 0; d < 4; d++) {
      const qPos = d === 2 ? 1e-4 * r : sp * sp * r;
      const qVel = d === 2 ? (1e-5 / this.#t0) ** 2 * r : sv * sv * r;
      state[d] = state[d]! + state[d + 4]! * dt;
      const c = COV + 3 * d;
      const pp = state[c]!, pv = state[c + 1]!, vv = state[c + 2]!;
      state[c] = pp + 2 * dt * pv + dt * dt * vv + qPos;
      state[c + 1] = pv + dt * vv;
      state[c + 2] = vv + qVel;
    }
  }

  /**
   * Corrects the state with a measured box.
   *
   * @param state The track's state, predicted to the measurement's time; updated in place.
   * @param xyah The measured box as centre x, centre y, aspect ratio, height.
   */
  update(state: Float64Array, xyah: ArrayLike<number>): void {
    const sr = this.stdWeightPosition * state[3]!;
    const rPos = sr * sr;
    for (let d = 0; d < 4; d++) {
      const c = COV + 3 * d;
      const pp = state[c]!, pv = state[c + 1]!, vv = state[c + 2]!;
      const s = pp + (d === 2 ? 1e-2 : rPos);
      const innovation = xyah[d]! - state[d]!;
      const kp = pp / s;
      const kv = pv / s;
      state[d] = state[d]! + kp * innovation;
      state[d + 4] = state[d + 4]! + kv * innovation;
      state[c] = pp - kp * pp;
      state[c + 1] = pv - kp * pv;
      state[c + 2] = vv - kv * pv;
    }
  }

  /**
   * Writes the state's box as corners.
   *
   * @param state The track's state.
   * @param out Receives `[x1, y1, x2, y2]`.
   */
  box(state: Float64Array, out: Float64Array | number[]): void {
    const h = state[3]!;
    const w = state[2]! * h;
    out[0] = state[0]! - w / 2;
    out[1] = state[1]! - h / 2;
    out[2] = state[0]! + w / 2;
    out[3] = state[1]! + h / 2;
  }
}

/**
 * Converts box corners to the filter's measurement (centre x, centre y, aspect, height).
 *
 * @param box `[x1, y1, x2, y2]`.
 * @param out Receives `[x, y, w / h, h]`.
 */
export function cornersToXyah(box: ArrayLike<number>, out: Float64Array | number[]): void {
  const w = box[2]! - box[0]!;
  const h = box[3]! - box[1]!;
  out[0] = box[0]! + w / 2;
  out[1] = box[1]! + h / 2;
  out[2] = w / h;
  out[3] = h;
}
