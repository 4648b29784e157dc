// Events per second over a sliding window, per label set, exported as a gauge.

import { grownArray, IndexedMetric, type LabelSet, type MetricValue } from "./indexed_metrics.ts";
import type { MetricDefinition } from "./definitions.ts";

/** Options of {@linkcode WindowRate}. */
export interface WindowRateOptions {
  /** Length of the window in seconds. @default {5} */
  windowSeconds?: number;
  /** Slots the window is cut into; more slots follow a change more smoothly. @default {20} */
  slots?: number;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/**
 * A gauge of events per second per label set over a sliding window, kept as counts in
 * time slots. A series that started less than a window ago is divided by its own age,
 * so a stream's first seconds are not under-reported; one that stalls falls to 0 within
 * the window.
 */
export class WindowRate extends IndexedMetric {
  readonly windowMs: number;
  #slotMs: number;
  #slots: number;
  #now: () => number;
  #counts: Float64Array;
  #stamps: Float64Array;
  #startedAt: Float64Array;

  constructor(
    definition: MetricDefinition,
    labelSets: readonly LabelSet[],
    options: WindowRateOptions = {},
  ) {
    super(definition, "gauge", labelSets);
    this.windowMs = (options.windowSeconds ?? 5) * 1000;
    this.#slots = options.slots ?? 20;
    this.#slotMs = this.windowMs / this.#slots;
    this.#now = options.now ?? (() => performance.now());
    this.#counts = new Float64Array(labelSets.length * this.#slots);
    this.#stamps = new Float64Array(labelSets.length * this.#slots).fill(-1);
    this.#startedAt = new Float64Array(labelSets.length).fill(NaN);
  }

  /** Marks the series as started (so its age counts from here even before its first event). */
  start(series: number, atMs: number = this.#now()): void {
    this.#startedAt[series] = atMs;
  }

  /** Counts `n` events (default 1) in series `series` at the clock's current time, or at `atMs`. */
  record(series: number, n = 1, atMs: number = this.#now()): void {
    if (Number.isNaN(this.#startedAt[series]!)) this.#startedAt[series] = atMs;
    const stamp = Math.floor(atMs / this.#slotMs);
    const slot = series * this.#slots + (stamp % this.#slots);
    if (this.#stamps[slot] !== stamp) {
      this.#stamps[slot] = stamp;
      this.#counts[slot] = 0;
    }
    this.#counts[slot]! += n;
  }

  /** Events per second of series `series` over the window ending now. */
  rate(series: number): number {
    const now = this.#now();
    const started = this.#startedAt[series]!;
    if (Number.isNaN(started)) return 0;
    const current = Math.floor(now / this.#slotMs);
    let total = 0;
    for (let i = 0; i < this.#slots; i++) {
      const slot = series * this.#slots + i;
      const stamp = this.#stamps[slot]!;
      if (stamp > current - this.#slots && stamp <= current) total += this.#counts[slot]!;
    }
    const windowStart = (current - this.#slots + 1) * this.#slotMs;
    // At least one slot long, so a series' very first event does not read as a huge rate.
    const span = Math.max(now - Math.max(windowStart, started), this.#slotMs);
    return total / (span / 1000);
  }

  values(): MetricValue[] {
    const out: MetricValue[] = [];
    this.labelSets.forEach((labels, i) => labels && out.push({ value: this.rate(i), labels }));
    return out;
  }

  protected resizeSeries(count: number): void {
    this.#counts = grownArray(this.#counts, count * this.#slots);
    this.#stamps = grownArray(this.#stamps, count * this.#slots, -1);
    this.#startedAt = grownArray(this.#startedAt, count, NaN);
  }

  protected initSeries(series: number): void {
    this.#counts.fill(0, series * this.#slots, (series + 1) * this.#slots);
    this.#stamps.fill(-1, series * this.#slots, (series + 1) * this.#slots);
    this.#startedAt[series] = NaN;
  }

  reset(): void {
    this.#counts.fill(0);
    this.#stamps.fill(-1);
    this.#startedAt.fill(NaN);
  }
}
