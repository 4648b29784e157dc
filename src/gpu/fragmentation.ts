// The fragmentation ratio (docs/fragmentation.md): the share of the exporter's GPU memory its working batch shape does not need.

/**
 * `clamp(1 - needed / used, 0, 1)`: 0 when the exporter holds no more than a fresh session
 * at its working shape needs, towards 1 as the rest of what it holds is waste.
 *
 * @param usedMiB the exporter's own device memory
 * @param neededMiB what a fresh session warmed at the working shape held
 * @returns the ratio, or null when either reading is missing or `used` is not positive
 */
export function fragmentationRatio(
  usedMiB: number | null,
  neededMiB: number | null,
): number | null {
  if (usedMiB === null || neededMiB === null || !(usedMiB > 0)) return null;
  return Math.min(1, Math.max(0, 1 - neededMiB / usedMiB));
}

/** The largest batch shape run within a sliding window, so growing load is not read as waste. */
export class WorkingShape {
  readonly windowMs: number;
  #lastSeen = new Map<number, number>();

  constructor(windowMs = 60_000) {
    this.windowMs = windowMs;
  }

  /** Records a batch run at `shape` at time `atMs`. */
  record(shape: number, atMs: number): void {
    this.#lastSeen.set(shape, atMs);
  }

  /** The largest shape run in the window ending at `nowMs`, or null when none was. */
  current(nowMs: number): number | null {
    let largest: number | null = null;
    for (const [shape, at] of this.#lastSeen) {
      if (nowMs - at <= this.windowMs && (largest === null || shape > largest)) largest = shape;
    }
    return largest;
  }
}

/** needed[b]: the exporter's own memory right after a fresh session warmed up at shape b. */
export class CalibrationTable {
  #needed = new Map<number, number>();

  /** Sets needed[shape] in MiB. */
  set(shape: number, mib: number): void {
    this.#needed.set(shape, mib);
  }

  /** needed[shape], or that of the nearest calibrated shape above it (else below), or null. */
  get(shape: number): number | null {
    const exact = this.#needed.get(shape);
    if (exact !== undefined) return exact;
    const shapes = [...this.#needed.keys()].sort((a, b) => a - b);
    const above = shapes.find((s) => s > shape);
    const below = shapes.filter((s) => s < shape).at(-1);
    const nearest = above ?? below;
    return nearest === undefined ? null : this.#needed.get(nearest)!;
  }

  /** The table as [shape, MiB] pairs, ascending. */
  entries(): [number, number][] {
    return [...this.#needed.entries()].sort((a, b) => a[0] - b[0]);
  }
}
