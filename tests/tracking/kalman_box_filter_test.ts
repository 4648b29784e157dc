import { assert, assertAlmostEquals, assertThrows } from "../_assert.ts";
import {
  cornersToXyah,
  KALMAN_STATE_LENGTH,
  KalmanBoxFilter,
} from "../../src/tracking/kalman_box_filter.ts";

const PERIOD = 1000 / 30;

/** ByteTrack's filter written out with full 8x8 matrices, per-frame velocities (the reference). */
class ReferenceFilter {
  mean: number[] = [];
  cov: number[][] = [];
  static readonly wp = 1 / 20;
  static readonly wv = 1 / 160;

  initiate(z: number[]): void {
    const h = z[3]!;
    const { wp, wv } = ReferenceFilter;
    this.mean = [...z, 0, 0, 0, 0];
    const std = [
      2 * wp * h,
      2 * wp * h,
      1e-2,
      2 * wp * h,
      10 * wv * h,
      10 * wv * h,
      1e-5,
      10 * wv * h,
    ];
    this.cov = diag(std.map((s) => s * s));
  }

  predict(): void {
    const h = this.mean[3]!;
    const { wp, wv } = ReferenceFilter;
    const std = [wp * h, wp * h, 1e-2, wp * h, wv * h, wv * h, 1e-5, wv * h];
    const f = identity(8);
    for (let i = 0; i < 4; i++) f[i]![i + 4] = 1;
    this.mean = mulVec(f, this.mean);
    this.cov = add(mul(mul(f, this.cov), transpose(f)), diag(std.map((s) => s * s)));
  }

  update(z: number[]): void {
    const h = this.mean[3]!;
    const wp = ReferenceFilter.wp;
    const r = diag([wp * h, wp * h, 1e-1, wp * h].map((s) => s * s));
    const hm = identity(8).slice(0, 4);
    const s = add(mul(mul(hm, this.cov), transpose(hm)), r);
    const k = mul(mul(this.cov, transpose(hm)), invert(s)); // 8x4
    const innovation = z.map((zi, i) => zi - this.mean[i]!);
    const correction = mulVec(k, innovation);
    this.mean = this.mean.map((m, i) => m + correction[i]!);
    this.cov = sub(this.cov, mul(mul(k, s), transpose(k)));
  }
}

function identity(n: number): number[][] {
  return Array.from(
    { length: n },
    (_, i) => Array.from({ length: n }, (_, j) => (i === j ? 1 : 0)),
  );
}
function diag(values: number[]): number[][] {
  return values.map((v, i) => values.map((_, j) => (i === j ? v : 0)));
}
function transpose(a: number[][]): number[][] {
  return a[0]!.map((_, j) => a.map((row) => row[j]!));
}
function mul(a: number[][], b: number[][]): number[][] {
  return a.map((row) => b[0]!.map((_, j) => row.reduce((s, x, k) => s + x * b[k]![j]!, 0)));
}
function mulVec(a: number[][], v: number[]): number[] {
  return a.map((row) => row.reduce((s, x, k) => s + x * v[k]!, 0));
}
function add(a: number[][], b: number[][]): number[][] {
  return a.map((row, i) => row.map((x, j) => x + b[i]![j]!));
}
function sub(a: number[][], b: number[][]): number[][] {
  return a.map((row, i) => row.map((x, j) => x - b[i]![j]!));
}
/** Gauss-Jordan inverse. */
function invert(a: number[][]): number[][] {
  const n = a.length;
  const m = a.map((row, i) => [...row, ...identity(n)[i]!]);
  for (let c = 0; c < n; c++) {
    let p = c;
    for (let r = c + 1; r < n; r++) if (Math.abs(m[r]![c]!) > Math.abs(m[p]![c]!)) p = r;
    [m[c], m[p]] = [m[p]!, m[c]!];
    const pivot = m[c]![c]!;
    m[c] = m[c]!.map((x) => x / pivot);
    for (let r = 0; r < n; r++) {
      if (r === c) continue;
      const f = m[r]![c]!;
      m[r] = m[r]!.map((x, j) => x - f * m[c]![j]!);
    }
  }
  return m.map((row) => row.slice(n));
}

function relativeClose(actual: number, expected: number, what: string): void {
  const scale = Math.max(Math.abs(expected), 1e-12);
  assert(Math.abs(actual - expected) / scale < 1e-9, `${what}: ${actual} vs ${expected}`);
}

Deno.test("KalmanBoxFilter - at the nominal period it equals ByteTrack's full 8x8 filter", () => {
  const kf = new KalmanBoxFilter();
  const ref = new ReferenceFilter();
  const state = new Float64Array(KALMAN_STATE_LENGTH);
  const z = [300, 200, 0.45, 180];
  kf.initiate(state, z);
  ref.initiate(z);
  const steps = [[304, 199, 0.46, 181], null, [311, 197, 0.44, 183], [316, 196, 0.45, 182], null];
  for (const measurement of steps) {
    kf.predict(state, PERIOD);
    ref.predict();
    if (measurement) {
      kf.update(state, measurement);
      ref.update(measurement);
    }
  }
  const t0 = PERIOD / 1000;
  for (let d = 0; d < 4; d++) {
    relativeClose(state[d]!, ref.mean[d]!, `mean ${d}`);
    // Own velocities are per second, the reference's per frame.
    relativeClose(state[d + 4]! * t0, ref.mean[d + 4]!, `velocity ${d}`);
    relativeClose(state[8 + 3 * d]!, ref.cov[d]![d]!, `position variance ${d}`);
    relativeClose(state[9 + 3 * d]! * t0, ref.cov[d]![d + 4]!, `cross covariance ${d}`);
    relativeClose(state[10 + 3 * d]! * t0 * t0, ref.cov[d + 4]![d + 4]!, `velocity variance ${d}`);
  }
  // The reference's covariance stays block-diagonal, which is what lets the filter keep 12 numbers.
  for (let i = 0; i < 8; i++) {
    for (let j = 0; j < 8; j++) {
      if (i % 4 !== j % 4) assertAlmostEquals(ref.cov[i]![j]!, 0, 1e-12);
    }
  }
});

Deno.test("KalmanBoxFilter.predict() keeps a constant-velocity target within a small error", () => {
  const kf = new KalmanBoxFilter();
  const state = new Float64Array(KALMAN_STATE_LENGTH);
  // 120 px/s right, 45 px/s up, size fixed; measured every frame for a second.
  const at = (ms: number) => [100 + 0.12 * ms, 400 - 0.045 * ms, 0.4, 200];
  kf.initiate(state, at(0));
  for (let f = 1; f <= 30; f++) {
    kf.predict(state, PERIOD);
    kf.update(state, at(f * PERIOD));
  }
  assertAlmostEquals(state[4]!, 120, 3);
  assertAlmostEquals(state[5]!, -45, 3);
  // Half a second ahead without a measurement.
  kf.predict(state, 500);
  const truth = at(1500);
  assertAlmostEquals(state[0]!, truth[0]!, 2.5);
  assertAlmostEquals(state[1]!, truth[1]!, 2.5);
  assertAlmostEquals(state[3]!, 200, 0.5);
});

Deno.test("KalmanBoxFilter.predict() steps by elapsed time: a dropped frame moves twice as far", () => {
  const kf = new KalmanBoxFilter();
  const a = new Float64Array(KALMAN_STATE_LENGTH);
  kf.initiate(a, [0, 0, 0.5, 100]);
  a[4] = 300; // px per second
  const b = a.slice();
  kf.predict(a, PERIOD);
  kf.predict(b, 2 * PERIOD);
  assertAlmostEquals(a[0]!, 10, 1e-9);
  assertAlmostEquals(b[0]!, 20, 1e-9);
  // Uncertainty grows with time too.
  assert(b[8]! > a[8]!);
  const c = b.slice();
  kf.predict(c, 0);
  assert(c.every((x, i) => x === b[i]), "a zero step changes nothing");
});

Deno.test("KalmanBoxFilter - box() and cornersToXyah() invert each other", () => {
  const kf = new KalmanBoxFilter();
  const state = new Float64Array(KALMAN_STATE_LENGTH);
  const xyah = new Float64Array(4);
  cornersToXyah([10, 20, 50, 120], xyah);
  assert(xyah.join() === "30,70,0.4,100", xyah.join());
  kf.initiate(state, xyah);
  const box = new Float64Array(4);
  kf.box(state, box);
  assert(box.join() === "10,20,50,120", box.join());
});

Deno.test("KalmanBoxFilter() refuses a period that is not positive, naming it", () => {
  assertThrows(
    () => new KalmanBoxFilter({ nominalFramePeriodMs: 0 }),
    RangeError,
    "nominalFramePeriodMs",
  );
});
