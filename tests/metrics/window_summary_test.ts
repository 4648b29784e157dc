import { assert, assertEquals } from "../_assert.ts";
import { rankIndex, WindowSummary } from "../../src/metrics/window_summary.ts";
import { POSE_LATENCY_MS } from "../../src/metrics/definitions.ts";

function exactQuantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  // Nearest rank: the smallest value with at least q of the values at or below it.
  for (const v of sorted) {
    if (sorted.filter((x) => x <= v).length >= q * sorted.length) return v;
  }
  return sorted.at(-1)!;
}

function lcg(seed: number): () => number {
  let s = seed;
  return () => (s = (s * 1103515245 + 12345) % 2147483648) / 2147483648;
}

Deno.test("WindowSummary.quantile() equals the exact nearest-rank quantile of the window", () => {
  let now = 0;
  const summary = new WindowSummary(POSE_LATENCY_MS, [{ stream_id: "a" }], {
    windowSeconds: 60,
    now: () => now,
  });
  const random = lcg(7);
  const values: number[] = [];
  for (let i = 0; i < 3000; i++) {
    const v = Math.round(random() * 100000) / 100 + (i % 10 === 0 ? 500 : 0);
    values.push(v);
    summary.observe(0, v, now);
    now += 10;
  }
  now -= 10;
  for (const q of [0.01, 0.5, 0.9, 0.99, 1]) {
    assertEquals(summary.quantile(0, q), exactQuantile(values, q), `q=${q}`);
  }
});

Deno.test("WindowSummary forgets samples older than its window but keeps _sum and _count", async () => {
  let now = 0;
  const summary = new WindowSummary(POSE_LATENCY_MS, [{ stream_id: "a" }], {
    windowSeconds: 10,
    now: () => now,
  });
  for (let i = 0; i < 10; i++) summary.observe(0, 1000, now);
  now = 5_000;
  for (let i = 0; i < 10; i++) summary.observe(0, 1, now);
  assertEquals(summary.quantile(0, 0.99), 1000);
  now = 10_001;
  assertEquals(summary.quantile(0, 0.99), 1);
  now = 15_001;
  assert(Number.isNaN(summary.quantile(0, 0.5)));
  const snapshot = await summary.get();
  const byName = Object.fromEntries(
    snapshot.values.filter((v) => v.metricName).map((v) => [v.metricName, v.value]),
  );
  assertEquals(byName, { pose_latency_ms_sum: 10010, pose_latency_ms_count: 20 });
});

Deno.test("WindowSummary keeps the newest samples when more than its capacity arrive in a window", () => {
  const summary = new WindowSummary(POSE_LATENCY_MS, [{ stream_id: "a" }], {
    capacity: 100,
    now: () => 0,
  });
  for (let i = 0; i < 1000; i++) summary.observe(0, i, 0);
  assertEquals(summary.quantile(0, 0), 900);
  assertEquals(summary.quantile(0, 1), 999);
  assertEquals(summary.quantile(0, 0.5), 949);
});

Deno.test("WindowSummary series are independent", () => {
  const summary = new WindowSummary(POSE_LATENCY_MS, [{ stream_id: "a" }, { stream_id: "b" }], {
    now: () => 0,
  });
  summary.observe(0, 5, 0);
  summary.observe(1, 7, 0);
  assertEquals([summary.quantile(0, 0.5), summary.quantile(1, 0.5)], [5, 7]);
});

Deno.test("rankIndex() follows the nearest-rank rule", () => {
  assertEquals([
    rankIndex(0.5, 1),
    rankIndex(0.5, 2),
    rankIndex(0.5, 3),
    rankIndex(0.99, 100),
    rankIndex(0, 10),
  ], [
    0,
    0,
    1,
    98,
    0,
  ]);
});
