import { assert, assertEquals } from "./_assert.ts";
import { Logger } from "../src/log.ts";
import { PoseMetrics } from "../src/metrics/pose_metrics.ts";
import { ReloadAction } from "../src/reload_action.ts";
import type { StreamRoster } from "../src/streams/roster.ts";
import type { StreamChanges } from "../src/streams/running_stream.ts";
import type { StreamSpecs } from "../src/streams/stream_specs.ts";

const QUIET = new Logger({ writer: { writeLine: () => {} } });

Deno.test("ReloadAction - a streams step past its deadline fails one reload; later ones go on", async () => {
  let finish: (changes: StreamChanges) => void = () => {};
  let calls = 0;
  const stuck = new Promise<StreamChanges>((resolve) => (finish = resolve));
  const roster = {
    sync: () => {
      calls++;
      return calls === 1
        ? stuck
        : Promise.resolve({ added: ["b"], removed: [], restarted: [], unchanged: ["a"] });
    },
  } as unknown as StreamRoster;
  const metrics = new PoseMetrics([]);
  const reload = new ReloadAction({
    specs: { sourcesFile: "sources.txt" } as unknown as StreamSpecs,
    roster: () => roster,
    results: () => null,
    stopping: () => false,
    metrics,
    log: QUIET,
    stepTimeoutMs: 50,
  });
  const first = await reload.request("SIGHUP");
  assertEquals(first.ok, false);
  assert(first.message.includes("did not finish within 0.05 s"), first.message);
  const second = await reload.request("SIGHUP");
  assertEquals(second.ok, false);
  assert(second.message.includes("has not finished yet"), second.message);
  assertEquals(calls, 1, "no second streams step while the first has not returned");
  finish({ added: [], removed: [], restarted: [], unchanged: ["a"] });
  await new Promise((r) => setTimeout(r, 0));
  const third = await reload.request("SIGHUP");
  assertEquals([third.ok, third.message], [
    true,
    "reloaded: 1 added, 0 removed, 0 restarted, 1 unchanged",
  ]);
  assertEquals(metrics.reloadFailures.value(0), 2);
});

Deno.test("ReloadAction - reloads coalesce: while one runs at most one more waits, whoever asks", async () => {
  let syncs = 0;
  let release: () => void = () => {};
  const roster = {
    sync: async () => {
      syncs++;
      if (syncs === 1) await new Promise<void>((resolve) => (release = resolve));
      return { added: [], removed: [], restarted: [], unchanged: ["a"] };
    },
  } as unknown as StreamRoster;
  const lines: Record<string, unknown>[] = [];
  const reload = new ReloadAction({
    specs: { sourcesFile: "sources.txt" } as unknown as StreamSpecs,
    roster: () => roster,
    results: () => null,
    stopping: () => false,
    metrics: new PoseMetrics([]),
    log: new Logger({ format: "json", writer: { writeLine: (l) => lines.push(JSON.parse(l)) } }),
  });
  const first = reload.request("POST /-/reload");
  await new Promise((r) => setTimeout(r, 0));
  // 2000 more while the first runs: one more reload serves them all.
  const flood = Array.from(
    { length: 2000 },
    (_, i) => reload.request(i % 2 === 0 ? "POST /-/reload" : "SIGHUP"),
  );
  assertEquals(syncs, 1);
  release();
  const outcomes = await Promise.all([first, ...flood]);
  assert(outcomes.every((o) => o.ok), "every request got a reload's outcome");
  assertEquals(syncs, 2, "two reloads for 2001 requests");
  const reloaded = lines.filter((l) => l.msg === "reloaded");
  assertEquals(reloaded.map((l) => l.coalesced), [undefined, 1999]);
  // Later requests start a new reload again.
  await reload.request("SIGHUP");
  assertEquals(syncs, 3);
});
