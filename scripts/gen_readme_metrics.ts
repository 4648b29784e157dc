// deno task gen-readme: writes the README's metrics table from src/metrics/definitions.ts, so the
// table cannot drift from what the exporter serves (tests/readme_test.ts checks it).

import { METRIC_DEFINITIONS, type MetricDefinition } from "../src/metrics/definitions.ts";

/** The markers around the generated table in README.md. */
export const TABLE_START = "<!-- metrics-table:start (deno task gen-readme) -->";
export const TABLE_END = "<!-- metrics-table:end -->";

const CONTRACT = new Set([
  "pose_fps",
  "pose_latency_ms",
  "vram_usage_mb",
  "vram_fragmentation_ratio",
]);

function row(d: MetricDefinition): string {
  const labels = d.labels.map((l) => `\`${l}\``).join(", ");
  const name = CONTRACT.has(d.name) ? `**\`${d.name}\`**` : `\`${d.name}\``;
  return `| ${name} | ${d.type} | ${labels} | ${d.help.replaceAll("|", "\\|")} |`;
}

/** The Markdown table of every metric the exporter defines (contract names in bold). */
export function metricsTable(
  definitions: readonly MetricDefinition[] = METRIC_DEFINITIONS,
): string {
  return [
    "| metric | type | labels | meaning |",
    "| --- | --- | --- | --- |",
    ...definitions.map(row),
  ].join("\n");
}

/** `readme` with the text between the markers replaced by the table. */
export function withMetricsTable(readme: string): string {
  const start = readme.indexOf(TABLE_START);
  const end = readme.indexOf(TABLE_END);
  if (start < 0 || end < start) {
    throw new Error(`README.md lacks the markers ${TABLE_START} ... ${TABLE_END}`);
  }
  return readme.slice(0, start + TABLE_START.length) + "\n\n" + metricsTable() + "\n\n" +
    readme.slice(end);
}

if (import.meta.main) {
  const path = new URL("../README.md", import.meta.url);
  const readme = await Deno.readTextFile(path);
  const next = withMetricsTable(readme);
  if (next !== readme) await Deno.writeTextFile(path, next);
  console.log(
    next === readme ? "README.md's metrics table is up to date" : "wrote README.md's metrics table",
  );
}
