// Wires the parts together, starts them, serves HTTP and stops everything cleanly on a signal.

import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { VERSION } from "./version.ts";
import { PoseMetrics } from "./metrics/pose_metrics.ts";
import { createMetricsHandler } from "./metrics/server.ts";
import { Batcher } from "./pose/batcher.ts";
import { PoseDecoder } from "./pose/decoder.ts";
import { buildDemoModel } from "./pose/demo_model.ts";
import type { InferenceRunner } from "./pose/inference.ts";
import { createWorkerRunner } from "./pose/worker_runner.ts";
import { JsonlSink } from "./pose/jsonl_sink.ts";
import { MetricsSink } from "./pose/metrics_sink.ts";
import { loadModelFile, type PreparedModel, prepareModel } from "./pose/model_prep.ts";
import { PoseProcessor } from "./pose/processor.ts";
import type { ResultSink } from "./pose/result.ts";
import { createSources } from "./pose/source_factory.ts";
import { StreamLifecycle } from "./pose/stream_lifecycle.ts";
import { SwappableRunner } from "./pose/swappable_runner.ts";
import { GpuSupervisor } from "./gpu/gpu_supervisor.ts";
import { StatusDisplay } from "./status_display.ts";

/** Exit codes of the exporter. */
export const EXIT = { ok: 0, failure: 1, usage: 2 } as const;

/** A frame must have been decoded this recently for /readyz to answer ready. */
const READY_WINDOW_MS = 10_000;

/** Options of {@linkcode runApp}. */
export interface RunAppOptions {
  log: Logger;
  /** Aborting it stops the exporter as a signal would. */
  signal?: AbortSignal;
  /** Whether stderr is a terminal (for the live status). @default {Deno.stderr.isTerminal()} */
  terminal?: boolean;
}

async function loadModel(config: Config, log: Logger): Promise<PreparedModel> {
  if (config.modelPath === null) {
    log.warn("no --model given: using the built-in demo model, whose poses mean nothing");
    return prepareModel(buildDemoModel(), "built-in demo model");
  }
  return await loadModelFile(config.modelPath);
}

function waitForStop(config: Config, log: Logger, signal: AbortSignal | undefined): {
  stopped: Promise<string>;
  dispose: () => void;
} {
  let resolveStop: (reason: string) => void = () => {};
  const stopped = new Promise<string>((resolve) => (resolveStop = resolve));
  const onSignal = (name: string) => () => resolveStop(name);
  const handlers: [Deno.Signal, () => void][] = [["SIGINT", onSignal("SIGINT")], [
    "SIGTERM",
    onSignal("SIGTERM"),
  ]];
  for (const [sig, handler] of handlers) Deno.addSignalListener(sig, handler);
  let timer: ReturnType<typeof setTimeout> | undefined;
  if (config.durationSeconds !== null) {
    timer = setTimeout(() => resolveStop("duration elapsed"), config.durationSeconds * 1000);
  }
  const onAbort = () => resolveStop("aborted");
  signal?.addEventListener("abort", onAbort);
  if (signal?.aborted) resolveStop("aborted");
  return {
    stopped,
    dispose: () => {
      for (const [sig, handler] of handlers) Deno.removeSignalListener(sig, handler);
      if (timer !== undefined) clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      log.debug("stop handlers removed");
    },
  };
}

/**
 * Runs the exporter until a signal, the `--duration`, or `options.signal`.
 *
 * @returns the process exit code: 0 after a clean stop, 1 when it cannot start
 */
export async function runApp(config: Config, options: RunAppOptions): Promise<number> {
  const { log } = options;
  if (Deno.env.get("CUDA_DEVICE_ORDER") === undefined) {
    Deno.env.set("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
  }
  const streamIds = config.sources.map((s) => s.id);
  const metrics = new PoseMetrics(streamIds, {
    fpsWindowSeconds: config.fpsWindowSeconds,
    latencyWindowSeconds: config.latencyWindowSeconds,
    maxBatchSize: config.batchSize,
  });
  let processor: PoseProcessor | null = null;
  const lifecycles = config.sources.map((s, i) => new StreamLifecycle(i, s.id, { metrics, log }));
  const handler = createMetricsHandler(metrics.registry, {
    log,
    isReady: () =>
      processor !== null && processor.processed > 0 &&
      performance.now() - processor.lastDecodedAt < READY_WINDOW_MS &&
      lifecycles.some((l) => l.state === "up"),
  });

  const stop = waitForStop(config, log, options.signal);
  let server: Deno.HttpServer;
  try {
    server = Deno.serve({
      hostname: config.listen.hostname,
      port: config.listen.port,
      onListen: ({ hostname, port }) =>
        log.info("serving metrics", {
          url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/metrics`,
        }),
    }, handler);
  } catch (err) {
    stop.dispose();
    const address = `${config.listen.hostname}:${config.listen.port}`;
    if (err instanceof Deno.errors.AddrInUse) {
      log.error(
        `Cannot listen on ${address}: the address is already in use (choose another with --listen)`,
      );
    } else {
      log.error(`Cannot listen on ${address}: ${(err as Error).message}`);
    }
    return EXIT.failure;
  }

  const sinks: ResultSink[] = [new MetricsSink(metrics)];
  let runner: InferenceRunner | null = null;
  const gpu = new GpuSupervisor(config, { registry: metrics.registry, log });
  try {
    await gpu.start();
    const model = await loadModel(config, log);
    const decoderOptions = {
      scoreThreshold: config.scoreThreshold,
      iouThreshold: config.iouThreshold,
      maxDetections: config.maxDetections,
      maxCandidates: config.maxCandidates,
    };
    const runnerOptions = {
      provider: config.provider,
      deviceId: config.deviceId,
      maxBatch: config.batchSize,
      intraOpThreads: config.inferenceThreads,
      log,
      // The worker decodes: only poses cross threads, not the [N,56,anchors] output.
      decoder: decoderOptions,
    };
    const swappable = new SwappableRunner(
      await createWorkerRunner(model, { ...runnerOptions, onWarm: (shape) => gpu.onWarm(shape) }),
    );
    runner = swappable;
    gpu.attach(
      swappable,
      (shape) =>
        createWorkerRunner(model, {
          ...runnerOptions,
          provider: swappable.provider,
          warmShapes: [shape],
        }),
    );
    const maxBatch = Math.min(config.batchSize, runner.shapes.at(-1)!);
    if (model.fixedBatch !== null && model.fixedBatch < config.batchSize) {
      log.warn(
        `the model's batch dimension is fixed at ${model.fixedBatch}: running at batch ${maxBatch}`,
        {
          model: config.modelPath ?? "demo",
        },
      );
    }
    log.info("model ready", {
      model: config.modelPath ?? "built-in demo",
      provider: runner.provider,
      input: `${model.width}x${model.height}`,
      batch_shapes: runner.shapes.join(","),
      input_stage: model.inputStagePrepended
        ? "uint8 NHWC, cast/scale/transpose in graph"
        : "uint8 NHWC",
    });
    metrics.setInfo({
      version: VERSION,
      provider: runner.provider,
      model: config.modelPath ?? "demo",
    });
    if (config.resultsPath !== null) sinks.push(await JsonlSink.open(config.resultsPath));

    const batcher = new Batcher(streamIds.length, {
      maxBatch,
      timeoutMs: config.batchTimeoutMs,
      queueFrames: config.queueFrames,
      onDrop: (frame) => metrics.recordDrop(frame.stream, "queue_full"),
    });
    metrics.queueDepth.collect = () =>
      streamIds.forEach((_, s) => metrics.queueDepth.set(s, batcher.depth(s)));
    processor = new PoseProcessor({
      batcher,
      runner,
      decoder: new PoseDecoder(decoderOptions),
      streamIds,
      sinks,
      metrics,
      log,
      onBatchShape: (shape) => gpu.recordShape(shape),
    });
    const sources = await createSources(config, model, lifecycles);
    const loop = processor.run();
    for (const [stream, source] of sources.entries()) {
      metrics.startStream(stream);
      source.start(batcher);
    }
    log.info("streams started", { streams: streamIds.join(","), batch_size: maxBatch });
    const live = config.status === "on" ||
      (config.status === "auto" && config.logFormat === "text" &&
        (options.terminal ?? Deno.stderr.isTerminal()));
    const display = new StatusDisplay(metrics, log, {
      live,
      intervalSeconds: config.statusIntervalSeconds,
      queueDepth: (s) => batcher.depth(s),
      state: (s) => lifecycles[s]!.state,
    });
    display.start();

    const reason = await stop.stopped;
    log.info("stopping", { reason });
    const stops = sources.map((s) => s.stop());
    batcher.close();
    for (const frame of batcher.drain()) {
      metrics.recordDrop(frame.stream, "shutdown");
      frame.release?.();
    }
    await Promise.all(stops);
    await loop;
    await gpu.stop();
    display.stop();
    for (const sink of sinks) await sink.close();
    log.info("stopped", { frames: processor.processed });
    return EXIT.ok;
  } catch (err) {
    log.error((err as Error).message ?? String(err));
    for (const sink of sinks) await sink.close().catch(() => {});
    return EXIT.failure;
  } finally {
    stop.dispose();
    await gpu.stop();
    await server.shutdown();
    await runner?.release().catch(() => {});
  }
}
