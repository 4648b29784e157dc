import { assert, assertEquals } from "../_assert.ts";
import { selectInPlace, selectRanks } from "../../src/metrics/order_statistics.ts";
import { WindowSummary } from "../../src/metrics/window_summary.ts";
import { POSE_LATENCY_MS } from "../../src/metrics/definitions.ts";

/** A deterministic pseudo-random sequence (xorshift), so a failure is reproducible. */
function random(seed: number): () => number {
  let x = seed;
  return () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 4294967296;
  };
}

Deno.test("selectRanks() reads what a full sort reads, on random, sorted, reversed and tied lists", () => {
  const next = random(7);
  const lists: Float64Array[] = [];
  for (const n of [1, 2, 15, 16, 17, 100, 1800, 5000]) {
    lists.push(Float64Array.from({ length: n }, () => Math.floor(next() * 1000) / 10));
    lists.push(Float64Array.from({ length: n }, (_, i) => i));
    lists.push(Float64Array.from({ length: n }, (_, i) => n - i));
    lists.push(Float64Array.from({ length: n }, (_, i) => i % 3));
  }
  for (const list of lists) {
    const n = list.length;
    const sorted = list.slice().sort();
    const ranks = [0, Math.floor(n / 2), Math.floor(n * 0.9), Math.floor(n * 0.99), n - 1]
      .filter((r, i, a) => i === 0 || r >= a[i - 1]!);
    const out = new Float64Array(ranks.length);
    selectRanks(list.slice(), { n, ranks, out });
    assertEquals([...out], ranks.map((r) => sorted[r]!), `n = ${n}`);
  }
});

Deno.test("selectInPlace() leaves everything before k <= values[k] <= everything after", () => {
  const next = random(11);
  const values = Float64Array.from({ length: 999 }, () => next());
  selectInPlace(values, 0, values.length - 1, 321);
  const pivot = values[321]!;
  for (let i = 0; i < 321; i++) assert(values[i]! <= pivot, `at ${i}`);
  for (let i = 322; i < values.length; i++) assert(values[i]! >= pivot, `at ${i}`);
});

Deno.test("selectRanks() refuses ranks out of order", () => {
  let message = "";
  try {
    selectRanks(new Float64Array([3, 1, 2]), { n: 3, ranks: [2, 0], out: new Float64Array(2) });
  } catch (err) {
    message = (err as Error).message;
  }
  assertEquals(message, "Cannot select ranks out of order: 0 after 2");
});

Deno.test("WindowSummary quantiles by selection equal a sort of the window, NaN ranked last as a sort does", () => {
  let now = 100_000;
  const summary = new WindowSummary(POSE_LATENCY_MS, [{ stream_id: "a" }], {
    quantiles: [0.99, 0.5, 0.9],
    windowSeconds: 60,
    capacity: 4096,
    now: () => now,
  });
  const next = random(3);
  const samples: number[] = [];
  for (let i = 0; i < 1800; i++) {
    const v = i % 97 === 0 ? NaN : Math.round(next() * 5000) / 10;
    samples.push(v);
    summary.observe(0, v, now - 59_000 + i * 30);
  }
  now += 500;
  const sorted = Float64Array.from(samples).sort();
  const rank = (q: number) => Math.max(0, Math.ceil(q * sorted.length) - 1);
  const quantiles = summary.values().filter((v) => v.labels.quantile !== undefined);
  const byQuantile = new Map(quantiles.map((v) => [String(v.labels.quantile), v.value]));
  for (const q of [0.5, 0.9, 0.99]) {
    const expected = sorted[rank(q)]!;
    const got = byQuantile.get(String(q))!;
    assert(Object.is(got, expected), `q ${q}: ${got} !== ${expected}`);
    assert(Object.is(summary.quantile(0, q), expected), `quantile(${q})`);
  }
});
