// Counters, gauges and histograms whose label sets are fixed when built, stored in typed arrays.
//
// They implement the small interface prom-client's Registry reads (`name`, `type`, `get()`,
// `reset()`), so the registry, its exposition formats and default metrics stay prom-client's,
// while a hot-path update is one typed-array write with no label hashing.

import type { MetricDefinition, MetricType } from "./definitions.ts";

/** One sample as prom-client's Registry renders it. */
export interface MetricValue {
  value: number;
  labels: Record<string, string | number>;
  metricName?: string;
}

/** What `get()` returns, in prom-client's shape. */
export interface MetricSnapshot {
  name: string;
  help: string;
  type: MetricType;
  values: MetricValue[];
  aggregator: "sum";
}

const labelStrings = new WeakMap<object, string>();

function escapeLabelValue(value: string): string {
  return value.replaceAll("\\", "\\\\").replaceAll("\n", "\\n").replaceAll('"', '\\"');
}

/** `{a="1",b="2"}` for a label set, computed once per label object and then reused. */
export function formatLabels(labels: Record<string, string | number>): string {
  let text = labelStrings.get(labels);
  if (text === undefined) {
    const parts = Object.entries(labels).map(([k, v]) => `${k}="${escapeLabelValue(String(v))}"`);
    text = parts.length === 0 ? "" : `{${parts.join(",")}}`;
    labelStrings.set(labels, text);
  }
  return text;
}

/** A sample value as the exposition formats write it. */
export function formatValue(value: number): string {
  if (Number.isNaN(value)) return "NaN";
  if (value === Infinity) return "+Inf";
  if (value === -Infinity) return "-Inf";
  return String(value);
}

/** A label set: label name to value, matching the definition's label names. */
export type LabelSet = Readonly<Record<string, string>>;

/** A typed array of `length` holding `from`'s values first, then `fill`. */
export function grownArray<T extends Float64Array | Int32Array>(
  from: T,
  length: number,
  fill = 0,
): T {
  if (from.length >= length) return from;
  const next = new (from.constructor as new (n: number) => T)(length);
  next.fill(fill);
  next.set(from);
  return next;
}

/**
 * Base of the indexed metrics: a definition plus an ordered list of label sets (series).
 * A series can be added or removed later ({@linkcode IndexedMetric.setSeries}); a removed
 * series (null) is not rendered, so a stream removed at run time leaves no series behind.
 */
export abstract class IndexedMetric {
  /** The metric name; prom-client's Registry may rewrite it during an OpenMetrics render. */
  name: string;
  readonly help: string;
  readonly type: MetricType;
  #labelSets: (LabelSet | null)[];
  #definition: MetricDefinition;
  /** The name as defined, which no registry rewrites. */
  readonly definitionName: string;

  constructor(
    definition: MetricDefinition,
    expectedType: MetricType,
    labelSets: readonly LabelSet[],
  ) {
    if (definition.type !== expectedType) {
      throw new Error(
        `Cannot build ${definition.name} as a ${expectedType}: it is a ${definition.type}`,
      );
    }
    this.#definition = definition;
    for (const set of labelSets) this.#check(set);
    this.name = definition.name;
    this.definitionName = definition.name;
    this.help = definition.help;
    this.type = definition.type;
    this.#labelSets = [...labelSets];
  }

  #check(set: LabelSet): void {
    const definition = this.#definition;
    const keys = Object.keys(set).sort().join(",");
    if (keys !== [...definition.labels].sort().join(",")) {
      throw new Error(
        `Cannot build ${definition.name}: label set ${JSON.stringify(set)} does not match labels ${
          definition.labels.join(",")
        }`,
      );
    }
  }

  /** The label set of each series; null where a series was removed. */
  get labelSets(): readonly (LabelSet | null)[] {
    return this.#labelSets;
  }

  /**
   * Gives series `series` the label set `labels` (growing the storage when it is new), or
   * removes it with null. Either way its values start again from zero.
   */
  setSeries(series: number, labels: LabelSet | null): void {
    if (labels !== null) this.#check(labels);
    if (series >= this.#labelSets.length) {
      const count = series + 1;
      while (this.#labelSets.length < count) this.#labelSets.push(null);
      this.resizeSeries(count);
    }
    this.#labelSets[series] = labels;
    this.initSeries(series, labels);
  }

  /** Grows the per-series storage to `count` series. */
  protected abstract resizeSeries(count: number): void;

  /** Zeroes series `series` and derives what its label set implies. */
  protected abstract initSeries(series: number, labels: LabelSet | null): void;

  /** The current samples. */
  abstract values(): MetricValue[];

  /** Zeroes every series. */
  abstract reset(): void;

  /**
   * The metric family in the exposition format, without a trailing newline: the same text
   * prom-client's Registry writes, built from label strings formatted once per series.
   */
  renderText(openMetrics: boolean): string {
    const name = this.definitionName;
    const values = this.values();
    const family = openMetrics && this.type === "counter" ? name.replace(/_total$/, "") : name;
    const help = this.help.replaceAll("\\", "\\\\").replaceAll("\n", "\\n");
    let out = `# HELP ${family} ${help}\n# TYPE ${family} ${this.type}`;
    for (const v of values) {
      out += `\n${v.metricName ?? name}${formatLabels(v.labels)} ${formatValue(v.value)}`;
    }
    return out;
  }

  /** prom-client's Registry calls this on each scrape. */
  get(): Promise<MetricSnapshot> {
    return Promise.resolve({
      name: this.name,
      help: this.help,
      type: this.type,
      values: this.values(),
      aggregator: "sum",
    });
  }
}

/** A counter per label set; `inc(series, by)` is one typed-array add. */
export class IndexedCounter extends IndexedMetric {
  #counts: Float64Array;

  constructor(definition: MetricDefinition, labelSets: readonly LabelSet[]) {
    super(definition, "counter", labelSets);
    this.#counts = new Float64Array(labelSets.length);
  }

  /** Adds `by` (default 1) to series `series`. */
  inc(series: number, by = 1): void {
    this.#counts[series]! += by;
  }

  /** The current value of series `series`. */
  value(series: number): number {
    return this.#counts[series]!;
  }

  values(): MetricValue[] {
    const out: MetricValue[] = [];
    this.labelSets.forEach((labels, i) => labels && out.push({ value: this.#counts[i]!, labels }));
    return out;
  }

  reset(): void {
    this.#counts.fill(0);
  }

  protected resizeSeries(count: number): void {
    this.#counts = grownArray(this.#counts, count);
  }

  protected initSeries(series: number): void {
    this.#counts[series] = 0;
  }
}

/** A gauge per label set; `set(series, v)` is one typed-array write. */
export class IndexedGauge extends IndexedMetric {
  #values: Float64Array;
  #collect: (() => void) | null;

  /**
   * @param collect called before each render to refresh the values; when it throws, the
   *   render of this family fails alone (see MetricsRenderer), not the scrape
   */
  constructor(
    definition: MetricDefinition,
    labelSets: readonly LabelSet[],
    collect: (() => void) | null = null,
  ) {
    super(definition, "gauge", labelSets);
    this.#values = new Float64Array(labelSets.length);
    this.#collect = collect;
  }

  /** Sets series `series` to `value`. */
  set(series: number, value: number): void {
    this.#values[series] = value;
  }

  /** The current value of series `series`. */
  value(series: number): number {
    return this.#values[series]!;
  }

  values(): MetricValue[] {
    this.#collect?.();
    const out: MetricValue[] = [];
    this.labelSets.forEach((labels, i) => labels && out.push({ value: this.#values[i]!, labels }));
    return out;
  }

  reset(): void {
    this.#values.fill(0);
  }

  protected resizeSeries(count: number): void {
    this.#values = grownArray(this.#values, count);
  }

  protected initSeries(series: number): void {
    this.#values[series] = 0;
  }
}

/** A histogram per label set with fixed buckets; `observe` finds the bucket and adds one. */
export class IndexedHistogram extends IndexedMetric {
  readonly buckets: readonly number[];
  #bucketCounts: Float64Array;
  #sums: Float64Array;
  #counts: Float64Array;
  #bucketLabels: LabelSet[][];

  constructor(
    definition: MetricDefinition,
    labelSets: readonly LabelSet[],
    buckets: readonly number[],
  ) {
    super(definition, "histogram", labelSets);
    for (let i = 1; i < buckets.length; i++) {
      if (!(buckets[i]! > buckets[i - 1]!)) {
        throw new Error(
          `Cannot build ${definition.name}: buckets must increase: ${buckets.join(",")}`,
        );
      }
    }
    this.buckets = buckets;
    this.#bucketCounts = new Float64Array(labelSets.length * (buckets.length + 1));
    this.#sums = new Float64Array(labelSets.length);
    this.#counts = new Float64Array(labelSets.length);
    this.#bucketLabels = labelSets.map((set) => this.#labelsOf(set));
  }

  #labelsOf(set: LabelSet): LabelSet[] {
    return [...this.buckets.map((le) => ({ ...set, le: String(le) })), { ...set, le: "+Inf" }];
  }

  protected resizeSeries(count: number): void {
    this.#bucketCounts = grownArray(this.#bucketCounts, count * (this.buckets.length + 1));
    this.#sums = grownArray(this.#sums, count);
    this.#counts = grownArray(this.#counts, count);
  }

  protected initSeries(series: number, labels: LabelSet | null): void {
    const width = this.buckets.length + 1;
    this.#bucketCounts.fill(0, series * width, (series + 1) * width);
    this.#sums[series] = 0;
    this.#counts[series] = 0;
    this.#bucketLabels[series] = labels ? this.#labelsOf(labels) : [];
  }

  /** Records `value` in series `series`. */
  observe(series: number, value: number): void {
    const buckets = this.buckets;
    let b = 0;
    while (b < buckets.length && value > buckets[b]!) b++;
    this.#bucketCounts[series * (buckets.length + 1) + b]! += 1;
    this.#sums[series]! += value;
    this.#counts[series]! += 1;
  }

  /** Observations recorded in series `series`. */
  count(series: number): number {
    return this.#counts[series]!;
  }

  /** The sum of the observations of series `series`. */
  sum(series: number): number {
    return this.#sums[series]!;
  }

  values(): MetricValue[] {
    const out: MetricValue[] = [];
    const width = this.buckets.length + 1;
    const bucketName = `${this.definitionName}_bucket`;
    for (let s = 0; s < this.labelSets.length; s++) {
      const set = this.labelSets[s];
      if (!set) continue;
      let cumulative = 0;
      const labels = this.#bucketLabels[s]!;
      for (let b = 0; b < width; b++) {
        cumulative += this.#bucketCounts[s * width + b]!;
        out.push({ value: cumulative, labels: labels[b]!, metricName: bucketName });
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
    this.#bucketCounts.fill(0);
    this.#sums.fill(0);
    this.#counts.fill(0);
  }
}
