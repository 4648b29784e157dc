// The scrape's cost to the exporter's event loop at many streams, measured on a real exporter
// process: its main thread's CPU (the kernel's accounting, /proc/PID/task/PID/schedstat) over segments
// with scrapes, less the same over quiet segments between them, per scrape; the body's size
// plain and gzipped. Run alone: deno task bench-scrape [--streams N] [--seconds S]; `deno task
// bench` runs it as a phase.

import http from "node:http";
import { parseArgs } from "node:util";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";
import { threadTimes } from "../src/host/thread_cpu.ts";
import { freePort } from "../tests/_helpers.ts";

const ROOT = new URL("../", import.meta.url);

/** Options of {@linkcode measureScrapeCpu}. */
export interface ScrapeCpuOptions {
  /** Synthetic streams of the exporter. @default {128} */
  streams?: number;
  /** Frames per second of each stream (what the host can carry at `streams`). @default {2} */
  fps?: number;
  /** Seconds of each quiet and each scraped segment. @default {4} */
  segmentSeconds?: number;
  /** Pairs of quiet and scraped segments. @default {3} */
  rounds?: number;
  /** Milliseconds between scrapes in a scraped segment. @default {100} */
  intervalMs?: number;
  /** Progress lines go here. */
  progress?: (line: string) => void;
}

/** What {@linkcode measureScrapeCpu} measured. */
export interface ScrapeCpu {
  streams: number;
  scrapes: number;
  /** Event-loop CPU per scrape in ms (scraped segments less quiet ones). */
  eventLoopMsPerScrape: number;
  /** Event-loop CPU per second of the quiet segments (the streams' own work), in ms. */
  quietEventLoopMsPerSecond: number;
  /** Bytes of the text body, and of the same gzipped (as Prometheus asks for it). */
  bodyBytes: number;
  gzipBytes: number;
  /** Whether the gzipped answer said `Content-Encoding: gzip`. */
  gzipped: boolean;
  /** Samples in each stream's latency window when measured. */
  windowSamples: number;
}

function eventLoopSeconds(pid: number): number {
  return threadTimes(pid).find((t) => t.tid === pid)?.seconds ?? NaN;
}

/**
 * Reads `url` as Prometheus does, asking for `encoding`, without unzipping (Deno's fetch unzips
 * a gzip body even when asked for explicitly; node:http never does): the bytes as sent.
 */
function rawScrape(url: string, encoding: string): Promise<{ bytes: number; gzip: boolean }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { headers: { "accept-encoding": encoding } }, (res) => {
      let bytes = 0;
      res.on("data", (chunk: Uint8Array) => (bytes += chunk.length));
      res.on("end", () => resolve({ bytes, gzip: res.headers["content-encoding"] === "gzip" }));
      res.on("error", reject);
    });
    req.on("error", reject);
  });
}

/**
 * Starts an exporter with `streams` synthetic streams, waits for them all to be up and their
 * latency windows to fill a while, then measures the event loop's CPU per gzipped scrape.
 */
export async function measureScrapeCpu(options: ScrapeCpuOptions = {}): Promise<ScrapeCpu> {
  const streams = options.streams ?? 128;
  const fps = options.fps ?? 2;
  const segment = options.segmentSeconds ?? 4;
  const rounds = options.rounds ?? 3;
  const intervalMs = options.intervalMs ?? 100;
  const progress = options.progress ?? (() => {});
  const dir = await Deno.makeTempDir({ prefix: "bench_scrape" });
  const sources = `${dir}/sources.txt`;
  const lines = [];
  for (let i = 0; i < streams; i++) lines.push(`cam${i}=synthetic:64x48@${fps}`);
  await Deno.writeTextFile(sources, lines.join("\n") + "\n");
  const port = freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...EXPORTER_PERMISSIONS,
      new URL("main.ts", ROOT).pathname,
      "--sources-file",
      sources,
      "--model",
      new URL("tests/fixtures/known_pose.onnx", ROOT).pathname,
      "--batch-size",
      "32",
      "--listen",
      `127.0.0.1:${port}`,
      "--log-format",
      "json",
      "--status-interval-s",
      "3600",
      "--nvidia-smi",
      new URL("tests/fixtures/fake_nvidia_smi", ROOT).pathname,
    ],
    env: { FAKE_NVIDIA_SMI_STATE: `${dir}/gpu.json` },
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
  await Deno.writeTextFile(
    `${dir}/gpu.json`,
    JSON.stringify({
      mode: "ok",
      gpus: [{
        index: 0,
        uuid: "GPU-00000000-0000-0000-0000-000000000000",
        name: "NVIDIA H200",
        total: 143771,
        used: 9000,
        free: 134771,
        reserved: 0,
        util: 50,
      }],
      apps: [{ pid: "parent", gpu_uuid: "GPU-00000000-0000-0000-0000-000000000000", used: 8000 }],
    }),
  );
  const pid = child.pid;
  try {
    const started = performance.now();
    while (true) {
      if (performance.now() - started > 120_000) {
        throw new Error(`bench: the exporter's ${streams} streams were not all up in 120 s`);
      }
      try {
        const text = await (await fetch(url)).text();
        const up = text.split("\n").filter((l) =>
          l.startsWith("pose_stream_up{") && l.endsWith(" 1")
        );
        progress(`scrape cost: ${up.length}/${streams} streams up`);
        if (up.length === streams) break;
      } catch {
        // not listening yet
      }
      await new Promise((r) => setTimeout(r, 500));
    }
    // Warm-up: the JIT and every series' first render.
    for (let i = 0; i < 20; i++) await rawScrape(url, "gzip");
    let quiet = 0;
    let scraped = 0;
    let quietSeconds = 0;
    let scrapes = 0;
    for (let round = 0; round < rounds; round++) {
      progress(`scrape cost: round ${round + 1}/${rounds}, quiet`);
      let t0 = performance.now();
      let c0 = eventLoopSeconds(pid);
      await new Promise((r) => setTimeout(r, segment * 1000));
      let c1 = eventLoopSeconds(pid);
      let t1 = performance.now();
      quiet += (c1 - c0) / ((t1 - t0) / 1000);
      quietSeconds += (t1 - t0) / 1000;
      progress(`scrape cost: round ${round + 1}/${rounds}, scraping`);
      t0 = performance.now();
      c0 = eventLoopSeconds(pid);
      let n = 0;
      while (performance.now() - t0 < segment * 1000) {
        const at = performance.now();
        await rawScrape(url, "gzip");
        n++;
        const wait = intervalMs - (performance.now() - at);
        if (wait > 0) await new Promise((r) => setTimeout(r, wait));
      }
      c1 = eventLoopSeconds(pid);
      t1 = performance.now();
      scraped += (c1 - c0) - (quiet / (round + 1)) * ((t1 - t0) / 1000);
      scrapes += n;
    }
    const plain = await rawScrape(url, "identity");
    const zipped = await rawScrape(url, "gzip");
    const text = await (await fetch(url, { headers: { "accept-encoding": "identity" } })).text();
    const count = text.split("\n").find((l) =>
      l.startsWith('pose_latency_ms_count{stream_id="cam0"')
    );
    return {
      streams,
      scrapes,
      eventLoopMsPerScrape: (scraped / scrapes) * 1000,
      quietEventLoopMsPerSecond: (quiet / rounds) * 1000,
      bodyBytes: plain.bytes,
      gzipBytes: zipped.bytes,
      gzipped: zipped.gzip,
      windowSamples: Math.min(fps * 60, Number(count?.split(" ").pop() ?? 0)),
    };
  } finally {
    try {
      child.kill("SIGTERM");
    } catch {
      // already gone
    }
    await child.status;
    await Deno.remove(dir, { recursive: true });
  }
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      streams: { type: "string", default: "128" },
      fps: { type: "string", default: "2" },
      seconds: { type: "string", default: "4" },
      rounds: { type: "string", default: "3" },
    },
  });
  const r = await measureScrapeCpu({
    streams: Number(values.streams),
    fps: Number(values.fps),
    segmentSeconds: Number(values.seconds),
    rounds: Number(values.rounds),
    progress: (line) => console.error(line),
  });
  console.log(JSON.stringify(r));
}
