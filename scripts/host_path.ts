// The host path of the exporter, measured: CPU per frame of each of its threads (event loop,
// pipe readers, inference worker with ONNX Runtime's threads, V8's helpers, I/O pool) from the
// kernel's accounting, the frames per second the process sustains, its memory, and its children's
// CPU (ffmpeg, or the replay producer) beside it. The inference worker is also given less what a
// raw `session.run` of the same batches costs, measured in this process after the exporter ends.
// The base of the host-path issue's figures, and of `deno task bench`'s host-path part.
//
// Usage: deno task host-path [--pipe N] [--synthetic N] [--size WxH] [--fps F] [--batch-size B]
//        [--producer replay|ffmpeg] [--model PATH] [--warmup-s S] [--seconds S]
// --pipe N adds N pipe-fed streams: with `--producer ffmpeg` (the default here) ffmpeg children
// decoding `testsrc:WxH@F`; with `replay` a cheap producer that replays frames ffmpeg decoded once
// (so decoding is not what is measured). --synthetic N adds N `synthetic:WxH@F` streams (no pipe).
// Prints one JSON line.

import { parseArgs } from "node:util";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";
import {
  childProcesses,
  classifyThread,
  processSeconds,
  secondsByClass,
  threadTimes,
} from "../src/host/thread_cpu.ts";
import { readProcFile } from "../src/host/libc.ts";
import { loadModelFile, type PreparedModel } from "../src/pose/model_prep.ts";
import { sessionBytes, sessionOptions } from "../src/pose/inference.ts";
import { batchShapes } from "../src/pose/batch_shapes.ts";
import { computeLetterbox, pictureRows } from "../src/sources/frame.ts";
import { defaultInferenceThreads } from "../src/config.ts";

const ROOT = new URL("../", import.meta.url);
/** The model every host-path figure is measured with: tiny, so the model run is small. */
export const HOST_PATH_MODEL = new URL("tests/fixtures/known_pose.onnx", ROOT).pathname;

/** Options of {@linkcode measureHostPath}. */
export interface HostPathOptions {
  /** Pipe-fed streams. */
  pipe: number;
  /** Synthetic streams. */
  synthetic: number;
  /** Camera size, e.g. `640x360`. */
  size: string;
  /** Frames per second per stream. */
  fps: number;
  batchSize: number;
  /** Who writes the pipe-fed streams' frames: ffmpeg decoding testsrc, or the replay producer. */
  producer: "ffmpeg" | "replay";
  model: string;
  warmupS: number;
  seconds: number;
  /** Reports progress (the bench's status line). */
  progress?: (text: string) => void;
}

/** What {@linkcode measureHostPath} measured. */
export interface HostPathResult {
  pipe: number;
  synthetic: number;
  size: string;
  fps_per_stream: number;
  producer: string;
  seconds: number;
  /** Frames decoded per second, all streams together, against what the streams offered. */
  frames_per_second: number;
  offered_frames_per_second: number;
  dropped_frames_per_second: number;
  host_event_loop_ms_per_frame: number;
  host_source_readers_ms_per_frame: number;
  /** The inference worker and ONNX Runtime's threads, all of it (model runs included). */
  host_inference_worker_ms_per_frame: number;
  /** What a raw session.run of the same batch shapes costs, per frame. */
  raw_session_run_ms_per_frame: number;
  host_v8_helpers_ms_per_frame: number;
  host_io_pool_ms_per_frame: number;
  host_other_ms_per_frame: number;
  /** Every exporter thread, less the raw model runs. */
  host_cpu_ms_per_frame: number;
  /** ffmpeg's or the replay producer's CPU per frame (outside the exporter). */
  producer_ms_per_frame: number;
  host_pipe_bytes_per_frame: number;
  source_picture_bytes: number;
  /** The busiest single thread (the inference worker counted less the raw runs). */
  busiest_thread: string;
  busiest_thread_cores: number;
  host_streams_at_30fps: number;
  rss_mb: number;
  /** Frame slot memory the streams could use at most (their slots, sized by the band). */
  frame_slots_mb: number;
}

/** Thrown when the exporter under measurement does not come up or stops early; says how. */
export class HostPathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "HostPathError";
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const round = (v: number, digits = 3) => Number(v.toFixed(digits));

/** Sums the samples of metric `name` (all label sets) in a Prometheus text body. */
function sumMetric(text: string, name: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (line.startsWith(`${name}{`) || line.startsWith(`${name} `)) {
      total += Number(line.slice(line.lastIndexOf(" ")));
    }
  }
  return total;
}

/** pose_batch_size's cumulative bucket counts, by upper bound (the batch shapes). */
function batchBuckets(text: string): Map<number, number> {
  const out = new Map<number, number>();
  for (const line of text.split("\n")) {
    const m = /^pose_batch_size_bucket\{le="([0-9.]+)"\} ([0-9.e+]+)$/.exec(line);
    if (m) out.set(Number(m[1]), Number(m[2]));
  }
  return out;
}

/** Resident memory of process `pid` in MiB, from /proc/PID/status. */
export function rssMb(pid: number): number {
  const status = readProcFile(`/proc/${pid}/status`) ?? "";
  const m = /VmRSS:\s+(\d+) kB/.exec(status);
  return m ? Number(m[1]) / 1024 : 0;
}

/** The producer's C source: replays whole frames of a file into a FIFO at a rate, like a camera. */
const REPLAY_C = String.raw`
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
int main(int argc, char **argv) {
  if (argc != 5) return 2;
  int in = open(argv[1], O_RDONLY);
  struct stat st;
  if (in < 0 || fstat(in, &st) != 0) return 3;
  size_t fb = strtoull(argv[2], 0, 10);
  double fps = atof(argv[3]);
  size_t n = st.st_size / fb;
  if (n == 0) return 4;
  const char *data = mmap(0, st.st_size, PROT_READ, MAP_PRIVATE, in, 0);
  int out = argv[4][0] == '-' ? 1 : open(argv[4], O_WRONLY);
  if (out < 0) return 5;
  long period = fps > 0 ? (long)(1e9 / fps) : 0;
  struct timespec next, now;
  clock_gettime(CLOCK_MONOTONIC, &next);
  for (size_t i = 0;; i = (i + 1) % n) {
    const char *p = data + i * fb;
    size_t left = fb;
    while (left > 0) {
      ssize_t w = write(out, p, left);
      if (w < 0) { if (errno == EINTR) continue; return 0; }
      p += w; left -= w;
    }
    if (period == 0) continue;
    next.tv_nsec += period;
    while (next.tv_nsec >= 1000000000L) { next.tv_nsec -= 1000000000L; next.tv_sec++; }
    clock_gettime(CLOCK_MONOTONIC, &now);
    double behind = (now.tv_sec - next.tv_sec) * 1e9 + (now.tv_nsec - next.tv_nsec);
    if (behind > 5.0 * period) next = now; /* held up: skip ahead, as a camera does */
    clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, 0);
  }
}
`;

/** A folder holding fake `ffmpeg` and `ffprobe` commands that replay decoded frames. */
export interface ReplayTools {
  dir: string;
  /** The fake ffmpeg (ffprobe lies beside it). */
  ffmpeg: string;
  /** The replay program: `replay FILE FRAME_BYTES FPS OUTPUT` (`-` for stdout; FPS 0: no pacing). */
  replay: string[];
  /** The decoded frames file of a band geometry. */
  framesFile: (width: number, height: number) => string;
  /** What replays: a C program built here, or ffmpeg's rawvideo copy where no C compiler is. */
  kind: "c" | "ffmpeg";
}

/**
 * Builds the replay tools for testsrc cameras of `size` into a model of `model`: the frames the
 * exporter's ffmpeg would write (the picture's band, letterboxed left and right), decoded once
 * by ffmpeg, and fake ffmpeg/ffprobe commands that replay them.
 *
 * @throws {HostPathError} when ffmpeg cannot make the frames
 */
export async function makeReplayTools(
  size: { width: number; height: number },
  model: { width: number; height: number },
): Promise<ReplayTools> {
  const dir = await Deno.makeTempDir({ prefix: "pose_host_path_" });
  const lb = computeLetterbox(size, model);
  const rows = pictureRows(lb, model);
  const sw = Math.round(size.width * lb.scale);
  const framesFile = (w: number, h: number) => `${dir}/${w}x${h}.rgb`;
  const file = framesFile(model.width, rows.height);
  const made = await new Deno.Command("ffmpeg", {
    args: [
      ..."-hide_banner -loglevel error -f lavfi -i".split(" "),
      `testsrc=size=${size.width}x${size.height}:rate=30`,
      ..."-frames:v 30 -vf".split(" "),
      `scale=${sw}:${rows.height}:flags=bilinear,pad=${model.width}:${rows.height}:${lb.padX}:0:color=0x727272`,
      ..."-pix_fmt rgb24 -f rawvideo -y".split(" "),
      file,
    ],
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!made.success) {
    throw new HostPathError(
      `ffmpeg cannot make the replayed frames: ${new TextDecoder().decode(made.stderr)}`,
    );
  }
  let replay: string[];
  let kind: "c" | "ffmpeg" = "c";
  try {
    await Deno.writeTextFile(`${dir}/replay.c`, REPLAY_C);
    const cc = await new Deno.Command("cc", {
      args: ["-O2", "-o", `${dir}/replay`, `${dir}/replay.c`],
      stdout: "null",
      stderr: "null",
    }).output();
    if (!cc.success) throw new Error("cc failed");
    replay = [`${dir}/replay`];
  } catch {
    kind = "ffmpeg";
    replay = [`${dir}/replay_ffmpeg`];
    await Deno.writeTextFile(
      `${dir}/replay_ffmpeg`,
      `#!/bin/bash
# replay FILE FRAME_BYTES FPS OUTPUT, with ffmpeg's rawvideo copy (no C compiler here)
f="$1"; b=$(basename "$f" .rgb); out="$4"; [ "$out" = - ] && out=pipe:1
pace=(-re -framerate "$3"); [ "$3" = 0 ] && pace=()
exec ffmpeg -hide_banner -loglevel error -nostdin "\${pace[@]}" -stream_loop -1 -f rawvideo -pix_fmt rgb24 -s "$b" -i "$f" -f rawvideo -y "$out"
`,
    );
    await Deno.chmod(`${dir}/replay_ffmpeg`, 0o755);
  }
  // The exporter's ffmpeg command line, read back: the band's size from pad=W:H, the rate from
  // the testsrc target, the output last.
  await Deno.writeTextFile(
    `${dir}/ffmpeg`,
    `#!/bin/bash
for a in "$@"; do [ "$a" = -version ] && { echo "ffmpeg version replay"; exit 0; }; done
args=("$@"); out="\${args[-1]}"; [ "$out" = pipe:1 ] && out=-
vf=""; target=""
for ((i = 0; i < \${#args[@]}; i++)); do
  [ "\${args[i]}" = -vf ] && vf="\${args[i+1]}"
  [ "\${args[i]}" = -i ] && target="\${args[i+1]}"
done
pad="\${vf##*pad=}"; w="\${pad%%:*}"; rest="\${pad#*:}"; h="\${rest%%:*}"
rate="\${target##*rate=}"
exec ${replay.join(" ")} "${dir}/\${w}x\${h}.rgb" $((w * h * 3)) "$rate" "$out"
`,
  );
  await Deno.writeTextFile(
    `${dir}/ffprobe`,
    `#!/bin/bash
for a in "$@"; do [ "$a" = -version ] && { echo "ffprobe version replay"; exit 0; }; done
args=("$@"); target="\${args[-1]}"; s="\${target#*size=}"; s="\${s%%:*}"; rate="\${target##*rate=}"
echo "{\\"streams\\":[{\\"width\\":\${s%x*},\\"height\\":\${s#*x},\\"avg_frame_rate\\":\\"\${rate}/1\\"}]}"
`,
  );
  await Deno.chmod(`${dir}/ffmpeg`, 0o755);
  await Deno.chmod(`${dir}/ffprobe`, 0o755);
  return { dir, ffmpeg: `${dir}/ffmpeg`, replay, framesFile, kind };
}

/**
 * The bare pipe read the issue takes as the baseline: this thread reads `frames` frames of
 * `frameBytes` from a replay producer's stdout (Deno's default reader, copied into one frame
 * buffer, as the exporter once did on its event loop).
 *
 * @returns this thread's CPU ms per frame and the producer's
 */
export async function measureBarePipeRead(
  tools: ReplayTools,
  options: { file: string; frameBytes: number; frames: number },
): Promise<{ readMsPerFrame: number; producerMsPerFrame: number }> {
  const [cmd, ...pre] = tools.replay;
  const child = new Deno.Command(cmd!, {
    args: [...pre, options.file, String(options.frameBytes), "0", "-"],
    stdout: "piped",
    stderr: "null",
    stdin: "null",
  }).spawn();
  const reader = child.stdout.getReader();
  const frame = new Uint8Array(options.frameBytes);
  const self = () => threadTimes(Deno.pid).find((t) => t.tid === Deno.pid)?.seconds ?? 0;
  let filled = 0;
  let frames = 0;
  let before = 0;
  let producerBefore = 0;
  const warm = Math.min(20, Math.floor(options.frames / 4));
  while (frames < options.frames + warm) {
    const { value, done } = await reader.read();
    if (done) break;
    let at = 0;
    while (at < value.length) {
      const n = Math.min(value.length - at, options.frameBytes - filled);
      frame.set(value.subarray(at, at + n), filled);
      at += n;
      filled += n;
      if (filled < options.frameBytes) continue;
      filled = 0;
      frames++;
      if (frames === warm) {
        before = self();
        producerBefore = processSeconds(child.pid);
      }
    }
  }
  const spent = self() - before;
  const producer = processSeconds(child.pid) - producerBefore;
  await reader.cancel().catch(() => {});
  try {
    child.kill("SIGKILL");
  } catch { /* gone */ }
  await child.status;
  const counted = Math.max(1, frames - warm);
  return {
    readMsPerFrame: (spent * 1000) / counted,
    producerMsPerFrame: (producer * 1000) / counted,
  };
}

/**
 * CPU seconds a raw `session.run` of `runs` batches (by shape) costs in this process, the
 * exporter's session options and uint8 input: what the inference worker does at the least.
 */
export async function rawRunSeconds(
  model: PreparedModel,
  runs: ReadonlyMap<number, number>,
): Promise<number> {
  // Loaded here: the replay tools are used where ONNX Runtime is not (the streams tests).
  const ort = await import("onnxruntime-node");
  // The exporter's own operator threads (--inference-threads auto).
  const session = await ort.InferenceSession.create(
    sessionBytes(model, "cpu"),
    sessionOptions("cpu", { intraOpThreads: defaultInferenceThreads() }),
  );
  try {
    let total = 0;
    for (const [shape, count] of runs) {
      if (count <= 0) continue;
      const input = new Uint8Array(shape * model.width * model.height * 3).fill(114);
      const tensor = new ort.Tensor("uint8", input, [shape, model.height, model.width, 3]);
      for (let i = 0; i < 3; i++) await session.run({ [model.inputName]: tensor });
      // At least 5 runs and 0.25 s of CPU: stat counts the process's CPU in 10 ms ticks, so a
      // few runs of a small batch would be a tick or two, and the figure that much off.
      const want = Math.max(5, Math.min(count, Math.ceil(256 / shape)));
      const before = processSeconds(Deno.pid);
      let sample = 0;
      while (sample < want || (processSeconds(Deno.pid) - before < 0.25 && sample < 10_000)) {
        await session.run({ [model.inputName]: tensor });
        sample++;
      }
      total += ((processSeconds(Deno.pid) - before) / sample) * count;
    }
    return total;
  } finally {
    await session.release();
  }
}

/**
 * Runs the exporter with `options`' streams, waits for frames and the warm-up, then measures
 * its threads' CPU over `seconds`, its memory, and its children's CPU.
 *
 * @throws {HostPathError} when it decodes no frame within two minutes or exits
 */
export async function measureHostPath(
  options: HostPathOptions,
  tools?: ReplayTools,
): Promise<HostPathResult> {
  const model = await loadModelFile(options.model);
  const [w, h] = options.size.split("x").map(Number) as [number, number];
  const sources: string[] = [];
  for (let i = 0; i < options.pipe; i++) {
    sources.push("--source", `p${i}=testsrc:${options.size}@${options.fps}`);
  }
  for (let i = 0; i < options.synthetic; i++) {
    sources.push("--source", `s${i}=synthetic:${options.size}@${options.fps}`);
  }
  const ownTools = options.pipe > 0 && options.producer === "replay" && tools === undefined;
  if (ownTools) tools = await makeReplayTools({ width: w, height: h }, model);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...EXPORTER_PERMISSIONS,
      new URL("main.ts", ROOT).pathname,
      ...sources,
      ...(options.pipe > 0 && options.producer === "replay" ? ["--ffmpeg", tools!.ffmpeg] : []),
      "--model",
      options.model,
      "--batch-size",
      String(options.batchSize),
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
  let exited = false;
  child.status.then(() => (exited = true));
  const scrape = async () => await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  try {
    const started = Date.now();
    while (true) {
      if (exited) throw new HostPathError("the exporter exited before its first frame");
      try {
        if (sumMetric(await scrape(), "pose_frames_total") > 0) break;
      } catch { /* not listening yet */ }
      if (Date.now() - started > 120_000) {
        throw new HostPathError("the exporter decoded no frame in 120 s");
      }
      await sleep(250);
    }
    options.progress?.(`host path: warming up ${options.pipe}+${options.synthetic} streams`);
    await sleep(options.warmupS * 1000);
    const pid = child.pid;
    const children = () => new Map(childProcesses(pid).map((c) => [c, processSeconds(c)]));
    const text0 = await scrape();
    const before = { threads: threadTimes(pid), children: children() };
    const t0 = performance.now();
    options.progress?.(`host path: measuring ${options.pipe}+${options.synthetic} streams`);
    await sleep(options.seconds * 1000);
    const after = { threads: threadTimes(pid), children: children() };
    const seconds = (performance.now() - t0) / 1000;
    const text1 = await scrape();
    const rss = rssMb(pid);
    if (exited) throw new HostPathError("the exporter exited while measured");
    const frames = sumMetric(text1, "pose_frames_total") - sumMetric(text0, "pose_frames_total");
    const dropped = sumMetric(text1, "pose_frames_dropped_total") -
      sumMetric(text0, "pose_frames_dropped_total");
    const byClass = secondsByClass(pid, before.threads, after.threads);
    let producerSeconds = 0;
    for (const [c, s] of after.children) producerSeconds += s - (before.children.get(c) ?? 0);
    // Batches per shape in the window: the buckets of pose_batch_size are the shapes.
    const b0 = batchBuckets(text0);
    const b1 = batchBuckets(text1);
    const runs = new Map<number, number>();
    let below = 0;
    for (const shape of batchShapes(options.batchSize, model.fixedBatch)) {
      const cumulative = (b1.get(shape) ?? 0) - (b0.get(shape) ?? 0);
      runs.set(shape, cumulative - below);
      below = cumulative;
    }
    const rawSeconds = await rawRunSeconds(model, runs);
    const ms = (s: number) => round((s * 1000) / Math.max(1, frames));
    const fps = frames / seconds;
    // The inference worker less the raw model runs (never below nothing: the two are measured
    // apart, on a shared machine).
    const workerOverRaw = Math.max(0, byClass.inference_worker - rawSeconds);
    const hostSeconds = Object.entries(byClass)
      .reduce((sum, [c, s]) => sum + (c === "inference_worker" ? workerOverRaw : s), 0);
    // The busiest thread, one by one (each reader thread is one), the worker less the raw runs:
    // it allows at most one core; the whole process at most the machine's cores.
    const start = new Map(before.threads.map((t) => [t.tid, t.seconds]));
    let busiestName = "inference_worker";
    let busiestSeconds = workerOverRaw;
    for (const t of after.threads) {
      const spent = t.seconds - (start.get(t.tid) ?? 0);
      const kind = classifyThread(pid, t);
      if (kind !== "inference_worker" && spent > busiestSeconds) {
        [busiestName, busiestSeconds] = [kind, spent];
      }
    }
    const busiest = busiestSeconds / seconds;
    const cores = navigator.hardwareConcurrency;
    const lb = computeLetterbox({ width: w, height: h }, model);
    const bandBytes = pictureRows(lb, model).height * model.width * 3;
    return {
      pipe: options.pipe,
      synthetic: options.synthetic,
      size: options.size,
      fps_per_stream: options.fps,
      producer: options.pipe === 0
        ? "none"
        : options.producer === "replay"
        ? `replay (${tools!.kind})`
        : "ffmpeg testsrc",
      seconds: round(seconds, 1),
      frames_per_second: round(fps, 1),
      offered_frames_per_second: (options.pipe + options.synthetic) * options.fps,
      dropped_frames_per_second: round(dropped / seconds, 1),
      host_event_loop_ms_per_frame: ms(byClass.event_loop),
      host_source_readers_ms_per_frame: ms(byClass.source_readers),
      host_inference_worker_ms_per_frame: ms(byClass.inference_worker),
      raw_session_run_ms_per_frame: ms(rawSeconds),
      host_v8_helpers_ms_per_frame: ms(byClass.v8_helpers),
      host_io_pool_ms_per_frame: ms(byClass.io_pool),
      host_other_ms_per_frame: ms(byClass.other),
      host_cpu_ms_per_frame: ms(hostSeconds),
      producer_ms_per_frame: ms(producerSeconds),
      host_pipe_bytes_per_frame: options.pipe > 0 ? bandBytes : 0,
      source_picture_bytes: w * h * 3,
      busiest_thread: busiestName,
      busiest_thread_cores: round(busiest, 2),
      // Host-path streams: the model run is the GPU's, so the raw runs are left out here.
      host_streams_at_30fps: Math.floor(
        Math.min(
          fps / Math.max(0.01, busiest),
          (fps * cores) / Math.max(0.01, hostSeconds / seconds),
        ) /
          30,
      ),
      rss_mb: round(rss, 0),
      frame_slots_mb: options.pipe > 0 ? round((options.pipe * 14 * bandBytes) / 2 ** 20, 0) : 0,
    };
  } finally {
    try {
      child.kill("SIGTERM");
    } catch { /* gone */ }
    await child.status;
    if (ownTools) await Deno.remove(tools!.dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      pipe: { type: "string", default: "8" },
      synthetic: { type: "string", default: "0" },
      size: { type: "string", default: "640x360" },
      fps: { type: "string", default: "30" },
      "batch-size": { type: "string", default: "8" },
      producer: { type: "string", default: "ffmpeg" },
      model: { type: "string", default: HOST_PATH_MODEL },
      "warmup-s": { type: "string", default: "5" },
      seconds: { type: "string", default: "10" },
    },
    strict: true,
  });
  const producer = values.producer === "replay" ? "replay" : "ffmpeg";
  console.log(JSON.stringify(
    await measureHostPath({
      pipe: Number(values.pipe),
      synthetic: Number(values.synthetic),
      size: values.size!,
      fps: Number(values.fps),
      batchSize: Number(values["batch-size"]),
      producer,
      model: values.model!,
      warmupS: Number(values["warmup-s"]),
      seconds: Number(values.seconds),
    }),
  ));
}
