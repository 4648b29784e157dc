// A summary whose quantiles are exact over the samples of a sliding time window.

import { grownArray, IndexedMetric, type LabelSet, type MetricValue } from "./indexed_metrics.ts";
import type { MetricDefinition } from "./definitions.ts";
import { selectRanks } from "./order_statistics.ts";

/** Options of {@linkcode WindowSummary}. */
export interface WindowSummaryOptions {
  /** Quantiles to export. @default {[0.5, 0.9, 0.99]} */
  quantiles?: readonly number[];
  /** Length of the window in seconds. @default {60} */
  windowSeconds?: number;
  /**
   * Samples kept per series. Past this many in one window, the oldest leave early,
   * so the window holds the newest `capacity` samples. @default {4096}
   */
  capacity?: number;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/**
 * A Prometheus summary per label set. Each series keeps its recent samples in a ring
 * buffer; a scrape sorts the samples of the window and reads exact nearest-rank
 * quantiles (no approximation error within the kept samples). `_sum` and `_count`
 * are cumulative, as Prometheus expects. An observation is two typed-array writes.
 */
export class WindowSummary extends IndexedMetric {
  readonly quantiles: readonly number[];
  readonly windowMs: number;
  readonly capacity: number;
  #now: () => number;
  #samples: Float64Array;
  #times: Float64Array;
  #next: Int32Array;
  #filled: Int32Array;
  #sums: Float64Array;
  #counts: Float64Array;
  #scratch: Float64Array;
  /** NaN samples the last #collectWindow left out of the scratch buffer. */
  #nans = 0;
  /** Indexes of `quantiles` in ascending order, and scratch for their ranks and values. */
  #order: number[];
  #ranks: Int32Array;
  #picked: Float64Array;
  /** The selected values in rank order, before #picked puts them in `quantiles`' order. */
  #selected: Float64Array;
  #quantileLabels: LabelSet[][];

  constructor(
    definition: MetricDefinition,
    labelSets: readonly LabelSet[],
    options: WindowSummaryOptions = {},
  ) {
    super(definition, "summary", labelSets);
    this.quantiles = options.quantiles ?? [0.5, 0.9, 0.99];
    this.windowMs = (options.windowSeconds ?? 60) * 1000;
    this.capacity = options.capacity ?? 4096;
    this.#now = options.now ?? (() => performance.now());
    const n = labelSets.length;
    this.#samples = new Float64Array(n * this.capacity);
    this.#times = new Float64Array(n * this.capacity);
    this.#next = new Int32Array(n);
    this.#filled = new Int32Array(n);
    this.#sums = new Float64Array(n);
    this.#counts = new Float64Array(n);
    this.#scratch = new Float64Array(this.capacity);
    this.#order = this.quantiles.map((_, i) => i).sort((a, b) =>
      this.quantiles[a]! - this.quantiles[b]!
    );
    this.#ranks = new Int32Array(Math.max(1, this.quantiles.length));
    this.#picked = new Float64Array(this.quantiles.length);
    this.#selected = new Float64Array(Math.max(1, this.quantiles.length));
    this.#quantileLabels = labelSets.map((set) => this.#labelsOf(set));
  }

  #labelsOf(set: LabelSet): LabelSet[] {
    return this.quantiles.map((q) => ({ ...set, quantile: String(q) }));
  }

  protected resizeSeries(count: number): void {
    this.#samples = grownArray(this.#samples, count * this.capacity);
    this.#times = grownArray(this.#times, count * this.capacity);
    this.#next = grownArray(this.#next, count);
    this.#filled = grownArray(this.#filled, count);
    this.#sums = grownArray(this.#sums, count);
    this.#counts = grownArray(this.#counts, count);
  }

  protected initSeries(series: number, labels: LabelSet | null): void {
    this.#next[series] = 0;
    this.#filled[series] = 0;
    this.#sums[series] = 0;
    this.#counts[series] = 0;
    this.#quantileLabels[series] = labels ? this.#labelsOf(labels) : [];
  }

  /** Records `value` in series `series` at the clock's current time, or at `atMs`. */
  observe(series: number, value: number, atMs: number = this.#now()): void {
    const slot = series * this.capacity + this.#next[series]!;
    this.#samples[slot] = value;
    this.#times[slot] = atMs;
    this.#next[series] = (this.#next[series]! + 1) % this.capacity;
    if (this.#filled[series]! < this.capacity) this.#filled[series]!++;
    this.#sums[series]! += value;
    this.#counts[series]! += 1;
  }

  /**
   * Quantile `q` of series `series` over the window, NaN when the window is empty.
   * Nearest rank: the smallest sample with at least q of the window's samples at or below it.
   */
  quantile(series: number, q: number): number {
    const n = this.#collectWindow(series);
    const total = n + this.#nans;
    if (total === 0) return NaN;
    const rank = rankIndex(q, total);
    if (rank >= n) return NaN;
    const ranks = this.#ranks.subarray(0, 1);
    ranks[0] = rank;
    selectRanks(this.#scratch, { n, ranks, out: this.#selected });
    return this.#selected[0]!;
  }

  /**
   * Copies the window's samples of `series` into the scratch buffer, NaN left out and counted
   * in #nans (a sort would put them last); returns how many others.
   */
  #collectWindow(series: number): number {
    const since = this.#now() - this.windowMs;
    const base = series * this.capacity;
    const filled = this.#filled[series]!;
    const samples = this.#samples;
    const times = this.#times;
    const scratch = this.#scratch;
    let n = 0;
    let nans = 0;
    for (let i = 0; i < filled; i++) {
      if (times[base + i]! >= since) {
        const v = samples[base + i]!;
        if (v !== v) nans++;
        else scratch[n++] = v;
      }
    }
    this.#nans = nans;
    return n;
  }

  /**
   * The quantiles of series `series` over the window into #picked, in the order of
   * `quantiles`: exact nearest rank, as a sort of the window would read them, found by
   * selection (linear time) instead of a sort (a scrape at 128 streams sorted 230 000 samples).
   */
  #windowQuantiles(series: number): void {
    const n = this.#collectWindow(series);
    const total = n + this.#nans;
    const order = this.#order;
    const ranks = this.#ranks;
    const picked = this.#picked;
    if (total === 0) {
      picked.fill(NaN);
      return;
    }
    let selectable = 0;
    for (let i = 0; i < order.length; i++) {
      const rank = rankIndex(this.quantiles[order[i]!]!, total);
      if (rank < n) ranks[selectable++] = rank;
    }
    const values = this.#selected;
    selectRanks(this.#scratch, { n, ranks: ranks.subarray(0, selectable), out: values });
    for (let i = 0; i < order.length; i++) picked[order[i]!] = i < selectable ? values[i]! : NaN;
  }

  values(): MetricValue[] {
    const out: MetricValue[] = [];
    for (let s = 0; s < this.labelSets.length; s++) {
      const set = this.labelSets[s];
      if (!set) continue;
      this.#windowQuantiles(s);
      const labels = this.#quantileLabels[s]!;
      for (let qi = 0; qi < this.quantiles.length; qi++) {
        out.push({ value: this.#picked[qi]!, labels: labels[qi]! });
      }
      out.push({ value: this.#sums[s]!, labels: set, metricName: `${this.definitionName}_sum` });
      out.push({
        value: this.#counts[s]!,
        labels: set,
        metricName: `${this.definitionName}_count`,
      });
    }
    return out;
  }

  reset(): void {
    this.#next.fill(0);
    this.#filled.fill(0);
    this.#sums.fill(0);
    this.#counts.fill(0);
  }
}

/** Index of the nearest-rank q-quantile in a sorted list of n samples. */
export function rankIndex(q: number, n: number): number {
  return Math.min(n - 1, Math.max(0, Math.ceil(q * n) - 1));
}
