// Runs the real exporter as a subprocess, scrapes it, lints the scrape with promtool, stops it with SIGTERM.

import { assert, assertEquals } from "./_assert.ts";
import {
  forceStop,
  freePort,
  jsonLogs,
  parseSamples,
  parseTypes,
  pollUntil,
  startExporter,
} from "./_helpers.ts";

/** Findings promtool may report: the contract's own names, and prom-client's default metrics. */
const ALLOWED_LINT = [
  /^pose_latency_ms metric names should not contain abbreviated units$/,
  /^vram_usage_mb metric names should not contain abbreviated units$/,
  /^(nodejs|process)_\S+ /,
];

async function promtoolCheckMetrics(text: string): Promise<string[]> {
  const child = new Deno.Command("promtool", {
    args: ["check", "metrics"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(text));
  await writer.close();
  const out = await child.output();
  const lines = new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr);
  return lines.split("\n").map((l) => l.trim()).filter((l) => l !== "");
}

Deno.test("exporter - serves linted metrics for 2 synthetic streams and stops cleanly on SIGTERM", async () => {
  const port = freePort();
  const results = await Deno.makeTempFile({ suffix: ".jsonl" });
  const exporter = startExporter([
    "--streams",
    "2",
    "--listen",
    `127.0.0.1:${port}`,
    "--results",
    results,
    "--log-format",
    "json",
    "--provider",
    "cpu",
  ]);
  try {
    const url = `http://127.0.0.1:${port}`;
    const text = await pollUntil(`${url}/metrics`, (t) => {
      const fps = parseSamples(t).filter((s) => s.name === "pose_fps" && s.value > 0);
      return fps.length === 2;
    }, 60_000);
    assertEquals(
      (await fetch(`${url}/readyz`).then(async (r) => [r.status, await r.text()]))[0],
      200,
    );
    assertEquals(
      (await fetch(`${url}/healthz`).then(async (r) => [r.status, await r.text()]))[0],
      200,
    );

    const findings = await promtoolCheckMetrics(text);
    const unexpected = findings.filter((f) => !ALLOWED_LINT.some((re) => re.test(f)));
    assertEquals(unexpected, [], `promtool findings:\n${findings.join("\n")}`);

    const types = parseTypes(text);
    assertEquals(types.get("pose_fps"), "gauge");
    assertEquals(types.get("pose_latency_ms"), "summary");
    const samples = parseSamples(text);
    for (const stream of ["s0", "s1"]) {
      const fps = samples.find((s) => s.name === "pose_fps" && s.labels.stream_id === stream);
      assert(fps && fps.value > 0, `pose_fps{stream_id="${stream}"} > 0`);
      assertEquals(Object.keys(fps.labels), ["stream_id"]);
      const quantiles = samples.filter((s) =>
        s.name === "pose_latency_ms" && s.labels.stream_id === stream
      );
      assertEquals(quantiles.map((s) => s.labels.quantile), ["0.5", "0.9", "0.99"]);
      for (const q of quantiles) {
        assert(
          q.value > 0 && q.value < 60_000,
          `latency quantile ${q.labels.quantile} = ${q.value}`,
        );
        assertEquals(Object.keys(q.labels).sort(), ["quantile", "stream_id"]);
      }
      assert(
        samples.some((s) => s.name === "pose_latency_ms_sum" && s.labels.stream_id === stream),
      );
      assert(
        samples.some((s) => s.name === "pose_latency_ms_count" && s.labels.stream_id === stream),
      );
    }
    assert(!types.has("vram_usage_mb"), "no vram series without a GPU reader");
    const info = samples.find((s) => s.name === "pose_exporter_info");
    assertEquals(info?.labels.provider, "cpu");

    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0, stderr);
    const logs = jsonLogs(stderr);
    const stopped = logs.find((l) => l.msg === "stopped");
    assert(stopped, `no "stopped" log line in:\n${stderr}`);
    const lines = (await Deno.readTextFile(results)).split("\n").filter((l) => l !== "");
    assertEquals(lines.length, stopped.frames, "one JSONL line per processed frame");
    const scraped = samples.filter((s) => s.name === "pose_frames_total").reduce(
      (n, s) => n + s.value,
      0,
    );
    assert(lines.length >= scraped, `${lines.length} lines < ${scraped} frames scraped earlier`);
    const seen = new Set<string>();
    for (const line of lines) {
      const record = JSON.parse(line);
      assert(["s0", "s1"].includes(record.stream_id));
      const key = `${record.stream_id}:${record.frame}`;
      assert(!seen.has(key), `frame ${key} written twice`);
      seen.add(key);
      assert(record.decoded_at_ms >= record.captured_at_ms);
      for (const p of record.persons) {
        assertEquals(p.box.length, 4);
        assertEquals(p.keypoints.length, 17);
        assert(p.box[2] <= 1280 && p.box[3] <= 720, "box in source pixels");
      }
    }
  } finally {
    await forceStop(exporter);
    await Deno.remove(results);
  }
});
