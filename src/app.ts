// Wires the parts together: small start phases and one stop path that every exit goes through,
// with a deadline. The streams live in the roster (src/streams/), reloads in reload_action.ts.

import type { Config } from "./config.ts";
import type { Logger } from "./log.ts";
import { VERSION } from "./version.ts";
import { PoseMetrics } from "./metrics/pose_metrics.ts";
import { createMetricsHandler } from "./metrics/server.ts";
import { HttpMetrics } from "./metrics/http_metrics.ts";
import { type HttpServer, startHttpServer } from "./http/http_server.ts";
import { WebConfigError } from "./http/web_config.ts";
import { WebMetrics } from "./http/web_metrics.ts";
import type { PreparedModel } from "./pose/model_prep.ts";
import { loadModel, type ModelSession, openSession } from "./pose/session.ts";
import { JsonlSink } from "./pipeline/jsonl_sink.ts";
import { Pipeline } from "./pipeline/pipeline.ts";
import { decodeThreshold, TrackStage } from "./pipeline/track_stage.ts";
import { TrackMetrics } from "./metrics/track_metrics.ts";
import { createSource } from "./sources/source_factory.ts";
import { PipeReaders } from "./sources/pipe_readers.ts";
import { SourcesFileError } from "./sources/sources_file.ts";
import { GpuSupervisor } from "./gpu/gpu_supervisor.ts";
import { StreamRoster } from "./streams/roster.ts";
import { assessReadiness, snapshotStreams } from "./streams/stream_snapshot.ts";
import { describeStreamsError, StreamSpecs } from "./streams/stream_specs.ts";
import { StatusDisplay } from "./terminal/status_display.ts";
import { LiveView } from "./web/live_view.ts";
import { MqttFileError, type MqttSecrets, readMqttSecrets } from "./mqtt/mqtt_config.ts";
import { MqttMetrics } from "./mqtt/mqtt_metrics.ts";
import { MqttPublisher, MqttStartError } from "./mqtt/mqtt_publisher.ts";
import { ReloadAction, type ReloadOutcome } from "./reload_action.ts";
import { deadlineAfter, StopControl } from "./stop_control.ts";
import { EXIT } from "./exit_codes.ts";
import { raiseOpenFilesLimit } from "./host/libc.ts";

export type { ReloadOutcome };

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

/**
 * Thrown by a start phase with what the user sees: one line, or one line per problem (a bad
 * sources file may have several); exit code 1 (2 for bad input).
 */
export class StartError extends Error {
  readonly exitCode: number;
  /** Each problem, a log line each. */
  readonly problems: readonly string[];

  constructor(
    problems: string | readonly string[],
    exitCode: number = EXIT.failure,
    options?: ErrorOptions,
  ) {
    const lines = typeof problems === "string" ? [problems] : problems;
    super(lines.join("; "), options);
    this.name = "StartError";
    this.exitCode = exitCode;
    this.problems = lines;
  }
}

/** A failure to read or prepare the streams at start: exit 2 for a bad sources file, else 1. */
function streamsStartError(err: unknown): StartError {
  if (err instanceof SourcesFileError) {
    return new StartError(err.problems, EXIT.usage, { cause: err });
  }
  return new StartError(describeStreamsError(err), EXIT.failure, { cause: err });
}

/** The file name of a path, for labels and logs that should not publish directories. */
function baseName(path: string): string {
  return path.slice(path.lastIndexOf("/") + 1);
}

/** What runs once the session is up: the data path, the streams and their display. */
interface Running {
  pipeline: Pipeline;
  roster: StreamRoster;
  display: StatusDisplay | null;
  /** The tracking stage; null with --no-track. */
  track: TrackStage | null;
}

/** The running exporter: its parts, started phase by phase, and its one stop path. */
class Exporter {
  #config: Config;
  #options: RunAppOptions;
  #stop: StopControl;
  #metrics: PoseMetrics;
  #gpu: GpuSupervisor;
  #reload: ReloadAction;
  #server: HttpServer | null = null;
  #session: ModelSession | null = null;
  #results: { jsonl: JsonlSink | null; liveView: LiveView | null } = {
    jsonl: null,
    liveView: null,
  };
  #running: Running | null = null;
  /** Results and track events to MQTT (--mqtt-url); a sink, a stream and a track listener. */
  #mqtt: MqttPublisher | null = null;

  constructor(config: Config, options: RunAppOptions) {
    this.#config = config;
    this.#options = options;
    // Signals are honoured from the first moment, start-up included.
    this.#stop = new StopControl({
      log: options.log,
      signal: options.signal,
      onReload: () => void this.#reload.request("SIGHUP"),
    });
    options.onSignalsInstalled?.();
    this.#metrics = new PoseMetrics([], {
      fpsWindowSeconds: config.pipeline.fpsWindowMs / 1000,
      latencyWindowSeconds: config.pipeline.latencyWindowMs / 1000,
    });
    this.#gpu = new GpuSupervisor(config.gpu, {
      registry: this.#metrics.registry,
      log: options.log,
    });
    this.#reload = new ReloadAction({
      specs: new StreamSpecs({ ...config.sources, log: options.log }),
      roster: () => this.#running?.roster ?? null,
      results: () => this.#results.jsonl,
      stopping: () => this.#stop.reason !== null,
      metrics: this.#metrics,
      log: options.log,
    });
  }

  /** Runs until a stop; returns the exit code. */
  async run(): Promise<number> {
    let code: number = EXIT.ok;
    try {
      await this.#start();
      if (this.#stop.reason === null) this.#afterStart();
      await this.#stop.requested;
    } catch (err) {
      code = err instanceof StartError ? err.exitCode : EXIT.failure;
      const lines = err instanceof StartError
        ? err.problems
        : [(err as Error).message ?? String(err)];
      for (const line of lines) this.#options.log.error(line);
    }
    const lost = await this.#shutdown(this.#stop.reason ?? "start-up failed");
    return lost > 0 && code === EXIT.ok ? EXIT.failure : code;
  }

  /** The start phases; each one gives way to a stop requested meanwhile. */
  async #start(): Promise<void> {
    const config = this.#config;
    const log = this.#options.log;
    if (Deno.env.get("CUDA_DEVICE_ORDER") === undefined) {
      Deno.env.set("CUDA_DEVICE_ORDER", "PCI_BUS_ID");
    }
    const fds = raiseOpenFilesLimit();
    if (fds !== null && fds.after > fds.before) {
      log.info("raised the open-files limit to its hard limit", {
        from: fds.before,
        to: fds.after,
      });
    }
    this.#reload.watch();
    const specs = this.#reload.specs;
    // Quick checks that can fail first, so a typo does not wait for a model to load or open a
    // port; a bad sources file and a bad MQTT file are both said, each problem on its line.
    const problems: string[] = [];
    const wanted = await specs.read({ quiet: true }).catch((err) => {
      if (!(err instanceof SourcesFileError)) throw streamsStartError(err);
      problems.push(...err.problems);
      return null;
    });
    const mqttSecrets = this.#readMqttSecrets(problems);
    if (problems.length > 0 || wanted === null) {
      throw new StartError(problems, EXIT.usage);
    }
    this.#startServer();
    let model: PreparedModel | null = null;
    const phases: [string, () => Promise<unknown>][] = [
      ["results file", () => this.#openResults()],
      ["MQTT broker", () => this.#startMqtt(mqttSecrets)],
      [
        "source tools",
        () => specs.checkTools(wanted).catch((e) => Promise.reject(streamsStartError(e))),
      ],
      ["GPU reader", () => this.#gpu.start()],
      ["model", async () => (model = await loadModel(config.model, log))],
      ["inference session", () => this.#startSession(model!)],
      ["streams", () => this.#startStreams()],
    ];
    for (const [name, phase] of phases) {
      if (this.#stop.reason !== null) return;
      log.debug("starting", { phase: name });
      await this.#stop.unlessStopped(phase());
    }
  }

  #startServer(): void {
    const config = this.#config.web;
    const log = this.#options.log;
    const address = `${config.listen.hostname}:${config.listen.port}`;
    const handler = createMetricsHandler(this.#metrics.registry, {
      log,
      readiness: () =>
        assessReadiness(this.#running === null ? null : this.#snapshot(), {
          frames: this.#running?.pipeline.processor.processed ?? 0,
          lastAt: this.#running?.pipeline.processor.lastDecodedAt ?? NaN,
        }),
      reload: config.enableLifecycle ? () => this.#reload.request("POST /-/reload") : undefined,
      routes: config.liveView
        ? (request) => this.#results.liveView?.handle(request) ?? Promise.resolve(null)
        : undefined,
    });
    try {
      this.#server = startHttpServer({
        ...config.listen,
        maxConnections: config.maxConnections,
        headerTimeoutMs: config.headerTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
        log,
        liveView: config.liveView,
        metrics: new HttpMetrics(this.#metrics.registry),
        webConfigFile: config.webConfigFile,
        allowedHosts: config.allowedHosts,
        webMetrics: new WebMetrics(this.#metrics.registry),
      }, handler);
    } catch (err) {
      if (err instanceof WebConfigError) {
        throw new StartError(err.message, EXIT.usage, { cause: err });
      }
      if (err instanceof Deno.errors.AddrInUse) {
        throw new StartError(
          `Cannot listen on ${address}: the address is already in use (choose another with --listen)`,
        );
      }
      throw new StartError(`Cannot listen on ${address}: ${(err as Error).message}`);
    }
    const open = [
      ...(config.liveView ? ["the live view (camera pictures)"] : []),
      ...(config.enableLifecycle ? ["POST /-/reload"] : []),
    ];
    const loopback = /^(127\.|localhost$|::1$|\[::1\]$)/.test(config.listen.hostname);
    if (open.length > 0 && !loopback && this.#server.web.users.size === 0) {
      log.warn(
        `${open.join(" and ")} can be reached from the network without a login: give ` +
          "--web-config-file with basic_auth_users (README, Security), or --listen on 127.0.0.1",
        { listen: address },
      );
    }
  }

  async #openResults(): Promise<void> {
    const path = this.#config.pipeline.resultsPath;
    if (path === null) return;
    this.#results.jsonl = await JsonlSink.open(path, {
      log: this.#options.log,
      onLost: (lines) => this.#metrics.resultsLost.inc(0, lines),
    });
  }

  /** The MQTT password and CA files' contents; a file that cannot be used adds a problem. */
  #readMqttSecrets(problems: string[]): MqttSecrets | null {
    const config = this.#config.mqtt;
    if (config.url === null) return null;
    try {
      return readMqttSecrets(config);
    } catch (err) {
      if (!(err instanceof MqttFileError)) throw err;
      problems.push(err.message);
      return null;
    }
  }

  /** Connects to the MQTT broker (--mqtt-url); one that cannot be reached is retried meanwhile. */
  async #startMqtt(secrets: MqttSecrets | null): Promise<void> {
    const config = this.#config.mqtt;
    if (config.url === null || secrets === null) return;
    try {
      this.#mqtt = await MqttPublisher.start({
        config,
        secrets,
        metrics: new MqttMetrics(this.#metrics),
        log: this.#options.log,
        streams: () => this.#snapshot(),
      });
    } catch (err) {
      if (err instanceof MqttStartError) {
        throw new StartError(err.message, EXIT.failure, { cause: err });
      }
      throw err;
    }
  }

  /** Starts the model's session, which the GPU solver may rebuild. */
  async #startSession(model: PreparedModel): Promise<void> {
    const config = this.#config.model;
    const gpu = this.#gpu;
    // With tracking on the decoder keeps persons down to --track-low; the tracking stage drops
    // those under --score-threshold once tracked.
    const scoreThreshold = decodeThreshold(config.scoreThreshold, this.#config.tracking);
    const session = await openSession(model, { ...config, scoreThreshold }, {
      log: this.#options.log,
      onWarm: (shape) => gpu.onWarm(shape),
    });
    this.#session = session;
    gpu.attach(session.runner, session.rebuild);
    this.#metrics.setBatchShapes(session.runner.shapes);
    this.#metrics.setInfo({
      version: VERSION,
      provider: session.runner.provider,
      model: config.modelPath === null ? "demo" : baseName(config.modelPath),
    });
  }

  /** Wires the data path and the roster, then brings the streams up the way a reload does. */
  async #startStreams(): Promise<void> {
    const config = this.#config;
    const log = this.#options.log;
    const { model, runner } = this.#session!;
    const liveView = config.web.liveView
      ? new LiveView({
        streams: () => this.#snapshot(),
        indexOf: (id) => this.#running?.roster.get(id)?.index,
        modelWidth: model.width,
        modelHeight: model.height,
        scoreThreshold: config.model.scoreThreshold,
      })
      : null;
    this.#results.liveView = liveView;
    let track: TrackStage | null = null;
    if (config.tracking.enabled) {
      const trackMetrics = new TrackMetrics();
      for (const family of trackMetrics.families) this.#metrics.register(family);
      track = new TrackStage({
        tracking: config.tracking,
        scoreThreshold: config.model.scoreThreshold,
        metrics: trackMetrics,
        log,
      });
      log.info("tracking persons", { run_id: track.runId });
      if (this.#mqtt) track.addListener(this.#mqtt);
    }
    let roster: StreamRoster | null = null;
    // ffmpeg's frames are read in reader threads into fixed slots per stream (a full queue and
    // two full batches in flight), off the event loop, where FFI to the C library works; they
    // wait in the readers' rings until the batcher collects them.
    const readers = PipeReaders.available() ? new PipeReaders() : undefined;
    const pipeline = new Pipeline({
      runner,
      metrics: this.#metrics,
      log,
      batchTimeoutMs: config.pipeline.batchTimeoutMs,
      queueFrames: config.pipeline.queueFrames,
      streamId: (stream) => roster?.idOf(stream) ?? "",
      sinks: [this.#results.jsonl, liveView, this.#mqtt].filter((s) => s !== null),
      tap: liveView ?? undefined,
      onBatchShape: (shape) => this.#gpu.recordShape(shape),
      track: track ?? undefined,
      feed: readers,
    });
    const sourceOptions = {
      ...config.sources,
      width: model.width,
      height: model.height,
      readers,
      frameSlots: 3 * config.pipeline.queueFrames + 2,
    };
    roster = new StreamRoster({
      sink: pipeline.intake,
      metrics: this.#metrics,
      log,
      createSource: (stream) => createSource(stream, sourceOptions),
      listeners: [
        this.#metrics,
        pipeline,
        ...(liveView ? [liveView] : []),
        ...(track ? [track] : []),
        ...(this.#mqtt ? [this.#mqtt] : []),
      ],
      specs: this.#reload.specs,
      model,
    });
    void pipeline.run();
    this.#running = { pipeline, roster, display: null, track };
    try {
      await roster.sync();
    } catch (err) {
      throw streamsStartError(err);
    }
    log.info("streams started", {
      streams: roster.streams.map((s) => s.id).join(","),
      batch_size: runner.shapes.at(-1)!,
    });
    this.#metrics.recordReload(true);
  }

  /** Every running stream's snapshot: what the live view, the status and /readyz show. */
  #snapshot() {
    const running = this.#running;
    if (running === null) return [];
    return snapshotStreams(
      running.roster.streams,
      this.#metrics,
      (s) => running.pipeline.batcher.depth(s),
    );
  }

  /** What runs once the streams are up: --duration, the status display, a pending reload. */
  #afterStart(): void {
    const config = this.#config.run;
    if (config.durationMs !== null) this.#stop.stopAfter(config.durationMs / 1000);
    const live = config.status === "on" ||
      (config.status === "auto" && config.logFormat === "text" &&
        (this.#options.terminal ?? Deno.stderr.isTerminal()));
    const display = new StatusDisplay(this.#metrics, this.#options.log, {
      live,
      intervalSeconds: config.statusIntervalMs / 1000,
      streams: () => this.#snapshot(),
    });
    this.#running!.display = display;
    display.start();
    this.#reload.started();
  }

  /**
   * The one stop path, for every exit: sources stop, the batches in flight finish, results
   * flush; what has not finished by --stop-timeout-s is abandoned, said in one line and counted.
   * A second signal forces the stop: what is left gets only a moment each.
   *
   * @returns the number of result lines lost
   */
  async #shutdown(reason: string): Promise<number> {
    const config = this.#config.run;
    const log = this.#options.log;
    // The live block stops first, with its last figures, so "stopping" prints below it, not
    // above a copy redrawn as if nothing stopped.
    this.#running?.display?.stop();
    log.info("stopping", { reason });
    const timeout = deadlineAfter(config.stopTimeoutMs);
    let forced = false;
    const force = this.#stop.forced.then(() => {
      forced = true;
    });
    const deadline: Promise<void> = Promise.race([timeout.reached, force]);
    const abandoned: string[] = [];
    // Past the deadline each remaining step still gets a moment, so one stuck step does not
    // make every later one count as abandoned.
    const cutOff = deadline.then(() => new Promise((r) => setTimeout(r, 250)));
    const inTime = async (what: string, work: Promise<unknown>) => {
      const done = await Promise.race([work.then(() => true), cutOff.then(() => false)]);
      if (!done) abandoned.push(what);
    };
    this.#reload.stop();
    const running = this.#running;
    if (running !== null) {
      // Children are ended before anything else, also when forced (a stalled ffmpeg is killed
      // within a second).
      const sourcesDeadline = Promise.race([
        timeout.reached,
        force.then(() => deadlineAfter(1000).reached),
      ]);
      const stuck = await running.roster.stopAll(sourcesDeadline);
      if (stuck.length > 0) abandoned.push(`sources ${stuck.join(",")}`);
      running.pipeline.stopIntake();
      // run() hands back the loop started above; it resolves once every batch is done.
      await inTime("batches in flight", running.pipeline.run());
      // Every track still open ends now; its event reaches the listeners.
      running.track?.stop();
    }
    await inTime("GPU reader", this.#gpu.stop());
    const { jsonl, liveView } = this.#results;
    if (jsonl) {
      await jsonl.close(deadline);
      if (jsonl.abandoned > 0) abandoned.push(`${jsonl.abandoned} result lines not yet written`);
    }
    await liveView?.close();
    await this.#mqtt?.close(deadline);
    if (this.#server) await inTime("HTTP server", this.#server.shutdown());
    const runner = this.#session?.runner;
    if (runner) await inTime("inference session", runner.release().catch(() => {}));
    timeout.cancel();
    if (this.#options.releaseSignals ?? true) this.#stop.dispose();
    if (abandoned.length > 0 && !forced) {
      log.warn("stop deadline reached: abandoned what had not finished", {
        stop_timeout_s: config.stopTimeoutMs / 1000,
        abandoned: abandoned.join("; "),
      });
    }
    const lost = jsonl?.lost ?? 0;
    if (lost > 0) {
      log.error(`results lost: ${lost} lines could not be written`, { file: jsonl!.path });
    }
    log.info("stopped", {
      frames: jsonl?.written ?? running?.pipeline.processor.processed ?? 0,
      forced: forced || undefined,
      results_lost: jsonl ? lost : undefined,
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
