// Wires the parts together: small start phases, one reload action and one stop path that every
// exit goes through, with a deadline.

import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { VERSION } from "./version.ts";
import { PoseMetrics } from "./metrics/pose_metrics.ts";
import { createMetricsHandler, type Readiness } from "./metrics/server.ts";
import { buildDemoModel } from "./pose/demo_model.ts";
import { createWorkerRunner } from "./pose/worker_runner.ts";
import { batchShapes } from "./pose/batch_shapes.ts";
import { loadModelFile, type PreparedModel, prepareModel } from "./pose/model_prep.ts";
import { SwappableRunner } from "./pose/swappable_runner.ts";
import { JsonlSink } from "./pipeline/jsonl_sink.ts";
import { Pipeline } from "./pipeline/pipeline.ts";
import { checkSourceTools, type SourceFactoryOptions } from "./sources/source_factory.ts";
import { type DecoderChoice, DecoderChooser } from "./sources/nvdec_probe.ts";
import type { SourceSpec } from "./sources/source_uri.ts";
import {
  loadSources,
  SourcesFileError,
  type SourcesFileWatch,
  watchSourcesFile,
} from "./sources/sources_file.ts";
import { GpuSupervisor } from "./gpu/gpu_supervisor.ts";
import { StatusDisplay } from "./terminal/status_display.ts";
import { LiveView } from "./web/live_view.ts";
import { deadlineAfter, StopControl } from "./stop_control.ts";

import { EXIT } from "./exit_codes.ts";

/** A frame must have been decoded this recently for /readyz to answer ready. */
const READY_WINDOW_MS = 10_000;

/** Options of {@linkcode runApp}. */
export interface RunAppOptions {
  log: Logger;
  /** Aborting it stops the exporter as a signal would. */
  signal?: AbortSignal;
  /** Whether stderr is a terminal (for the live status). @default {Deno.stderr.isTerminal()} */
  terminal?: boolean;
  /**
   * Remove the signal listeners when done. The CLI keeps them until it exits, so that a late
   * second signal cannot kill it between the last log line and the exit. @default {true}
   */
  releaseSignals?: boolean;
  /** Called once the exporter's own signal listeners are in place (the CLI drops its early ones). */
  onSignalsInstalled?: () => void;
}

/** The outcome of one reload. */
export interface ReloadOutcome {
  ok: boolean;
  message: string;
  /** The HTTP status for POST /-/reload. @default {200 when ok, else 500} */
  status?: number;
}

/** Thrown by a start phase with the one line the user sees; exit code 1 (2 for bad input). */
export class StartError extends Error {
  readonly exitCode: number;

  constructor(message: string, exitCode: number = EXIT.failure, options?: ErrorOptions) {
    super(message, options);
    this.name = "StartError";
    this.exitCode = exitCode;
  }
}

/** The file name of a path, for labels and logs that should not publish directories. */
function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

async function loadModel(config: Config, log: Logger): Promise<PreparedModel> {
  if (config.modelPath === null) {
    log.warn("no --model given: using the built-in demo model, whose poses mean nothing");
    return prepareModel(buildDemoModel(), "built-in demo model");
  }
  return await loadModelFile(config.modelPath);
}

/** The running exporter: its parts, started phase by phase, and its one stop path. */
class Exporter {
  #config: Config;
  #log: Logger;
  #options: RunAppOptions;
  #stop: StopControl;
  #metrics: PoseMetrics;
  #gpu: GpuSupervisor;
  #server: Deno.HttpServer | null = null;
  #runner: SwappableRunner | null = null;
  #pipeline: Pipeline | null = null;
  #loop: Promise<void> | null = null;
  #jsonl: JsonlSink | null = null;
  #liveView: LiveView | null = null;
  #display: StatusDisplay | null = null;
  #watch: SourcesFileWatch | null = null;
  #reloading: Promise<ReloadOutcome> = Promise.resolve({ ok: true, message: "" });
  /** A reload asked for while the exporter was starting: it runs once the streams are up. */
  #pendingReload: string | null = null;
  #model: PreparedModel | null = null;
  #decoderChooser: DecoderChooser | null = null;
  /** Each stream's decoder, decided at start and for each stream a reload adds. */
  #decoders = new Map<string, DecoderChoice>();

  constructor(config: Config, options: RunAppOptions) {
    this.#config = config;
    this.#log = options.log;
    this.#options = options;
    // Signals are honoured from the first moment, start-up included.
    this.#stop = new StopControl({
      log: this.#log,
      signal: options.signal,
      onReload: () => void this.reload("SIGHUP"),
      onForce: () => void this.#forceStop(),
    });
    options.onSignalsInstalled?.();
    this.#metrics = new PoseMetrics([], {
      fpsWindowSeconds: config.fpsWindowSeconds,
      latencyWindowSeconds: config.latencyWindowSeconds,
    });
    this.#gpu = new GpuSupervisor(config, { registry: this.#metrics.registry, log: this.#log });
  }

  /** Runs until a stop; returns the exit code. */
  async run(): Promise<number> {
    let code: number = EXIT.ok;
    try {
      await this.#start();
      if (this.#stop.reason === null) {
        this.#afterStart();
        if (this.#pendingReload !== null) void this.reload(this.#pendingReload);
      }
      await this.#stop.requested;
    } catch (err) {
      code = err instanceof StartError ? err.exitCode : EXIT.failure;
      this.#log.error((err as Error).message ?? String(err));
    }
    const lost = await this.#shutdown(this.#stop.reason ?? "start-up failed");
    return lost > 0 && code === EXIT.ok ? EXIT.failure : code;
  }

  /** The start phases; each one gives way to a stop requested meanwhile. */
  async #start(): Promise<void> {
    const config = this.#config;
    if (Deno.env.get("CUDA_DEVICE_ORDER") === undefined) {
      Deno.env.set("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    }
    this.#watchSourcesFile();
    const specs = await this.#initialSources();
    this.#startServer();
    // Quick checks that can fail first, so a typo does not wait for a model to load.
    const phases: [string, () => Promise<unknown>][] = [
      ["results file", () => this.#openResults()],
      ["source tools", () => checkSourceTools(specs, config)],
      ["GPU reader", () => this.#gpu.start()],
      ["model", async () => (this.#model = await loadModel(config, this.#log))],
      ["decoders", () => this.#chooseDecoders(specs)],
      ["inference session", () => this.#startSession()],
    ];
    for (const [name, phase] of phases) {
      if (this.#stop.reason !== null) return;
      this.#log.debug("starting", { phase: name });
      await this.#stop.unlessStopped(phase());
    }
    if (this.#stop.reason !== null) return;
    this.#startPipeline(specs);
  }

  /**
   * Decides each stream's decoder (NVDEC or CPU); `--decode nvdec` where NVDEC cannot decode
   * a stream stops the start (a reload is refused instead).
   */
  async #chooseDecoders(specs: readonly SourceSpec[]): Promise<void> {
    const config = this.#config;
    this.#decoderChooser ??= new DecoderChooser({
      ffmpegPath: config.ffmpegPath,
      decode: config.decode,
      deviceId: config.deviceId,
      width: this.#model!.width,
      height: this.#model!.height,
    });
    for (const [id, choice] of await this.#decoderChooser.chooseAll(specs)) {
      this.#decoders.set(id, choice);
    }
  }

  async #initialSources(): Promise<SourceSpec[]> {
    const config = this.#config;
    if (config.sourcesFile === null) return config.sources;
    try {
      this.#watch?.markSeen();
      const loaded = await loadSources(config.sourcesFile, config.sourceArgs);
      this.#warnAboutSourcesFile(loaded);
      return loaded.specs;
    } catch (err) {
      if (err instanceof SourcesFileError) {
        throw new StartError(err.problems.join("; "), EXIT.usage);
      }
      throw err;
    }
  }

  #startServer(): void {
    const config = this.#config;
    const address = `${config.listen.hostname}:${config.listen.port}`;
    const handler = createMetricsHandler(this.#metrics.registry, {
      log: this.#log,
      readiness: () => this.#readiness(),
      reload: config.webEnableLifecycle ? () => this.reload("POST /-/reload") : undefined,
      routes: config.liveView
        ? (request) => this.#liveView?.handle(request) ?? Promise.resolve(null)
        : undefined,
    });
    try {
      this.#server = Deno.serve({
        hostname: config.listen.hostname,
        port: config.listen.port,
        onListen: ({ hostname, port }) =>
          this.#log.info("serving metrics", {
            url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/metrics`,
          }),
      }, handler);
    } catch (err) {
      if (err instanceof Deno.errors.AddrInUse) {
        throw new StartError(
          `Cannot listen on ${address}: the address is already in use (choose another with --listen)`,
        );
      }
      throw new StartError(`Cannot listen on ${address}: ${(err as Error).message}`);
    }
  }

  #readiness(): Readiness {
    const processor = this.#pipeline?.processor;
    if (!processor) return { ready: false, reason: "starting (model not loaded yet)" };
    if (!this.#pipeline!.streams.streams.some((s) => s.lifecycle.state === "up")) {
      return { ready: false, reason: "no stream is up" };
    }
    if (processor.processed === 0) return { ready: false, reason: "no frame decoded yet" };
    if (performance.now() - processor.lastDecodedAt >= READY_WINDOW_MS) {
      return { ready: false, reason: `no frame decoded in ${READY_WINDOW_MS / 1000} s` };
    }
    return { ready: true, reason: "" };
  }

  async #startSession(): Promise<void> {
    const config = this.#config;
    const model = this.#model!;
    const runnerOptions = {
      provider: config.provider,
      deviceId: config.deviceId,
      shapes: batchShapes(config.batchSize, model.fixedBatch),
      intraOpThreads: config.inferenceThreads,
      log: this.#log,
      decoder: {
        scoreThreshold: config.scoreThreshold,
        iouThreshold: config.iouThreshold,
        maxDetections: config.maxDetections,
        maxCandidates: config.maxCandidates,
      },
    };
    const gpu = this.#gpu;
    const runner = new SwappableRunner(
      await createWorkerRunner(model, { ...runnerOptions, onWarm: (shape) => gpu.onWarm(shape) }),
    );
    this.#runner = runner;
    gpu.attach(runner, (shape) =>
      createWorkerRunner(model, {
        ...runnerOptions,
        provider: runner.provider,
        warmShapes: [shape],
      }));
    const maxBatch = runner.shapes.at(-1)!;
    if (model.fixedBatch !== null && model.fixedBatch < config.batchSize) {
      this.#log.warn(
        `the model's batch dimension is fixed at ${model.fixedBatch}: running at batch ${maxBatch}`,
        { model: model.origin },
      );
    }
    this.#log.info("model ready", {
      model: model.origin,
      provider: runner.provider,
      input: `${model.width}x${model.height}`,
      batch_shapes: runner.shapes.join(","),
      input_stage: model.inputStagePrepended
        ? "uint8 NHWC, cast/scale/transpose in graph"
        : "uint8 NHWC",
    });
    this.#metrics.setBatchShapes(runner.shapes);
    this.#metrics.setInfo({
      version: VERSION,
      provider: runner.provider,
      model: config.modelPath === null ? "demo" : baseName(config.modelPath),
    });
  }

  async #openResults(): Promise<void> {
    if (this.#config.resultsPath === null) return;
    this.#jsonl = await JsonlSink.open(this.#config.resultsPath, {
      log: this.#log,
      onLost: (lines) => this.#metrics.resultsLost.inc(0, lines),
    });
  }

  #startPipeline(specs: SourceSpec[]): void {
    const config = this.#config;
    const model = this.#model!;
    const runner = this.#runner!;
    if (config.liveView) {
      this.#liveView = new LiveView({
        streams: () => this.#liveStreams(),
        modelWidth: model.width,
        modelHeight: model.height,
        scoreThreshold: config.scoreThreshold,
      });
    }
    const sourceOptions: SourceFactoryOptions = {
      width: model.width,
      height: model.height,
      ffmpegPath: config.ffmpegPath,
      ffprobePath: config.ffprobePath,
      loop: config.loop,
      realtime: config.realtime,
      stallTimeoutMs: config.stallTimeoutSeconds * 1000,
      retryMaxMs: config.retryMaxSeconds * 1000,
      decode: config.decode,
      deviceId: config.deviceId,
      decoders: this.#decoders,
    };
    this.#pipeline = new Pipeline({
      runner,
      metrics: this.#metrics,
      log: this.#log,
      batchTimeoutMs: config.batchTimeoutMs,
      queueFrames: config.queueFrames,
      sinks: [this.#jsonl, this.#liveView].filter((s) => s !== null),
      tap: this.#liveView ?? undefined,
      onBatchShape: (shape) => this.#gpu.recordShape(shape),
      sourceOptions,
    });
    this.#loop = this.#pipeline.processor.run();
    for (const spec of specs) this.#pipeline.streams.add(spec);
    this.#log.info("streams started", {
      streams: specs.map((s) => s.id).join(","),
      batch_size: runner.shapes.at(-1)!,
    });
    this.#metrics.recordReload(true);
  }

  #liveStreams() {
    const metrics = this.#metrics;
    return (this.#pipeline?.streams.streams ?? []).map(({ index, spec, lifecycle }) => {
      const p50 = metrics.latencyMs.quantile(index, 0.5);
      const p99 = metrics.latencyMs.quantile(index, 0.99);
      const down = lifecycle.state !== "up" ? lifecycle.lastDown : null;
      return {
        stream: index,
        id: spec.id,
        state: lifecycle.state,
        reason: down ? `${down.reason}${down.detail ? `: ${down.detail}` : ""}` : null,
        fps: metrics.fps.rate(index),
        p50Ms: Number.isFinite(p50) ? p50 : null,
        p99Ms: Number.isFinite(p99) ? p99 : null,
        persons: metrics.persons.value(index),
        decoder: lifecycle.decoder ?? undefined,
      };
    });
  }

  /** What runs once the streams are up: --duration, the status display, the file watcher. */
  #afterStart(): void {
    const config = this.#config;
    if (config.durationSeconds !== null) this.#stop.stopAfter(config.durationSeconds);
    const pipeline = this.#pipeline!;
    const live = config.status === "on" ||
      (config.status === "auto" && config.logFormat === "text" &&
        (this.#options.terminal ?? Deno.stderr.isTerminal()));
    this.#display = new StatusDisplay(this.#metrics, this.#log, {
      live,
      intervalSeconds: config.statusIntervalSeconds,
      queueDepth: (s) => pipeline.batcher.depth(s),
      streams: () =>
        pipeline.streams.streams.map(({ index, spec, lifecycle }) => ({
          index,
          id: spec.id,
          state: lifecycle.state,
        })),
    });
    this.#display.start();
  }

  /** Watches the sources file from the start, so that an edit made while starting is not lost. */
  #watchSourcesFile(): void {
    const path = this.#config.sourcesFile;
    if (path === null) return;
    this.#watch = watchSourcesFile(path, () => void this.reload("sources file changed"));
  }

  #warnAboutSourcesFile(loaded: { fileLines: number; unnamedLines: number }): void {
    const file = this.#config.sourcesFile;
    if (loaded.fileLines === 0) this.#log.warn("the sources file has no sources", { file });
    if (loaded.unnamedLines > 0) {
      this.#log.warn(
        "sources file lines without ID= are numbered by position: a line inserted above them " +
          "renames and restarts them; give each line an ID=",
        { file, lines_without_id: loaded.unnamedLines },
      );
    }
  }

  /**
   * The one reload action (SIGHUP, a change of the sources file, POST /-/reload): re-reads
   * the sources file and reopens the results file. When either fails nothing changes.
   * Reloads run one at a time.
   */
  reload(trigger: string): Promise<ReloadOutcome> {
    this.#reloading = this.#reloading.then(() => this.#reloadOnce(trigger));
    return this.#reloading;
  }

  async #reloadOnce(trigger: string): Promise<ReloadOutcome> {
    const config = this.#config;
    const pipeline = this.#pipeline;
    if (this.#stop.reason !== null) {
      return { ok: false, message: "stopping: nothing reloaded", status: 503 };
    }
    if (pipeline === null) {
      this.#pendingReload = trigger;
      this.#log.info("reload asked for while starting: it runs once the streams have started", {
        trigger,
      });
      return {
        ok: true,
        message: "starting: the reload runs once the streams have started",
        status: 202,
      };
    }
    this.#pendingReload = null;
    const done: string[] = [];
    const failed: string[] = [];
    // The results file is reopened whatever the sources file holds: after a rotation by rename
    // the lines must go to the new file even while a sources file has a typo.
    if (this.#jsonl !== null && this.#jsonl.path !== "-") {
      try {
        await this.#jsonl.reopen();
        done.push("results file reopened");
      } catch (err) {
        failed.push((err as Error).message);
      }
    }
    if (config.sourcesFile !== null) {
      let specs: SourceSpec[] | null = null;
      try {
        this.#watch?.markSeen();
        const loaded = await loadSources(config.sourcesFile, config.sourceArgs);
        this.#warnAboutSourcesFile(loaded);
        await checkSourceTools(loaded.specs, config);
        await this.#chooseDecoders(loaded.specs);
        specs = loaded.specs;
      } catch (err) {
        failed.push(
          err instanceof SourcesFileError
            ? `${err.problems.join("; ")} (the running streams are kept)`
            : (err as Error).message,
        );
      }
      if (specs !== null) {
        const changes = await pipeline.streams.apply(specs);
        for (const [change, ids] of Object.entries(changes)) {
          if (change === "unchanged") continue;
          for (const id of ids) {
            this.#log.info(`stream ${change}`, { stream_id: id, trigger });
            // A removed or restarted stream's picture and poses leave the live view at once.
            if (change !== "added") this.#liveView?.forget(id);
          }
        }
        done.unshift(
          `${changes.added.length} added, ${changes.removed.length} removed, ` +
            `${changes.restarted.length} restarted, ${changes.unchanged.length} unchanged`,
        );
      }
    }
    const summary = done.length > 0 ? done.join("; ") : "nothing to reload";
    this.#metrics.recordReload(failed.length === 0);
    if (failed.length > 0) {
      this.#log.error("reload failed", { trigger, error: failed.join("; "), done: summary });
      return { ok: false, message: `reload failed: ${failed.join("; ")}; done: ${summary}` };
    }
    this.#log.info("reloaded", { trigger, changes: summary });
    return { ok: true, message: `reloaded: ${summary}` };
  }

  /** A second signal: end every child now and exit. */
  async #forceStop(): Promise<never> {
    const stops = [
      ...(this.#pipeline?.streams.streams.map((s) => s.source.stop()) ?? []),
      this.#gpu.stop(),
    ];
    await Promise.race([Promise.allSettled(stops), deadlineAfter(1000).reached]);
    const lost = (this.#jsonl?.lost ?? 0) + (this.#jsonl?.pending ?? 0);
    this.#log.info("stopped", {
      frames: this.#framesWritten(),
      forced: true,
      results_lost: this.#jsonl ? lost : undefined,
    });
    Deno.exit(lost > 0 ? EXIT.failure : EXIT.ok);
  }

  #framesWritten(): number {
    return this.#jsonl?.written ?? this.#pipeline?.processor.processed ?? 0;
  }

  /**
   * The one stop path, for every exit: sources stop, the batches in flight finish, results
   * flush; what has not finished by --stop-timeout-s is abandoned, said in one line and counted.
   *
   * @returns the number of result lines lost
   */
  async #shutdown(reason: string): Promise<number> {
    const config = this.#config;
    this.#log.info("stopping", { reason });
    const deadline = deadlineAfter(config.stopTimeoutSeconds * 1000);
    const abandoned: string[] = [];
    // Past the deadline each remaining step still gets a moment, so one stuck step does not
    // make every later one count as abandoned.
    const cutOff = deadline.reached.then(() => new Promise((r) => setTimeout(r, 250)));
    const inTime = async (what: string, work: Promise<unknown>) => {
      const done = await Promise.race([work.then(() => true), cutOff.then(() => false)]);
      if (!done) abandoned.push(what);
    };
    this.#watch?.stop();
    this.#display?.stop();
    const pipeline = this.#pipeline;
    if (pipeline !== null) {
      const stuck = await pipeline.streams.stopAll(deadline.reached);
      if (stuck.length > 0) abandoned.push(`sources ${stuck.join(",")}`);
      pipeline.stopIntake();
      await inTime("batches in flight", this.#loop ?? Promise.resolve());
    }
    await inTime("GPU reader", this.#gpu.stop());
    if (this.#jsonl) {
      await this.#jsonl.close(deadline.reached);
      if (this.#jsonl.abandoned > 0) {
        abandoned.push(`${this.#jsonl.abandoned} result lines not yet written`);
      }
    }
    await this.#liveView?.close();
    if (this.#server) await inTime("HTTP server", this.#server.shutdown());
    if (this.#runner) await inTime("inference session", this.#runner.release().catch(() => {}));
    deadline.cancel();
    if (this.#options.releaseSignals ?? true) this.#stop.dispose();
    if (abandoned.length > 0) {
      this.#log.warn("stop deadline reached: abandoned what had not finished", {
        stop_timeout_s: config.stopTimeoutSeconds,
        abandoned: abandoned.join("; "),
      });
    }
    const lost = this.#jsonl?.lost ?? 0;
    if (lost > 0) {
      this.#log.error(`results lost: ${lost} lines could not be written`, {
        file: this.#jsonl!.path,
      });
    }
    this.#log.info("stopped", {
      frames: this.#framesWritten(),
      results_lost: this.#jsonl ? lost : undefined,
    });
    return lost;
  }
}

/**
 * Runs the exporter until a signal, the `--duration`, or `options.signal`.
 *
 * @returns the process exit code: 0 after a clean stop, 1 when it cannot start or lost results,
 *   2 for a bad sources file at start
 */
export async function runApp(config: Config, options: RunAppOptions): Promise<number> {
  return await new Exporter(config, options).run();
}
