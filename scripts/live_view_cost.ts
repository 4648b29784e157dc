// deno run -A scripts/live_view_cost.ts: what the live view costs the exporter. Runs the exporter
// with unthrottled synthetic sources and --live-view, and alternates phases in one run: nobody
// watching (a stand-in server here takes the same polls, see startPlacebo), then a watcher polling
// every stream of the exporter as the page does. Reports the exporter's own CPU time per frame
// (/proc/<pid>/stat) in each, and the bytes per second per watched stream.
// Prints a table, and as its last stdout line one JSON object.

import { parseArgs } from "node:util";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";
import { LIVE_VIEW_PATHS } from "../src/web/live_view.ts";
import { decodeSnapshotPacket, encodeSnapshotPacket } from "../src/web/snapshot_packet.ts";
import { downscaleInto, planDownscale, type Snapshot } from "../src/web/snapshot.ts";
import { renderSyntheticCycle } from "../src/sources/synthetic_source.ts";
import { POSE_FRAMES_TOTAL } from "../src/metrics/definitions.ts";
import { parseStat, TICKS_PER_SECOND } from "../src/host/thread_cpu.ts";
import { median } from "./median.ts";

/**
 * The sum of every `pose_frames_total` sample in Prometheus text.
 *
 * @param text a /metrics scrape
 * @returns frames decoded, all streams
 */
export function sumFrames(text: string): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (
      line.startsWith(`${POSE_FRAMES_TOTAL.name}{`) || line.startsWith(`${POSE_FRAMES_TOTAL.name} `)
    ) {
      total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
  }
  return total;
}

interface Sample {
  cpu: number;
  frames: number;
  at: number;
}

interface PhaseResult {
  phase: "idle" | "watch";
  seconds: number;
  frames: number;
  fps: number;
  cpuMsPerFrame: number;
  /** Bytes received per second per stream (watch phases). */
  bytesPerSecondPerStream: number;
  /** Pictures received per second per stream (watch phases). */
  picturesPerSecondPerStream: number;
}

/**
 * The live view's own work per picture, timed here on the synthetic frames the exporter sees
 * (1280x720 letterboxed to 640x640): the downscale in `capture` and the packet an answer copies.
 *
 * @returns microseconds per picture
 */
export function pictureWorkMicroseconds(): { downscale: number; packet: number } {
  const model = { width: 640, height: 640 };
  const cycle = renderSyntheticCycle({ width: 1280, height: 720 }, model);
  const plan = planDownscale(cycle.letterbox, model, 320);
  const shot: Snapshot = { width: 0, height: 0, rgb: new Uint8Array(0) };
  const time = (n: number, fn: (i: number) => void) => {
    for (let i = 0; i < n / 4; i++) fn(i);
    const started = performance.now();
    for (let i = 0; i < n; i++) fn(i);
    return (1000 * (performance.now() - started)) / n;
  };
  const downscale = time(
    400,
    (i) => downscaleInto(cycle.frames[i % cycle.frames.length]!, plan, shot),
  );
  const rgb = shot.rgb.subarray(0, shot.width * shot.height * 3);
  const header = {
    token: 1,
    stream: "s0",
    seq: 1,
    width: shot.width,
    height: shot.height,
    sourceWidth: 1280,
    sourceHeight: 720,
    ageMs: 0,
    persons: [],
  };
  const packet = time(400, () => encodeSnapshotPacket(header, rgb));
  return { downscale, packet };
}

/**
 * A stand-in for the live view in this process: answers the watcher's requests with packets of
 * the same size, so that idle phases load the host as watch phases do, minus the exporter's part.
 * (On a host with few cores, an exporter with idle cores around it spends more CPU per frame:
 * its inference threads spin. Without this, watching looks cheaper than not watching.)
 */
function startPlacebo(streams: number): { base: string; shutdown(): Promise<void> } {
  const rgb = new Uint8Array(320 * 180 * 3).fill(60);
  let token = 0;
  const state = JSON.stringify({
    streams: Array.from({ length: streams }, (_, i) => ({
      stream: i,
      id: `s${i}`,
      state: "up",
      reason: null,
      fps: 30.12,
      p50Ms: 12.3,
      p99Ms: 45.6,
      persons: 2,
      decoder: "synthetic",
    })),
    scoreThreshold: 0.25,
    snapshotIntervalMs: 200,
  });
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    if (new URL(req.url).pathname === LIVE_VIEW_PATHS.state) return new Response(state);
    const body = encodeSnapshotPacket({
      token: ++token,
      stream: "s0",
      seq: token,
      width: 320,
      height: 180,
      sourceWidth: 1280,
      sourceHeight: 720,
      ageMs: 50,
      persons: [],
    }, rgb);
    return new Response(body, { headers: { "content-type": "application/octet-stream" } });
  });
  return { base: `http://127.0.0.1:${server.addr.port}`, shutdown: () => server.shutdown() };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** Polls every stream's snapshot every `intervalMs` and the state every 500 ms, as the page does. */
class Watcher {
  bytes = 0;
  pictures = 0;
  #stopped = false;
  #loops: Promise<void>[] = [];

  constructor(base: string, ids: string[], intervalMs: number) {
    this.#loops = ids.map((id) => this.#snapshots(base, id, intervalMs));
    this.#loops.push(this.#state(base));
  }

  async #snapshots(base: string, id: string, intervalMs: number): Promise<void> {
    let token = 0;
    while (!this.#stopped) {
      const started = performance.now();
      const res = await fetch(
        `${base}${LIVE_VIEW_PATHS.snapshot}?stream=${encodeURIComponent(id)}&after=${token}`,
      );
      const body = new Uint8Array(await res.arrayBuffer());
      this.bytes += body.length;
      if (res.status === 200) {
        const { header } = decodeSnapshotPacket(body);
        token = header.token;
        if (header.width > 0) this.pictures++;
      }
      await sleep(Math.max(0, intervalMs - (performance.now() - started)));
    }
  }

  async #state(base: string): Promise<void> {
    while (!this.#stopped) {
      const res = await fetch(`${base}${LIVE_VIEW_PATHS.state}`);
      await res.arrayBuffer();
      await sleep(500);
    }
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    await Promise.all(this.#loops);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      streams: { type: "string", default: "4" },
      "phase-s": { type: "string", default: "6" },
      rounds: { type: "string", default: "8" },
      "warmup-s": { type: "string", default: "10" },
      // Batch 1 and one inference thread by default: larger batches form differently when the
      // main thread is busier, and idle inference threads spin, and either moves the CPU per
      // frame by more than the live view costs.
      "batch-size": { type: "string", default: "1" },
      "inference-threads": { type: "string", default: "1" },
      "no-placebo": { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
  });
  if (values.help) {
    console.log(
      "usage: deno run -A scripts/live_view_cost.ts [--streams 4] [--phase-s 6] [--rounds 8] " +
        "[--warmup-s 10] [--batch-size 1] [--inference-threads 1] [--no-placebo]",
    );
    return;
  }
  const streams = Number(values.streams);
  const phaseSeconds = Number(values["phase-s"]);
  const rounds = Number(values.rounds);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  const base = `http://127.0.0.1:${port}`;
  const ids = Array.from({ length: streams }, (_, i) => `s${i}`);
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...EXPORTER_PERMISSIONS,
      new URL("../main.ts", import.meta.url).pathname,
      ...ids.flatMap((id) => ["--source", `${id}=synthetic@0`]),
      "--live-view",
      "--listen",
      `127.0.0.1:${port}`,
      "--batch-size",
      values["batch-size"],
      "--inference-threads",
      values["inference-threads"],
      "--status",
      "off",
      "--log-level",
      "warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  const sample = async (): Promise<Sample> => {
    const stat = parseStat(await Deno.readTextFile(`/proc/${child.pid}/stat`));
    if (stat === null) throw new Error(`Cannot read CPU times from /proc/${child.pid}/stat`);
    const metrics = await (await fetch(`${base}/metrics`)).text();
    return {
      cpu: stat.ticks / TICKS_PER_SECOND,
      frames: sumFrames(metrics),
      at: performance.now(),
    };
  };
  const results: PhaseResult[] = [];
  const placebo = values["no-placebo"] ? null : startPlacebo(streams);
  try {
    const deadline = Date.now() + 120_000;
    while (true) {
      try {
        const state = await (await fetch(`${base}${LIVE_VIEW_PATHS.state}`)).json();
        if (state.streams.filter((s: { state: string }) => s.state === "up").length === streams) {
          break;
        }
      } catch {
        // not listening yet
      }
      if (Date.now() > deadline) {
        throw new Error("The exporter did not bring every stream up in 120 s");
      }
      await sleep(250);
    }
    await sleep(Number(values["warmup-s"]) * 1000);
    // ABBA order (idle, watch, watch, idle, ...) so that a slow drift cancels out.
    const order: ("idle" | "watch")[] = [];
    for (let r = 0; r < rounds; r++) {
      order.push(...(r % 2 === 0 ? ["idle", "watch"] as const : ["watch", "idle"] as const));
    }
    let previous: "idle" | "watch" | null = null;
    for (const phase of order) {
      let watcher: Watcher | null = null;
      let placeboWatcher: Watcher | null = null;
      if (phase === "watch") {
        watcher = new Watcher(base, ids, 200);
        await sleep(1000); // the first pictures are being taken
      } else {
        if (placebo) placeboWatcher = new Watcher(placebo.base, ids, 200);
        // A watch lasts 3 s after the last poll.
        await sleep(previous === "watch" ? 4000 : 1000);
      }
      previous = phase;
      const bytes0 = watcher?.bytes ?? 0;
      const pictures0 = watcher?.pictures ?? 0;
      const start = await sample();
      await sleep(phaseSeconds * 1000);
      const end = await sample();
      const seconds = (end.at - start.at) / 1000;
      const frames = end.frames - start.frames;
      results.push({
        phase,
        seconds,
        frames,
        fps: frames / seconds,
        cpuMsPerFrame: (1000 * (end.cpu - start.cpu)) / frames,
        bytesPerSecondPerStream: watcher ? (watcher.bytes - bytes0) / seconds / streams : 0,
        picturesPerSecondPerStream: watcher
          ? (watcher.pictures - pictures0) / seconds / streams
          : 0,
      });
      await watcher?.stop();
      await placeboWatcher?.stop();
      const r = results.at(-1)!;
      console.log(
        `${r.phase.padEnd(5)} ${r.seconds.toFixed(1)} s  ${
          r.fps.toFixed(1).padStart(6)
        } frames/s  ` +
          `${r.cpuMsPerFrame.toFixed(3)} ms CPU/frame` +
          (watcher
            ? `  ${(r.bytesPerSecondPerStream / 1000).toFixed(0)} kB/s and ` +
              `${r.picturesPerSecondPerStream.toFixed(2)} pictures/s per stream`
            : ""),
      );
    }
  } finally {
    child.kill("SIGTERM");
    await child.status;
    await placebo?.shutdown();
  }
  const mean = (phase: string, key: keyof PhaseResult) => {
    const of = results.filter((r) => r.phase === phase);
    return of.reduce((s, r) => s + (r[key] as number), 0) / of.length;
  };
  // CPU per frame over each phase kind: total CPU over total frames.
  const perFrame = (phase: string) => {
    const of = results.filter((r) => r.phase === phase);
    const cpu = of.reduce((s, r) => s + r.cpuMsPerFrame * r.frames, 0);
    return cpu / of.reduce((s, r) => s + r.frames, 0);
  };
  // Each round is one idle and one watch phase side by side: their ratio is little moved by
  // other load on the host, which changes slowly against a phase.
  const pairRatios: number[] = [];
  for (let i = 0; i + 1 < results.length; i += 2) {
    const [a, b] = [results[i]!, results[i + 1]!];
    const [idle, watch] = a.phase === "idle" ? [a, b] : [b, a];
    pairRatios.push(watch.cpuMsPerFrame / idle.cpuMsPerFrame);
  }
  const work = pictureWorkMicroseconds();
  const picturesPerSecond = mean("watch", "picturesPerSecondPerStream") * streams;
  // The live view's own work per decoded frame, from its timed parts (no HTTP stack).
  const directMsPerFrame = (picturesPerSecond * (work.downscale + work.packet) / 1000) /
    mean("watch", "fps");
  const summary = {
    streams,
    cpus: navigator.hardwareConcurrency,
    idleCpuMsPerFrame: perFrame("idle"),
    watchCpuMsPerFrame: perFrame("watch"),
    extraPercent: 100 * (perFrame("watch") / perFrame("idle") - 1),
    medianPairExtraPercent: 100 * (median(pairRatios) - 1),
    pairExtraPercents: pairRatios.map((r) => Math.round(1000 * (r - 1)) / 10),
    downscaleMicroseconds: work.downscale,
    packetMicroseconds: work.packet,
    directExtraPercent: 100 * directMsPerFrame / perFrame("idle"),
    idleFps: mean("idle", "fps"),
    watchFps: mean("watch", "fps"),
    bytesPerSecondPerStream: mean("watch", "bytesPerSecondPerStream"),
    picturesPerSecondPerStream: mean("watch", "picturesPerSecondPerStream"),
    phases: results,
  };
  console.log(
    `CPU per frame: ${summary.idleCpuMsPerFrame.toFixed(3)} ms nobody watching, ` +
      `${summary.watchCpuMsPerFrame.toFixed(3)} ms with a watcher (${
        summary.extraPercent >= 0 ? "+" : ""
      }${summary.extraPercent.toFixed(2)} %); ` +
      `${(summary.bytesPerSecondPerStream / 1000).toFixed(0)} kB/s per watched stream`,
  );
  console.log(
    `median of ${pairRatios.length} side-by-side pairs: ${
      summary.medianPairExtraPercent.toFixed(2)
    } % (pairs: ${summary.pairExtraPercents.join(", ")}); live view work timed alone: ` +
      `${work.downscale.toFixed(0)} us downscale + ${work.packet.toFixed(0)} us packet per ` +
      `picture = ${summary.directExtraPercent.toFixed(2)} % of the CPU per frame`,
  );
  console.log(JSON.stringify(summary));
}

if (import.meta.main) await main();
