// Runs the exporter on a GPU host (CUDA) with synthetic streams for a while and reports, from the
// exporter's own /metrics: provider, fps, latency, VRAM and fragmentation. With --burst it drives a
// burst of large batches and then a slow rate, so the fragmentation solver has something to give back.
// Usage: deno run -A scripts/gpu_check.ts [--provider cuda|cpu|auto] [--streams N] [--seconds S] [--burst]

import {
  POSE_EXPORTER_INFO,
  POSE_FPS,
  POSE_GPU_MEMORY_EXPORTER_BYTES,
  POSE_GPU_WORKING_BATCH_SHAPE,
  POSE_LATENCY_MS,
  POSE_SOLVER_ACTIONS_TOTAL,
  VRAM_FRAGMENTATION_RATIO,
  VRAM_USAGE_MB,
} from "../src/metrics/definitions.ts";
import { parseArgs } from "node:util";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";

const ROOT = new URL("../", import.meta.url).pathname;

interface Sample {
  t: number;
  provider: string;
  fps: number;
  p50: number;
  p99: number;
  vramMiB: number | null;
  exporterMiB: number | null;
  ratio: number | null;
  workingShape: number | null;
  rebuilds: number;
}

function samples(text: string): { name: string; labels: Record<string, string>; value: number }[] {
  const out = [];
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/(\w+)="([^"]*)"/g)) labels[l[1]!] = l[2]!;
    out.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return out;
}

function read(text: string, t: number): Sample {
  const s = samples(text);
  const all = (name: string, filter: Record<string, string> = {}) =>
    s.filter((x) => x.name === name && Object.entries(filter).every(([k, v]) => x.labels[k] === v))
      .map((x) => x.value);
  const one = (name: string) => all(name)[0] ?? null;
  const finite = (values: number[]) => values.filter((v) => Number.isFinite(v));
  return {
    t,
    provider: s.find((x) => x.name === POSE_EXPORTER_INFO.name)?.labels.provider ?? "?",
    fps: all(POSE_FPS.name).reduce((a, b) => a + b, 0),
    p50: Math.max(0, ...finite(all(POSE_LATENCY_MS.name, { quantile: "0.5" }))),
    p99: Math.max(0, ...finite(all(POSE_LATENCY_MS.name, { quantile: "0.99" }))),
    vramMiB: one(VRAM_USAGE_MB.name),
    exporterMiB: one(POSE_GPU_MEMORY_EXPORTER_BYTES.name) === null
      ? null
      : one(POSE_GPU_MEMORY_EXPORTER_BYTES.name)! / 2 ** 20,
    ratio: one(VRAM_FRAGMENTATION_RATIO.name),
    workingShape: one(POSE_GPU_WORKING_BATCH_SHAPE.name),
    rebuilds: all(POSE_SOLVER_ACTIONS_TOTAL.name, { outcome: "done" }).reduce((a, b) => a + b, 0),
  };
}

/** Longest wait for the exporter's model to be ready before the measured window starts. */
const START_LIMIT_MS = 120_000;

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      provider: { type: "string", default: "cuda" },
      streams: { type: "string", default: "4" },
      seconds: { type: "string", default: "20" },
      burst: { type: "boolean", default: false },
      solver: { type: "string", default: "on" },
      model: { type: "string" },
      "nvidia-smi": { type: "string" },
    },
    strict: true,
  });
  const streams = Number(values.streams);
  const seconds = Number(values.seconds);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const sourceArgs = values.burst
    ? Array.from(
      { length: streams },
      (_, i) => ["--source", `b${i}=synthetic:640x640@30?burst=10s@1000`],
    ).flat()
    : ["--streams", String(streams)];
  const args = [
    "run",
    ...EXPORTER_PERMISSIONS,
    `${ROOT}main.ts`,
    ...sourceArgs,
    "--provider",
    values.provider!,
    "--listen",
    `127.0.0.1:${port}`,
    "--log-format",
    "json",
    "--gpu-poll-ms",
    "500",
    "--batch-size",
    values.burst ? "32" : "8",
    "--batch-queue-frames",
    values.burst ? "64" : "4",
    ...(values.burst
      ? ["--frag-window-s", "10", "--frag-hysteresis", "3", "--frag-cooldown", "10"]
      : []),
    "--solver",
    values.solver,
    ...(values.model ? ["--model", values.model] : []),
    ...(values["nvidia-smi"] ? ["--nvidia-smi", values["nvidia-smi"]] : []),
  ];
  console.log(`gpu-check: deno ${args.slice(EXPORTER_PERMISSIONS.length + 2).join(" ")}`);
  const child = new Deno.Command(Deno.execPath(), {
    args,
    stdout: "inherit",
    stderr: "piped",
    stdin: "null",
  }).spawn();
  const logs = new Response(child.stderr).text();
  const series: Sample[] = [];
  const started = performance.now();
  // The window counts from the model being ready (pose_exporter_info names the provider): the
  // start (model load, a calibration reading per batch shape) is not part of it.
  let readyAt = Infinity;
  while (performance.now() - Math.min(readyAt, performance.now()) < seconds * 1000) {
    if (readyAt === Infinity && performance.now() - started > START_LIMIT_MS) break;
    await new Promise((r) => setTimeout(r, 1000));
    try {
      const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
      const s = read(text, Math.round((performance.now() - started) / 100) / 10);
      if (s.provider !== "?" && readyAt === Infinity) readyAt = performance.now();
      series.push(s);
      console.log(
        `t=${s.t}s provider=${s.provider} fps=${s.fps.toFixed(1)} p50=${s.p50.toFixed(1)}ms p99=${
          s.p99.toFixed(1)
        }ms ` +
          `vram=${s.vramMiB ?? "-"}MiB exporter=${s.exporterMiB?.toFixed(0) ?? "-"}MiB ratio=${
            s.ratio?.toFixed(3) ?? "-"
          } ` +
          `working_shape=${s.workingShape ?? "-"} rebuilds=${s.rebuilds}`,
      );
    } catch {
      console.log(`t=${((performance.now() - started) / 1000).toFixed(1)}s (no answer yet)`);
    }
  }
  child.kill("SIGTERM");
  const status = await child.status;
  const logText = await logs;
  for (const line of logText.split("\n")) {
    if (
      /"msg":"(model ready|session rebuilt|fragmentation|GPU memory calibrated|stopped|CUDA)/.test(
        line,
      ) || /ERROR/.test(line)
    ) {
      console.log(`log: ${line}`);
    }
  }
  const last = series.at(-1);
  const summary = {
    provider: last?.provider ?? null,
    exit_code: status.code,
    streams,
    seconds,
    fps_last: last ? Math.round(last.fps * 10) / 10 : null,
    p50_ms_last: last?.p50 ?? null,
    p99_ms_last: last?.p99 ?? null,
    vram_mib_max: Math.max(0, ...series.map((s) => s.vramMiB ?? 0)),
    exporter_mib_max: Math.max(0, ...series.map((s) => s.exporterMiB ?? 0)),
    exporter_mib_last: last?.exporterMiB ?? null,
    ratio_max: Math.max(0, ...series.map((s) => s.ratio ?? 0)),
    ratio_last: last?.ratio ?? null,
    rebuilds: last?.rebuilds ?? 0,
  };
  console.log(JSON.stringify(summary));
  if (summary.provider !== values.provider && values.provider !== "auto") {
    console.error(`gpu-check: the exporter ran on ${summary.provider}, not ${values.provider}`);
    return 1;
  }
  return status.code === 0 ? 0 : 1;
}

if (import.meta.main) Deno.exit(await main());
