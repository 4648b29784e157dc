import { assert, assertEquals } from "../_assert.ts";
import { parseSamples } from "../_helpers.ts";
import client from "prom-client";
import {
  IndexedCounter,
  IndexedGauge,
  IndexedHistogram,
} from "../../src/metrics/indexed_metrics.ts";
import { MetricsRenderer } from "../../src/metrics/server.ts";
import { LINT_FLAGGED_DEFAULTS, PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import {
  POSE_FRAMES_TOTAL,
  POSE_LATENCY_SECONDS,
  POSE_QUEUE_DEPTH,
} from "../../src/metrics/definitions.ts";

Deno.test("IndexedMetric.setSeries() adds a series at zero and removes one from the output", () => {
  const counter = new IndexedCounter(POSE_FRAMES_TOTAL, [{ stream_id: "a" }]);
  counter.inc(0, 3);
  counter.setSeries(2, { stream_id: "c" });
  counter.inc(2);
  assertEquals(counter.values().map((v) => [v.labels.stream_id, v.value]), [["a", 3], ["c", 1]]);
  counter.setSeries(0, null);
  assertEquals(counter.values().map((v) => v.labels.stream_id), ["c"]);
  const histogram = new IndexedHistogram(POSE_LATENCY_SECONDS, [], [0.1, 1]);
  histogram.setSeries(0, { stream_id: "x" });
  histogram.observe(0, 0.5);
  assertEquals(histogram.values().filter((v) => v.metricName?.endsWith("_bucket")).length, 3);
  histogram.setSeries(0, null);
  assertEquals(histogram.values(), []);
});

Deno.test("MetricsRenderer - a family whose collection throws costs that family, not the scrape", async () => {
  const registry = new client.Registry();
  const good = new IndexedCounter(POSE_FRAMES_TOTAL, [{ stream_id: "a" }]);
  const bad = new IndexedGauge(POSE_QUEUE_DEPTH, [{ stream_id: "a" }], () => {
    throw new Error("queue gone");
  });
  for (const metric of [good, bad]) registry.registerMetric(metric as unknown as client.Metric);
  const renderer = new MetricsRenderer(registry);
  const text = await renderer.render(false);
  const samples = parseSamples(text);
  assert(samples.some((s) => s.name === "pose_frames_total"), "the good family is served");
  assert(!samples.some((s) => s.name === "pose_queue_depth"), "the failing one is left out");
  assertEquals(
    samples.find((s) => s.name === "pose_scrape_collect_errors_total")?.labels.family,
    "pose_queue_depth",
    "and counted by family",
  );
});

Deno.test("PoseMetrics - serves none of prom-client's defaults that promtool flags", async () => {
  const metrics = new PoseMetrics(["a"]);
  const text = await metrics.registry.metrics();
  for (const name of LINT_FLAGGED_DEFAULTS) assert(!text.includes(name), name);
  assert(text.includes("process_cpu_seconds_total"), "the other defaults stay");
});
