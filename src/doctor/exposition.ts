// Reads Prometheus text exposition into families (from # TYPE) and samples, for the exporter checks.

/** One sample line: name, labels and value. */
export interface Sample {
  readonly name: string;
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
}

/** A scrape read into families (name to type) and samples. */
export interface Exposition {
  readonly families: ReadonlyMap<string, string>;
  readonly samples: readonly Sample[];
}

const SAMPLE = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)(?:\s+\S+)?$/;
const LABEL = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;
const SUFFIXES = ["_bucket", "_sum", "_count", "_total", "_created", "_info"];

/**
 * Parses Prometheus text (or OpenMetrics) into families and samples; lines it cannot read are skipped.
 *
 * @example
 * ```ts
 * const { families, samples } = parseExposition("# TYPE up gauge\nup 1\n");
 * ```
 *
 * @param text the scrape
 * @returns its families and samples
 */
export function parseExposition(text: string): Exposition {
  const families = new Map<string, string>();
  const samples: Sample[] = [];
  for (const line of text.split("\n")) {
    if (line.startsWith("# TYPE ")) {
      const [, name, type] = line.split(/\s+/).slice(1);
      if (name !== undefined && type !== undefined) families.set(name, type);
      continue;
    }
    if (line === "" || line.startsWith("#")) continue;
    const m = SAMPLE.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(LABEL)) labels[l[1]!] = l[2]!;
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return { families, samples };
}

/**
 * The samples of one family: its own name and its `_bucket`, `_sum`, `_count` series.
 *
 * @param exposition the parsed scrape
 * @param family the family's name
 * @returns its samples
 */
export function familySamples(exposition: Exposition, family: string): Sample[] {
  return exposition.samples.filter((s) =>
    s.name === family ||
    SUFFIXES.some((suffix) => s.name === family + suffix)
  );
}
