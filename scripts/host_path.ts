// The host path of the exporter, measured: CPU per frame of each of its threads (event loop,
// inference worker, V8's helpers, I/O pool) from the kernel's accounting, the frames per second the
// process sustains, and ffmpeg's CPU beside it. The base of the host-path issue's figures.
//
// Usage: deno run -A scripts/host_path.ts [--pipe N] [--synthetic N] [--size WxH] [--fps F]
//        [--batch-size B] [--model PATH] [--warmup-s S] [--seconds S]
// --pipe N adds N `testsrc:WxH@F` streams (ffmpeg children writing rgb24 through a pipe);
// --synthetic N adds N synthetic streams (no pipe). Prints one JSON line.

import { parseArgs } from "node:util";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";
import {
  childProcesses,
  processSeconds,
  secondsByClass,
  threadTimes,
} from "../src/host/thread_cpu.ts";
import { loadModelFile } from "../src/pose/model_prep.ts";

const ROOT = new URL("../", import.meta.url);

const { values } = parseArgs({
  args: Deno.args,
  options: {
    pipe: { type: "string", default: "8" },
    synthetic: { type: "string", default: "0" },
    size: { type: "string", default: "640x360" },
    fps: { type: "string", default: "30" },
    "batch-size": { type: "string", default: "8" },
    model: { type: "string", default: new URL("tests/fixtures/known_pose.onnx", ROOT).pathname },
    "warmup-s": { type: "string", default: "5" },
    seconds: { type: "string", default: "10" },
  },
  strict: true,
});

const model = await loadModelFile(values.model!);
const pipe = Number(values.pipe);
const synthetic = Number(values.synthetic);
const sources: string[] = [];
for (let i = 0; i < pipe; i++) {
  sources.push("--source", `p${i}=testsrc:${values.size}@${values.fps}`);
}
for (let i = 0; i < synthetic; i++) {
  sources.push("--source", `s${i}=synthetic:${values.size}@${values.fps}`);
}

const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
const port = (listener.addr as Deno.NetAddr).port;
listener.close();
const child = new Deno.Command(Deno.execPath(), {
  args: [
    "run",
    ...EXPORTER_PERMISSIONS,
    new URL("main.ts", ROOT).pathname,
    ...sources,
    "--model",
    values.model!,
    "--batch-size",
    values["batch-size"]!,
    "--listen",
    `127.0.0.1:${port}`,
    "--log-format",
    "json",
    "--status",
    "off",
    "--nvidia-smi",
    "/nonexistent/nvidia-smi",
  ],
  stdout: "null",
  stderr: "null",
  stdin: "null",
}).spawn();

/** Frames decoded so far, all streams together. */
async function framesSoFar(): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith("pose_frames_total{")) total += Number(line.slice(line.lastIndexOf(" ")));
  }
  return total;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

try {
  const started = Date.now();
  while (true) {
    try {
      if (await framesSoFar() > 0) break;
    } catch { /* not listening yet */ }
    if (Date.now() - started > 120_000) throw new Error("the exporter decoded no frame in 120 s");
    await sleep(250);
  }
  await sleep(Number(values["warmup-s"]) * 1000);
  const pid = child.pid;
  const children = () => new Map(childProcesses(pid).map((c) => [c, processSeconds(c)]));
  const before = { threads: threadTimes(pid), children: children(), frames: await framesSoFar() };
  const t0 = performance.now();
  await sleep(Number(values.seconds) * 1000);
  const after = { threads: threadTimes(pid), children: children(), frames: await framesSoFar() };
  const seconds = (performance.now() - t0) / 1000;
  const frames = after.frames - before.frames;
  const byClass = secondsByClass(pid, before.threads, after.threads);
  let ffmpegSeconds = 0;
  for (const [c, s] of after.children) ffmpegSeconds += s - (before.children.get(c) ?? 0);
  const msPerFrame = (s: number) => Number((s * 1000 / Math.max(1, frames)).toFixed(3));
  const total = Object.values(byClass).reduce((a, b) => a + b, 0);
  const [w, h] = values.size!.split("x").map(Number);
  const fps = frames / seconds;
  // The busiest thread allows at most one core; the whole process at most the machine's cores.
  const busiest = Math.max(...Object.values(byClass)) / seconds;
  const cores = navigator.hardwareConcurrency;
  const perStream = Number(values.fps);
  console.log(JSON.stringify({
    host_path: { pipe, synthetic, size: values.size, fps_per_stream: perStream },
    seconds: Number(seconds.toFixed(1)),
    frames_per_second: Number(fps.toFixed(1)),
    host_event_loop_ms_per_frame: msPerFrame(byClass.event_loop),
    host_inference_worker_ms_per_frame: msPerFrame(byClass.inference_worker),
    host_v8_helpers_ms_per_frame: msPerFrame(byClass.v8_helpers),
    host_io_pool_ms_per_frame: msPerFrame(byClass.io_pool),
    host_other_ms_per_frame: msPerFrame(byClass.other),
    host_cpu_ms_per_frame: msPerFrame(total),
    ffmpeg_ms_per_frame: msPerFrame(ffmpegSeconds),
    // What each pipe-fed frame carries today: the model's whole letterboxed input, as rgb24.
    host_pipe_bytes_per_frame: pipe > 0 ? model.width * model.height * 3 : 0,
    source_picture_bytes: w! * h! * 3,
    busiest_thread_cores: Number(busiest.toFixed(2)),
    host_streams_at_30fps: Math.floor(
      Math.min(fps / busiest, (fps * cores) / (total / seconds)) / perStream,
    ),
  }));
} finally {
  child.kill("SIGTERM");
  await child.status;
}
