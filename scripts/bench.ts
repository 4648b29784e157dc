// deno task bench: the pipeline against raw ONNX Runtime, and the metrics path against plain prom-client,
// as ratios measured in one run. Prints a table, and as its last stdout line one JSON object.

import type { Provider, ProviderChoice } from "../src/pose/provider.ts";
import { parseArgs } from "node:util";
import process from "node:process";
import * as ort from "onnxruntime-node";
import client from "prom-client";
import { buildDemoModel } from "../src/pose/demo_model.ts";
import { loadModelFile, type PreparedModel, prepareModel } from "../src/pose/model_prep.ts";
import { type InferenceRunner, sessionBytes, sessionOptions } from "../src/pose/inference.ts";
import { createPoseDecoder } from "../src/pose/decoder.ts";
import { type InputSize, parseInputSize } from "../src/pose/input_size.ts";
import { detectLayout } from "../src/pose/model_layout.ts";
import { batchShapes } from "../src/pose/batch_shapes.ts";
import { createWorkerRunner } from "../src/pose/worker_runner.ts";
import { Pipeline } from "../src/pipeline/pipeline.ts";
import { StreamRoster } from "../src/streams/roster.ts";
import type { PoseProcessor } from "../src/pipeline/processor.ts";
import { resolveSourceArgs } from "../src/sources/source_uri.ts";
import { renderSyntheticCycle, SyntheticSource } from "../src/sources/synthetic_source.ts";
import { PoseMetrics } from "../src/metrics/pose_metrics.ts";
import { createMetricsHandler } from "../src/metrics/server.ts";
import {
  DROP_REASONS,
  LATENCY_BUCKETS_SECONDS,
  POSE_FPS,
  POSE_FRAMES_DROPPED_TOTAL,
  POSE_FRAMES_TOTAL,
  POSE_LATENCY_MS,
  POSE_LATENCY_SECONDS,
  POSE_PERSONS,
  POSE_PERSONS_DETECTED_TOTAL,
  POSE_QUEUE_DEPTH,
  POSE_STREAM_FAILURES_TOTAL,
  POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS,
  POSE_STREAM_RESTARTS_TOTAL,
  POSE_STREAM_UP,
  STREAM_DOWN_REASONS,
} from "../src/metrics/definitions.ts";
import { Logger } from "../src/log.ts";
import { NvidiaSmiReader } from "../src/gpu/nvidia_smi.ts";
import { defaultInferenceThreads } from "../src/config.ts";
import bcrypt from "bcryptjs";
import { startHttpServer } from "../src/http/http_server.ts";
import { benchHostPath } from "./bench_host_path.ts";
import { measureScrapeCpu } from "./bench_scrape.ts";
import { measureMqttCost, mqttBenchJson, mqttBenchRows } from "./bench_mqtt.ts";
import { measureTrackerCost } from "./track_bench.ts";
import { median } from "./median.ts";

const encoder = new TextEncoder();
const QUIET = new Logger({ writer: { writeLine: () => {} } });
/** Each measured segment first runs this long unmeasured (JIT, thread pools, allocations). */
const WARM_UP_MS = 1000;

/** Benchmark settings from the command line. */
interface BenchOptions {
  model: string | null;
  inputSize: InputSize | null;
  provider: ProviderChoice;
  batchSize: number;
  streams: number;
  frames: number;
  scrapeStreams: number;
  scrapeSeconds: number;
  scrapeIntervalMs: number;
  /** Streams of the real exporter whose event-loop CPU per scrape is measured. */
  scrapeCostStreams: number;
  updateIterations: number;
  quick: boolean;
  inferenceThreads: number;
}

function parseBenchArgs(args: string[]): BenchOptions {
  const { values } = parseArgs({
    args: args[0] === "--" ? args.slice(1) : args,
    options: {
      model: { type: "string" },
      "input-size": { type: "string" },
      provider: { type: "string", default: "auto" },
      "batch-size": { type: "string", default: "8" },
      streams: { type: "string", default: "4" },
      frames: { type: "string" },
      "scrape-streams": { type: "string", default: "64" },
      "scrape-seconds": { type: "string" },
      "scrape-interval-ms": { type: "string", default: "200" },
      "scrape-cost-streams": { type: "string", default: "128" },
      "inference-threads": { type: "string", default: "auto" },
      quick: { type: "boolean", default: false },
      help: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.help) {
    console.log(
      "Usage: deno task bench [--model PATH] [--input-size N|WxH] [--provider auto|cuda|cpu] [--batch-size N] [--streams N]\n" +
        "       [--frames N] [--scrape-streams N] [--scrape-seconds S] [--scrape-interval-ms MS]\n" +
        "       [--scrape-cost-streams N] [--quick]",
    );
    Deno.exit(0);
  }
  const int = (name: string, text: string | undefined, min: number): number => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < min) {
      console.error(
        `bench: invalid --${name}: ${JSON.stringify(text)} is not an integer >= ${min}`,
      );
      Deno.exit(2);
    }
    return v;
  };
  const quick = values.quick ?? false;
  const provider = values.provider as ProviderChoice;
  if (!["auto", "cuda", "cpu"].includes(provider)) {
    console.error(
      `bench: invalid --provider: ${JSON.stringify(values.provider)} is not one of auto, cuda, cpu`,
    );
    Deno.exit(2);
  }
  const inputSize = parseInputSize(values["input-size"], (why) => {
    console.error(`bench: invalid --input-size: ${JSON.stringify(values["input-size"])} ${why}`);
    Deno.exit(2);
  });
  return {
    model: values.model ?? null,
    inputSize,
    provider,
    batchSize: int("batch-size", values["batch-size"], 1),
    streams: int("streams", values.streams, 1),
    frames: int("frames", values.frames ?? (quick ? "400" : "3000"), 1),
    scrapeStreams: int("scrape-streams", values["scrape-streams"], 1),
    scrapeSeconds: int("scrape-seconds", values["scrape-seconds"] ?? (quick ? "2" : "16"), 1),
    scrapeIntervalMs: int("scrape-interval-ms", values["scrape-interval-ms"], 1),
    scrapeCostStreams: int("scrape-cost-streams", values["scrape-cost-streams"], 1),
    updateIterations: quick ? 50_000 : 300_000,
    inferenceThreads: values["inference-threads"] === "auto"
      ? defaultInferenceThreads()
      : int("inference-threads", values["inference-threads"], 0),
    quick,
  };
}

/** A one-line progress indicator on stderr. */
function progress(text: string): void {
  if (Deno.stderr.isTerminal()) Deno.stderr.writeSync(encoder.encode(`\r\x1b[2K${text}`));
  else Deno.stderr.writeSync(encoder.encode(`${text}\n`));
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))] ?? NaN;
}

/** Phase 1: the bare InferenceSession.run loop, same model, provider, batch and uint8 input, for `frames` frames. */
async function measureRaw(
  model: PreparedModel,
  provider: Provider,
  o: BenchOptions,
  frames: number,
  bytes: Uint8Array = sessionBytes(model, provider),
): Promise<number> {
  const session = await ort.InferenceSession.create(
    bytes,
    sessionOptions(provider, { intraOpThreads: o.inferenceThreads }),
  );
  try {
    const frameBytes = model.width * model.height * 3;
    const input = new Uint8Array(o.batchSize * frameBytes);
    // The same pictures the pipeline's synthetic sources show.
    const cycle = renderSyntheticCycle({ width: 1280, height: 720 }, model);
    for (let i = 0; i < o.batchSize; i++) {
      input.set(cycle.frames[i % cycle.frames.length]!, i * frameBytes);
    }
    const tensor = new ort.Tensor("uint8", input, [o.batchSize, model.height, model.width, 3]);
    const warmUntil = performance.now() + WARM_UP_MS;
    while (performance.now() < warmUntil) await session.run({ [model.inputName]: tensor });
    const runs = Math.ceil(frames / o.batchSize);
    const started = performance.now();
    for (let i = 0; i < runs; i++) {
      await session.run({ [model.inputName]: tensor });
      if (i % 10 === 0) progress(`raw: ${i * o.batchSize}/${runs * o.batchSize} frames`);
    }
    return (runs * o.batchSize) / ((performance.now() - started) / 1000);
  } finally {
    await session.release();
  }
}

/** Input comparison: float32 NCHW converted from HWC bytes in JavaScript, against the fused uint8 input. */
async function measureJsConversion(
  original: Uint8Array,
  model: PreparedModel,
  provider: Provider,
  o: BenchOptions,
): Promise<number | null> {
  const inputName = "images";
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(
      original,
      sessionOptions(provider, { intraOpThreads: o.inferenceThreads }),
    );
  } catch {
    return null;
  }
  if (!session.inputNames.includes(inputName) && session.inputNames.length !== 1) return null;
  const name = session.inputNames[0]!;
  try {
    const { width, height } = model;
    const plane = width * height;
    const pixels = new Uint8Array(plane * 3).fill(40);
    const floats = new Float32Array(o.batchSize * plane * 3);
    const tensor = new ort.Tensor("float32", floats, [o.batchSize, 3, height, width]);
    const runs = Math.max(2, Math.ceil(o.frames / o.batchSize / 2));
    const started = performance.now();
    for (let i = 0; i < runs; i++) {
      for (let f = 0; f < o.batchSize; f++) {
        const base = f * plane * 3;
        for (let p = 0, q = 0; p < plane; p++, q += 3) {
          floats[base + p] = pixels[q]! / 255;
          floats[base + plane + p] = pixels[q + 1]! / 255;
          floats[base + 2 * plane + p] = pixels[q + 2]! / 255;
        }
      }
      await session.run({ [name]: tensor });
      if (i % 10 === 0) {
        progress(`input: float32 + JS conversion ${i * o.batchSize}/${runs * o.batchSize} frames`);
      }
    }
    return (runs * o.batchSize) / ((performance.now() - started) / 1000);
  } finally {
    await session.release();
  }
}

/** The exporter's pipeline as the benchmark drives it. */
interface BenchPipeline {
  metrics: PoseMetrics;
  processor: PoseProcessor;
  /** The stream ids, by index. */
  ids: string[];
  /** Stops the sources and waits until every queued frame is processed. */
  pause: () => Promise<void>;
  resume: () => void;
  stop: () => Promise<void>;
}

/**
 * Starts the exporter's own wiring ({@linkcode Pipeline}, as the exporter builds it): synthetic
 * sources at FPS 0 -> batcher -> inference and decoding in the worker -> metrics.
 */
async function startPipeline(
  model: PreparedModel,
  runner: InferenceRunner,
  streams: number,
): Promise<BenchPipeline> {
  const metrics = new PoseMetrics([], { batchShapes: runner.shapes });
  let roster: StreamRoster | null = null;
  const pipeline = new Pipeline({
    runner,
    metrics,
    log: QUIET,
    batchTimeoutMs: 20,
    queueFrames: 4,
    streamId: (stream) => roster?.idOf(stream) ?? "",
  });
  roster = new StreamRoster({
    sink: pipeline.intake,
    metrics,
    log: QUIET,
    listeners: [metrics, pipeline],
    createSource: ({ spec, index }) => {
      if (spec.kind !== "synthetic") throw new Error(`the bench runs synthetic sources only`);
      return new SyntheticSource({
        id: spec.id,
        stream: index,
        sourceWidth: spec.width,
        sourceHeight: spec.height,
        width: model.width,
        height: model.height,
        fps: spec.fps,
      });
    },
  });
  const loop = pipeline.run();
  const { sources } = resolveSourceArgs(
    Array.from({ length: streams }, (_, i) => ({ text: `s${i}=synthetic@0`, origin: "bench" })),
  );
  await roster.apply({ specs: sources, decoders: new Map() });
  const running = () => roster.streams.map((s) => s.source);
  return {
    metrics,
    processor: pipeline.processor,
    ids: sources.map((s) => s.id),
    pause: async () => {
      await Promise.all(running().map((s) => s.stop()));
      while (pipeline.batcher.size > 0) await new Promise((r) => setTimeout(r, 20));
      await new Promise((r) => setTimeout(r, 200));
    },
    resume: () => running().forEach((s) => s.start(pipeline.intake)),
    stop: async () => {
      await Promise.all(running().map((s) => s.stop()));
      pipeline.stopIntake();
      await loop;
    },
  };
}

/** Phase 2: the pipeline for the same number of frames as the raw loop. */
async function measurePipeline(
  model: PreparedModel,
  runner: InferenceRunner,
  o: BenchOptions,
  frames: number,
): Promise<number> {
  const pipeline = await startPipeline(model, runner, o.streams);
  await new Promise((r) => setTimeout(r, WARM_UP_MS));
  const start = pipeline.processor.processed;
  const started = performance.now();
  while (pipeline.processor.processed - start < frames) {
    await new Promise((r) => setTimeout(r, 2));
    progress(`pipeline: ${pipeline.processor.processed - start}/${frames} frames`);
  }
  const fps = (pipeline.processor.processed - start) / ((performance.now() - started) / 1000);
  await pipeline.stop();
  return fps;
}

/** The baseline's plain prom-client series: what the exporter exports, declared the usual way. */
function plainPromClientSeries(registry: client.Registry) {
  const labelNames = ["stream_id"];
  const gauge = (name: string) =>
    new client.Gauge({ name, help: name, labelNames, registers: [registry] });
  const counter = (name: string, labels = labelNames) =>
    new client.Counter({ name, help: name, labelNames: labels, registers: [registry] });
  return {
    summary: new client.Summary({
      name: POSE_LATENCY_MS.name,
      help: "latency",
      labelNames,
      percentiles: [0.5, 0.9, 0.99],
      maxAgeSeconds: 60,
      ageBuckets: 5,
      registers: [registry],
    }),
    histogram: new client.Histogram({
      name: POSE_LATENCY_SECONDS.name,
      help: "latency",
      labelNames,
      buckets: LATENCY_BUCKETS_SECONDS,
      registers: [registry],
    }),
    fps: gauge(POSE_FPS.name),
    persons: gauge(POSE_PERSONS.name),
    queueDepth: gauge(POSE_QUEUE_DEPTH.name),
    up: gauge(POSE_STREAM_UP.name),
    lastFrame: gauge(POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS.name),
    frames: counter(POSE_FRAMES_TOTAL.name),
    personsTotal: counter(POSE_PERSONS_DETECTED_TOTAL.name),
    restarts: counter(POSE_STREAM_RESTARTS_TOTAL.name),
    drops: counter(POSE_FRAMES_DROPPED_TOTAL.name, ["stream_id", "reason"]),
    failures: counter(POSE_STREAM_FAILURES_TOTAL.name, ["stream_id", "reason"]),
  };
}

/** The plain prom-client registry of the baseline: the same series for `ids`, with default metrics. */
function baselineRegistry(ids: string[], samplesPerStream: number): client.Registry {
  const registry = new client.Registry();
  client.collectDefaultMetrics({ register: registry });
  const m = plainPromClientSeries(registry);
  for (const id of ids) {
    for (let i = 0; i < samplesPerStream; i++) {
      const ms = 20 + ((i * 7919) % 100);
      m.summary.labels(id).observe(ms);
      m.histogram.labels(id).observe(ms / 1000);
    }
    [m.fps, m.persons, m.queueDepth, m.up, m.lastFrame].forEach((g) => g.labels(id).set(1));
    [m.frames, m.personsTotal, m.restarts].forEach((c) => c.labels(id).inc(0));
    DROP_REASONS.forEach((reason) => m.drops.labels(id, reason).inc(0));
    STREAM_DOWN_REASONS.forEach((reason) => m.failures.labels(id, reason).inc(0));
  }
  return registry;
}

/** Scrapes `url` every `intervalMs` for `seconds`; returns the latencies in ms. */
async function scrapeFor(
  url: string,
  seconds: number,
  intervalMs: number,
  label: string,
): Promise<number[]> {
  const latencies: number[] = [];
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    const started = performance.now();
    const res = await fetch(url);
    await res.text();
    latencies.push(performance.now() - started);
    progress(`scrape (${label}): ${latencies.length} scrapes`);
    const wait = intervalMs - (performance.now() - started);
    if (wait > 0) await new Promise((r) => setTimeout(r, wait));
  }
  return latencies;
}

/** Frames the pipeline decodes per second over `seconds`, while `during` runs. */
async function fpsWhile(
  pipeline: BenchPipeline,
  seconds: number,
  during: () => Promise<unknown>,
): Promise<number> {
  const start = pipeline.processor.processed;
  const started = performance.now();
  await Promise.all([during(), new Promise((r) => setTimeout(r, seconds * 1000))]);
  return (pipeline.processor.processed - start) / ((performance.now() - started) / 1000);
}

/** Phase 3: scrape latency of the exporter and of plain prom-client, and the pipeline's fps with and without scraping. */
async function measureScrape(model: PreparedModel, runner: InferenceRunner, o: BenchOptions) {
  const pipeline = await startPipeline(model, runner, o.scrapeStreams);
  const ids = pipeline.ids;
  // Both registries hold a full window: 30 fps x 60 s of latency samples per stream.
  const samples = 1800;
  const now = performance.now();
  for (let s = 0; s < ids.length; s++) {
    for (let i = 0; i < samples; i++) {
      pipeline.metrics.latencyMs.observe(s, 20 + ((i * 7919) % 100), now - (samples - i) * 30);
    }
  }
  const baseline = baselineRegistry(ids, samples);
  const exporterServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createMetricsHandler(pipeline.metrics.registry),
  );
  const baselineServer = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    async () =>
      new Response(await baseline.metrics(), { headers: { "content-type": baseline.contentType } }),
  );
  const url = (server: Deno.HttpServer) =>
    `http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/metrics`;
  try {
    // Unloaded: the cost of a scrape itself, before the pipeline competes for the cores.
    await pipeline.pause();
    // Both endpoints first serve a few unmeasured scrapes (JIT warm-up): a scraper sees the steady state.
    for (const server of [exporterServer, baselineServer]) {
      for (let i = 0; i < 10; i++) await (await fetch(url(server))).text();
    }
    const unloaded = await scrapeFor(
      url(exporterServer),
      Math.max(1, o.scrapeSeconds / 2),
      50,
      "exporter, idle",
    );
    const unloadedBaseline = await scrapeFor(
      url(baselineServer),
      Math.max(1, o.scrapeSeconds / 2),
      50,
      "prom-client, idle",
    );
    unloaded.sort((a, b) => a - b);
    unloadedBaseline.sort((a, b) => a - b);
    pipeline.resume();
    await new Promise((r) => setTimeout(r, 500));
    const quiet = () => new Promise((r) => setTimeout(r, 0));
    // Alternate quiet and scraped segments so drift on a shared machine hits both alike.
    const segment = Math.max(1, o.scrapeSeconds / 2);
    let fpsQuiet = 0;
    let fpsScraped = 0;
    const exporterLatencies: number[] = [];
    for (let round = 0; round < 2; round++) {
      progress(`scrape: quiet segment ${round + 1}/2`);
      fpsQuiet += await fpsWhile(pipeline, segment, quiet);
      fpsScraped += await fpsWhile(pipeline, segment, async () => {
        exporterLatencies.push(
          ...await scrapeFor(url(exporterServer), segment, o.scrapeIntervalMs, "exporter"),
        );
      });
    }
    const baselineLatencies = await scrapeFor(
      url(baselineServer),
      o.scrapeSeconds,
      o.scrapeIntervalMs,
      "prom-client",
    );
    exporterLatencies.sort((a, b) => a - b);
    baselineLatencies.sort((a, b) => a - b);
    return {
      fpsQuiet: fpsQuiet / 2,
      fpsScraped: fpsScraped / 2,
      p50: quantile(exporterLatencies, 0.5),
      p99: quantile(exporterLatencies, 0.99),
      baselineP50: quantile(baselineLatencies, 0.5),
      baselineP99: quantile(baselineLatencies, 0.99),
      scrapes: exporterLatencies.length,
      idleP99: quantile(unloaded, 0.99),
      idleBaselineP99: quantile(unloadedBaseline, 0.99),
      bodyBytes: (await (await fetch(url(exporterServer))).text()).length,
    };
  } finally {
    await exporterServer.shutdown();
    await baselineServer.shutdown();
    await pipeline.stop();
  }
}

/**
 * Phase 3b: 200 scrapes through the exporter's HTTP front with a basic auth login (bcrypt cost 10,
 * as htpasswd -nBC 10 makes it) against 200 without, one of each in turn in the same run (drift
 * on a shared machine hits both alike), each first in half the pairs: the first authenticated
 * scrape pays one bcrypt check, the cache serves the others.
 */
async function measureAuthScrape(streams: number) {
  const metrics = new PoseMetrics(Array.from({ length: streams }, (_, i) => `s${i}`));
  const dir = await Deno.makeTempDir({ prefix: "pose_bench_auth_" });
  const password = "bench password";
  await Deno.writeTextFile(
    `${dir}/web.yml`,
    `basic_auth_users:\n  prometheus: ${await bcrypt.hash(password, 10)}\n`,
  );
  const common = {
    hostname: "127.0.0.1",
    port: 0,
    maxConnections: 64,
    headerTimeoutMs: 5000,
    idleTimeoutMs: 60_000,
    log: QUIET,
  };
  const handler = createMetricsHandler(metrics.registry);
  const open = startHttpServer(common, handler);
  const guarded = startHttpServer({ ...common, webConfigFile: `${dir}/web.yml` }, handler);
  const login = { authorization: `Basic ${btoa(`prometheus:${password}`)}` };
  const scrape = async (server: typeof open, headers: Record<string, string>) => {
    const started = performance.now();
    const res = await fetch(`http://127.0.0.1:${server.addr.port}/metrics`, { headers });
    await res.text();
    if (res.status !== 200) throw new Error(`bench: a scrape answered ${res.status}`);
    return performance.now() - started;
  };
  try {
    const firstMs = await scrape(guarded, login);
    for (let i = 0; i < 10; i++) {
      await scrape(guarded, login);
      await scrape(open, {});
    }
    let authMs = 0;
    let plainMs = 0;
    // Which goes first alternates: the first of a pair is slower (measured: x1.09 for two plain
    // scrapes of one server), and that would be read as the login's cost.
    for (let i = 0; i < 200; i++) {
      if (i % 50 === 0) progress(`scrapes with and without a login: ${i}/200`);
      if (i % 2 === 0) {
        authMs += await scrape(guarded, login);
        plainMs += await scrape(open, {});
      } else {
        plainMs += await scrape(open, {});
        authMs += await scrape(guarded, login);
      }
    }
    return { scrapes: 200, authMs, plainMs, firstMs };
  } finally {
    await open.shutdown();
    await guarded.shutdown();
    await Deno.remove(dir, { recursive: true });
  }
}

function cpuMicros(): number {
  const u = process.cpuUsage();
  return u.user + u.system;
}

/** Phase 4: CPU time of one frame's metric updates, exporter against plain prom-client calls. */
function measureUpdates(o: BenchOptions): { exporterUs: number; baselineUs: number } {
  const ids = Array.from({ length: 64 }, (_, i) => `s${i}`);
  const metrics = new PoseMetrics(ids, { registry: new client.Registry() });
  const plain = plainPromClientSeries(new client.Registry());
  const n = o.updateIterations;
  const run = (label: string, update: (i: number) => void): number => {
    for (let i = 0; i < Math.min(n, 20_000); i++) update(i);
    const start = cpuMicros();
    for (let i = 0; i < n; i++) update(i);
    const us = (cpuMicros() - start) / n;
    progress(`updates (${label}): ${us.toFixed(3)} µs per frame`);
    return us;
  };
  const exporterUs = run("exporter", (i) => {
    const s = i & 63;
    const ms = 20 + (i % 100);
    metrics.recordFrame(s, ms, 2, performance.now());
    metrics.lastFrameTimestamp.set(s, Date.now() / 1000);
  });
  // The same updates as recordFrame, the plain way (fps as the counter a rate would read).
  const baselineUs = run("prom-client", (i) => {
    const id = ids[i & 63]!;
    const ms = 20 + (i % 100);
    plain.frames.labels(id).inc();
    plain.fps.labels(id).inc();
    plain.summary.labels(id).observe(ms);
    plain.histogram.labels(id).observe(ms / 1000);
    plain.personsTotal.labels(id).inc(2);
    plain.persons.labels(id).set(2);
    plain.lastFrame.labels(id).set(Date.now() / 1000);
  });
  return { exporterUs, baselineUs };
}

/** Phase 5: cost per poll of the persistent -lms loop against one nvidia-smi process per poll. */
async function measurePolling(): Promise<
  { loopMs: number; spawnMs: number } | { skipped: string }
> {
  const probe = new NvidiaSmiReader({ method: "spawn" });
  const first = await probe.poll();
  await probe.close();
  if (first.kind !== "ok") {
    return { skipped: `no GPU readable by nvidia-smi here (${first.kind}: ${first.reason})` };
  }
  const cost = async (method: "loop" | "spawn") => {
    const reader = new NvidiaSmiReader({ method, intervalMs: 200 });
    await reader.poll();
    const polls = 20;
    const started = performance.now();
    for (let i = 0; i < polls; i++) {
      await reader.poll();
      progress(`nvidia-smi polling (${method}): ${i + 1}/${polls}`);
    }
    const ms = (performance.now() - started) / polls;
    await reader.close();
    return ms;
  };
  return { loopMs: await cost("loop"), spawnMs: await cost("spawn") };
}

const round = (v: number, d = 3) => Math.round(v * 10 ** d) / 10 ** d;

/**
 * The decoder's cost per frame on the model's own output: batches of the synthetic frames run
 * through the worker, which times its decoding (threshold, NMS, letterbox undone) per batch.
 */
async function measureDecode(
  model: PreparedModel,
  runner: InferenceRunner,
  batch: number,
  runs: number,
): Promise<{ usPerFrame: number; persons: number }> {
  const cycle = renderSyntheticCycle({ width: 1280, height: 720 }, model);
  const frames = Array.from({ length: batch }, (_, i) => ({
    stream: i,
    seq: i,
    capturedAt: performance.now(),
    pixels: cycle.frames[i % cycle.frames.length]!,
    letterbox: cycle.letterbox,
  }));
  let seconds = 0;
  let persons = 0;
  for (let i = 0; i < runs; i++) {
    const out = await runner.run(frames);
    seconds += out.decodeSeconds;
    persons += out.persons.reduce((n, p) => n + p.length, 0);
    progress(`decoder: ${i + 1}/${runs} batches`);
  }
  return { usPerFrame: (seconds * 1e6) / (runs * batch), persons: persons / (runs * batch) };
}

/**
 * The decoder's heavy case: every one of 8400 anchors (a 640x640 YOLO-pose output) above the
 * threshold, as a crowded or badly calibrated model gives: 280 persons of 30 overlapping
 * anchors each. NMS keeps the 280 best and compares each other candidate with the kept boxes
 * until its own person's; `maxCandidates` 1000 and 30000 (Ultralytics' max_nms) are timed.
 */
function measureWorstDecode(quick: boolean): { ms1000: number; ms30000: number } {
  const anchors = 8400;
  const persons = 280;
  const data = new Float32Array(56 * anchors);
  for (let a = 0; a < anchors; a++) {
    const j = a % persons;
    const copy = Math.floor(a / persons);
    // Each copy sits 0 to 2 px right of its person's first anchor: IoU 0.87 and more.
    data[a] = (j % 20) * 32 + 16 + (copy % 3);
    data[anchors + a] = Math.floor(j / 20) * 45 + 22;
    data[2 * anchors + a] = 28;
    data[3 * anchors + a] = 40;
    data[4 * anchors + a] = copy === 0 ? 0.95 - j / 10000 : 0.3 + ((a * 7919) % 1000) / 2000;
  }
  const found = detectLayout([{ name: "output0", dims: [1, 56, anchors] }], null);
  if ("problem" in found) throw new Error(found.problem);
  const lb = { scale: 1, padX: 0, padY: 0, sourceWidth: 640, sourceHeight: 640 };
  const out = [{ data, dims: [1, 56, anchors] }];
  const decoders = [1000, 30000].map((maxCandidates) =>
    createPoseDecoder(found.layout, { maxCandidates })
  );
  // Warm both, then alternate them (drift on a shared machine hits both) and take medians.
  for (let i = 0; i < 5; i++) for (const d of decoders) d.decode(out, 0, lb);
  const times: number[][] = [[], []];
  for (let round = 0; round < (quick ? 15 : 60); round++) {
    decoders.forEach((d, i) => {
      const started = performance.now();
      d.decode(out, 0, lb);
      times[i]!.push(performance.now() - started);
    });
  }
  return { ms1000: median(times[0]!), ms30000: median(times[1]!) };
}

async function main(): Promise<void> {
  const o = parseBenchArgs(Deno.args);
  const original = o.model === null ? buildDemoModel() : await Deno.readFile(o.model);
  const model = o.model === null
    ? prepareModel(original, "built-in demo model")
    : await loadModelFile(o.model, { inputSize: o.inputSize });
  progress("building the session");
  const runner = await createWorkerRunner(model, {
    decoder: {},
    intraOpThreads: o.inferenceThreads,
    provider: o.provider,
    shapes: batchShapes(o.batchSize, model.fixedBatch),
    log: QUIET,
  });
  const provider = runner.provider;
  const batchSize = Math.min(o.batchSize, runner.shapes.at(-1)!);
  const opts = { ...o, batchSize };
  // Raw and pipeline alternate (raw, pipeline, raw, pipeline) so drift on a shared machine hits both.
  let rawFps = 0;
  let pipelineFps = 0;
  for (let round = 0; round < 2; round++) {
    rawFps += await measureRaw(model, provider, opts, Math.ceil(o.frames / 2)) / 2;
    pipelineFps += await measurePipeline(model, runner, opts, Math.ceil(o.frames / 2)) / 2;
  }
  // The JavaScript conversion compared is Ultralytics' float32 RGB / 255 input.
  const jsInputFps = model.inputStagePrepended && model.precision === "float32" &&
      model.layout.input.channels === "rgb"
    ? await measureJsConversion(original, model, provider, opts)
    : null;
  const decode = await measureDecode(model, runner, batchSize, o.quick ? 10 : 40);
  // A float16 model on the CPU provider: the graph as prepared (ONNX Runtime casts around the
  // nodes it has no float16 kernel for) against the float32 conversion the exporter runs.
  const float16AsIsFps = model.precision === "float16" && provider === "cpu"
    ? await measureRaw(model, provider, opts, Math.ceil(o.frames / 2), model.bytes)
    : null;
  const worst = measureWorstDecode(o.quick);
  const scrape = await measureScrape(model, runner, opts);
  await runner.release();
  const updates = measureUpdates(opts);
  const polling = await measurePolling();
  const authScrape = await measureAuthScrape(o.scrapeStreams);
  const hostPath = await benchHostPath({ quick: o.quick, progress });
  const scrapeCost = await measureScrapeCpu({
    streams: o.scrapeCostStreams,
    segmentSeconds: o.quick ? 2 : 4,
    rounds: o.quick ? 1 : 3,
    progress,
  });
  // 2 s quick segments: a 1 s one holds about 5 ms of publisher CPU with the broker down, against
  // 2 to 3 ms of noise between windows (docs/measurements.md).
  const mqtt = await measureMqttCost({ seconds: o.quick ? 2 : 5, progress });
  progress("measuring the tracker");
  const track = measureTrackerCost({ frames: o.quick ? 3000 : 9000, passes: o.quick ? 2 : 5 });
  if (Deno.stderr.isTerminal()) progress("");

  const result = {
    provider,
    model: model.origin,
    layout: model.layout.name,
    input: `${model.width}x${model.height}`,
    precision: model.precision,
    batch_size: batchSize,
    streams: o.streams,
    frames: o.frames,
    inference_threads: o.inferenceThreads,
    raw_fps: round(rawFps, 1),
    pipeline_fps: round(pipelineFps, 1),
    pipeline_over_raw: round(pipelineFps / rawFps),
    js_input_fps: jsInputFps === null ? null : round(jsInputFps, 1),
    fused_input_over_js: jsInputFps === null ? null : round(rawFps / jsInputFps),
    scrape_streams: o.scrapeStreams,
    scrape_interval_ms: o.scrapeIntervalMs,
    scrapes: scrape.scrapes,
    scrape_body_bytes: scrape.bodyBytes,
    scrape_p50_ms: round(scrape.p50),
    scrape_p99_ms: round(scrape.p99),
    baseline_scrape_p50_ms: round(scrape.baselineP50),
    baseline_scrape_p99_ms: round(scrape.baselineP99),
    scrape_p99_over_baseline: round(scrape.p99 / scrape.baselineP99),
    idle_scrape_p99_ms: round(scrape.idleP99),
    idle_baseline_scrape_p99_ms: round(scrape.idleBaselineP99),
    idle_scrape_p99_over_baseline: round(scrape.idleP99 / scrape.idleBaselineP99),
    fps_quiet: round(scrape.fpsQuiet, 1),
    fps_under_scrape: round(scrape.fpsScraped, 1),
    fps_drop_under_scrape: round(Math.max(0, 1 - scrape.fpsScraped / scrape.fpsQuiet), 4),
    auth_scrapes: authScrape.scrapes,
    auth_scrapes_ms: round(authScrape.authMs, 1),
    plain_scrapes_ms: round(authScrape.plainMs, 1),
    auth_over_plain_scrapes: round(authScrape.authMs / authScrape.plainMs),
    auth_first_scrape_ms: round(authScrape.firstMs, 1),
    scrape_cost_streams: scrapeCost.streams,
    scrape_event_loop_ms: round(scrapeCost.eventLoopMsPerScrape),
    scrape_cost_body_bytes: scrapeCost.bodyBytes,
    scrape_cost_gzip_bytes: scrapeCost.gzipBytes,
    scrape_cost_gzipped: scrapeCost.gzipped,
    update_us_per_frame: round(updates.exporterUs),
    baseline_update_us_per_frame: round(updates.baselineUs),
    update_over_baseline: round(updates.exporterUs / updates.baselineUs),
    nvidia_smi_loop_ms_per_poll: "skipped" in polling ? null : round(polling.loopMs),
    nvidia_smi_spawn_ms_per_poll: "skipped" in polling ? null : round(polling.spawnMs),
    nvidia_smi_polling: "skipped" in polling ? `skipped: ${polling.skipped}` : "measured",
    float16_as_is_fps: float16AsIsFps === null ? null : round(float16AsIsFps, 1),
    decode_us_per_frame: round(decode.usPerFrame, 1),
    decode_persons_per_frame: round(decode.persons, 2),
    decode_worst_ms_1000_candidates: round(worst.ms1000, 2),
    decode_worst_ms_30000_candidates: round(worst.ms30000, 2),
    ...hostPath.json,
    ...mqttBenchJson(mqtt),
    track_us_per_frame: round(track.usPerUpdate, 2),
  };
  const rows: [string, string, string][] = [
    ["raw InferenceSession.run", `${result.raw_fps} fps`, "ceiling"],
    ...(result.float16_as_is_fps === null ? [] : [[
      "float16 graph as is (ONNX Runtime's casts)",
      `${result.float16_as_is_fps} fps`,
      `the exporter's float32 conversion is the raw row`,
    ] as [string, string, string]]),
    [
      "decoder per frame (the model's output)",
      `${result.decode_us_per_frame} µs`,
      `${result.decode_persons_per_frame} persons a frame`,
    ],
    [
      "decoder, 8400 candidates: 1000 / 30000 into NMS",
      `${result.decode_worst_ms_1000_candidates} / ${result.decode_worst_ms_30000_candidates} ms`,
      "a frame where every anchor scores above the threshold",
    ],
    [
      "pipeline (sources->batcher->model->decoder->metrics)",
      `${result.pipeline_fps} fps`,
      `x${result.pipeline_over_raw} of raw (target >= 0.90)`,
    ],
    [
      "float32 input, JS conversion",
      result.js_input_fps === null ? "n/a" : `${result.js_input_fps} fps`,
      result.fused_input_over_js === null
        ? ""
        : `fused uint8 input is x${result.fused_input_over_js}`,
    ],
    [
      `scrape /metrics, ${o.scrapeStreams} streams`,
      `p50 ${result.scrape_p50_ms} ms, p99 ${result.scrape_p99_ms} ms`,
      `x${result.scrape_p99_over_baseline} of prom-client p99 (target <= 0.25)`,
    ],
    [
      "scrape with the pipeline paused: exporter / prom-client",
      `p99 ${result.idle_scrape_p99_ms} / ${result.idle_baseline_scrape_p99_ms} ms`,
      `x${result.idle_scrape_p99_over_baseline}`,
    ],
    [
      "scrape plain prom-client (baseline)",
      `p50 ${result.baseline_scrape_p50_ms} ms, p99 ${result.baseline_scrape_p99_ms} ms`,
      "",
    ],
    [
      "pipeline fps quiet / under scrape",
      `${result.fps_quiet} / ${result.fps_under_scrape}`,
      `drop ${result.fps_drop_under_scrape} (target <= 0.02)`,
    ],
    [
      `${result.auth_scrapes} scrapes with / without a basic auth login`,
      `${result.auth_scrapes_ms} / ${result.plain_scrapes_ms} ms`,
      `x${result.auth_over_plain_scrapes} (the first, with its bcrypt check: ${result.auth_first_scrape_ms} ms)`,
    ],
    [
      `event-loop CPU per gzipped scrape, exporter with ${result.scrape_cost_streams} streams`,
      `${result.scrape_event_loop_ms} ms`,
      `target <= 20 at 128 streams; ${result.scrape_cost_body_bytes} bytes, ` +
      `${result.scrape_cost_gzip_bytes} gzipped`,
    ],
    [
      "metric updates per frame",
      `${result.update_us_per_frame} µs`,
      `x${result.update_over_baseline} of prom-client ${result.baseline_update_us_per_frame} µs (target <= 0.5)`,
    ],
    [
      "nvidia-smi per poll: loop / spawn",
      result.nvidia_smi_loop_ms_per_poll === null
        ? "-"
        : `${result.nvidia_smi_loop_ms_per_poll} / ${result.nvidia_smi_spawn_ms_per_poll} ms`,
      result.nvidia_smi_polling,
    ],
  ];
  rows.push(...hostPath.rows);
  rows.push(...mqttBenchRows(mqtt));
  rows.push([
    `tracker per frame, ${track.persons} persons (ByteTrack, default flags)`,
    `${result.track_us_per_frame} µs`,
    "target < 20",
  ]);
  const w0 = Math.max(...rows.map((r) => r[0].length));
  const w1 = Math.max(...rows.map((r) => r[1].length));
  console.log(
    `pose-exporter bench: provider ${provider}, batch ${batchSize}, ${o.streams} streams, ${o.frames} frames, ` +
      `${o.inferenceThreads || "default"} inference threads; model ${model.origin}: ` +
      `${model.layout.name}, ${result.input} ${model.precision}`,
  );
  for (const [a, b, c] of rows) console.log(`${a.padEnd(w0)}  ${b.padEnd(w1)}  ${c}`);
  console.log(JSON.stringify(result));
}

if (import.meta.main) {
  await main();
  Deno.exit(0);
}
