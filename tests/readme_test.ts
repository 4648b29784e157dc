// The README tells the truth about the metrics: its table is definitions.ts, and every family the
// exporter serves is in it.

import { assert, assertEquals } from "./_assert.ts";
import { parseTypes } from "./_helpers.ts";
import { METRIC_DEFINITIONS } from "../src/metrics/definitions.ts";
import { PoseMetrics } from "../src/metrics/pose_metrics.ts";
import { GpuMetrics } from "../src/metrics/gpu_metrics.ts";
import { MetricsRenderer } from "../src/metrics/server.ts";
import { TABLE_END, TABLE_START } from "../scripts/gen_readme_metrics.ts";

const README = await Deno.readTextFile(new URL("../README.md", import.meta.url));

/** The README table's rows: name -> [type, labels, meaning]. */
function tableRows(): Map<string, string[]> {
  const block = README.slice(README.indexOf(TABLE_START), README.indexOf(TABLE_END));
  const rows = new Map<string, string[]>();
  for (const line of block.split("\n")) {
    const cells = line.split(/(?<!\\)\|/).slice(1, -1).map((c) => c.trim());
    const name = /`([a-z_]+)`/.exec(cells[0] ?? "")?.[1];
    if (name) rows.set(name, cells.slice(1));
  }
  return rows;
}

Deno.test("README - the metrics table is definitions.ts, row for row (deno task gen-readme)", () => {
  const rows = tableRows();
  assertEquals([...rows.keys()], METRIC_DEFINITIONS.map((d) => d.name));
  for (const d of METRIC_DEFINITIONS) {
    const [type, labels, meaning] = rows.get(d.name)!;
    assertEquals(type, d.type, d.name);
    assertEquals(labels, d.labels.map((l) => `\`${l}\``).join(", "), d.name);
    assertEquals(meaning, d.help.replaceAll("|", "\\|"), d.name);
  }
});

Deno.test("README - every family /metrics serves is in the table, besides process_* and nodejs_*", async () => {
  const metrics = new PoseMetrics(["s0"]);
  new GpuMetrics(metrics.registry);
  metrics.setInfo({ version: "t", provider: "cpu", model: "demo" });
  const families = [
    ...parseTypes(await new MetricsRenderer(metrics.registry).render(false)).keys(),
  ];
  const rows = tableRows();
  const ours = families.filter((f) => !f.startsWith("process_") && !f.startsWith("nodejs_"));
  assert(ours.length >= 27, `${ours.length} families`);
  for (const family of ours) assert(rows.has(family), `${family} is in the README's table`);
});
