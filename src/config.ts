// Command-line flags and environment variables resolved into one typed, validated Config.
//
// Every flag is one entry of FLAGS: its name, value kind, default, range or choices and help. Its
// environment variable is derived from the name (POSE_EXPORTER_<NAME>). The parsing and the --help
// layout are src/cli/'s, shared with every subcommand.

import { FlagError, type FlagSpec, FlagValues, HELP_FLAG } from "./cli/flags.ts";
import { renderUsage } from "./cli/usage.ts";
import { editDistance } from "./cli/edit_distance.ts";
import type { LogFormat, LogLevel } from "./log.ts";
import { DECODE_CHOICES } from "./sources/decode.ts";
import { PROVIDER_CHOICES } from "./pose/provider.ts";
import type { SourcesConfig } from "./sources/sources_config.ts";
import type { ModelConfig } from "./pose/session.ts";
import { parseInputSize } from "./pose/input_size.ts";
import type { GpuConfig } from "./gpu/gpu_supervisor.ts";
import { MQTT_FLAGS, type MqttConfig, resolveMqttConfig } from "./mqtt/mqtt_config.ts";
import type { TrackingConfig } from "./pipeline/track_stage.ts";
import {
  quoteSource,
  resolveSourceArgs,
  type SourceArg,
  type SourceSpec,
} from "./sources/source_uri.ts";

export type { SourceSpec };
export type { FlagKind, FlagSpec } from "./cli/flags.ts";

export type { DecodeChoice } from "./sources/decode.ts";
export type { ProviderChoice } from "./pose/provider.ts";
export type { SourcesConfig } from "./sources/sources_config.ts";
export type { ModelConfig } from "./pose/session.ts";
export type { GpuConfig } from "./gpu/gpu_supervisor.ts";
export type { MqttConfig } from "./mqtt/mqtt_config.ts";
export type { TrackingConfig } from "./pipeline/track_stage.ts";

/** When to draw the live per-stream status block. */
export type StatusMode = "auto" | "on" | "off";

/** A listen address for the HTTP server. */
export interface ListenAddress {
  /** The host name or address to bind (IPv6 without brackets). */
  hostname: string;
  /** The TCP port; 0 lets the system choose. */
  port: number;
}

/** The data path: batching, results, and the windows of the per-stream figures. */
export interface PipelineConfig {
  /** A batch closes when its oldest frame has waited this long. */
  batchTimeoutMs: number;
  /** Frames each stream may keep waiting before its oldest is dropped. */
  queueFrames: number;
  /** JSONL results path, "-" for stdout, or null for none. */
  resultsPath: string | null;
  /** Window of pose_fps. */
  fpsWindowMs: number;
  /** Window of the pose_latency_ms quantiles. */
  latencyWindowMs: number;
}

/** The HTTP endpoints. */
export interface WebConfig {
  listen: ListenAddress;
  /** `POST /-/reload` reloads the sources file and reopens the results file. */
  enableLifecycle: boolean;
  /** `GET /` shows every stream's latest frame with its poses. */
  liveView: boolean;
  /** Connections held at once; more are refused. */
  maxConnections: number;
  /** A request's head (and then its body) must arrive within this. */
  headerTimeoutMs: number;
  /** A connection with no byte either way for this long is closed. */
  idleTimeoutMs: number;
  /** TLS, basic auth and headers in the exporter toolkit's format; null: plain HTTP, no login. */
  webConfigFile: string | null;
  /** Host names browsers may use besides this machine's own (`*`: any). */
  allowedHosts: string[];
}

/** How the process runs, logs and stops. */
export interface RunConfig {
  /** Stop after this long, or run until a signal when null. */
  durationMs: number | null;
  /** A stop that takes longer than this abandons what is left. */
  stopTimeoutMs: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
  status: StatusMode;
  /** Interval of the status log lines when there is no live status. */
  statusIntervalMs: number;
}

/**
 * The fully resolved configuration, every field with its final value: one slice per area, each
 * handed to the part that owns it. Every duration is in milliseconds (the flags keep the units
 * their names say: `--stall-timeout-s 10` is `stallTimeoutMs: 10000`).
 */
export interface Config {
  sources: SourcesConfig;
  model: ModelConfig;
  pipeline: PipelineConfig;
  /** Person tracking (`--track*`). */
  tracking: TrackingConfig;
  gpu: GpuConfig;
  web: WebConfig;
  run: RunConfig;
  /** Results and track events to an MQTT broker (`--mqtt-*`). */
  mqtt: MqttConfig;
  help: boolean;
  version: boolean;
  /** What is not wrong enough to stop, to log once the logger is up (unknown variables). */
  warnings: string[];
}

/**
 * Thrown by {@linkcode parseConfig} when flags or environment variables are invalid; lists every
 * problem found (a {@linkcode FlagError}, as every command's bad flags are).
 */
export class ConfigError extends FlagError {
  /**
   * Collects the problems into one error, its message one problem a line.
   *
   * @param problems one message per bad flag or value
   */
  constructor(problems: string[]) {
    super(problems);
    this.name = "ConfigError";
  }
}

const SOURCE_KINDS = "a file, file://, rtsp(s)://, http(s)://, v4l2:/dev/videoN, " +
  "testsrc[:WxH][@FPS], or synthetic[:WxH][@FPS][?burst=Ns@FPS] (FPS 0 = as fast as taken)";

/** Every flag the exporter accepts; the source of parsing, --help and the environment. */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: "model",
    kind: "string",
    arg: "PATH",
    help: "ONNX pose model: an Ultralytics YOLO-pose export (YOLOv8/YOLO11/YOLO26; default, " +
      "dynamic, half, nms or end2end; any kpt_shape and classes) or an RTMO export; without it, " +
      "the built-in demo model",
  },
  {
    name: "input-size",
    kind: "string",
    arg: "N|WxH",
    help: "input size fed to a model whose height and width are dynamic (default: the imgsz " +
      "in its metadata, else 640; rounded up to its stride); a fixed-size model keeps its own",
  },
  {
    name: "source",
    kind: "list",
    arg: "[ID=]URI",
    help: `a video source, repeatable (comma-separated in the environment): ${SOURCE_KINDS}`,
  },
  {
    name: "sources-file",
    kind: "string",
    arg: "PATH",
    help: "a file of sources, one [ID=]URI per line (# comments); re-read when it changes, " +
      "on SIGHUP and on POST /-/reload",
  },
  {
    name: "streams",
    kind: "integer",
    arg: "N",
    default: "0",
    min: 0,
    max: 1024,
    help: "add N synthetic sources",
  },
  { name: "loop", kind: "boolean", help: "restart file sources at their end" },
  {
    name: "realtime",
    kind: "boolean",
    help: "play file sources at their own frame rate, like a camera (the default)",
  },
  { name: "no-realtime", kind: "boolean", help: "read file sources as fast as they are taken" },
  { name: "ffmpeg", kind: "string", arg: "PATH", default: "ffmpeg", help: "ffmpeg binary" },
  {
    name: "ffprobe",
    kind: "string",
    arg: "PATH",
    help: "ffprobe binary (default: ffprobe beside --ffmpeg)",
  },
  {
    name: "decode",
    kind: "choice",
    arg: "auto|cpu|nvdec",
    default: "auto",
    choices: DECODE_CHOICES,
    help: "where video is decoded: nvdec = the GPU's video engines (--device), " +
      "auto = NVDEC where this ffmpeg and the stream's codec allow it, else the CPU",
  },
  {
    name: "stall-timeout-s",
    kind: "number",
    arg: "SECONDS",
    default: "10",
    min: 0.5,
    max: 3600,
    help: "restart a stream that delivered no frame for this long",
  },
  {
    name: "retry-max-s",
    kind: "number",
    arg: "SECONDS",
    default: "30",
    min: 1,
    max: 3600,
    help: "longest wait between restarts of a failed stream (the wait doubles from 1 s, " +
      "each one jittered to 50-100% so streams do not retry in step)",
  },
  {
    name: "provider",
    kind: "choice",
    arg: "auto|cuda|cpu",
    default: "auto",
    choices: PROVIDER_CHOICES,
    help: "execution provider",
  },
  {
    name: "device",
    kind: "integer",
    arg: "N",
    default: "0",
    min: 0,
    max: 255,
    help: "GPU index as nvidia-smi prints it",
  },
  {
    name: "batch-size",
    kind: "integer",
    arg: "N",
    default: "8",
    min: 1,
    max: 256,
    help: "largest batch, across streams",
  },
  {
    name: "inference-threads",
    kind: "integer",
    arg: "N|auto",
    default: "auto",
    min: 0,
    max: 1024,
    help: "ONNX Runtime operator threads; auto = all cores but one, left to the event loop " +
      "(metrics, stream reads); 0 = ONNX Runtime's own choice",
  },
  {
    name: "batch-timeout-ms",
    kind: "number",
    arg: "MS",
    default: "20",
    min: 0,
    max: 60000,
    help: "close a batch when its oldest frame has waited this long",
  },
  {
    name: "batch-queue-frames",
    kind: "integer",
    arg: "N",
    default: "4",
    min: 1,
    max: 1024,
    help: "frames a stream may keep waiting; beyond that its oldest frame is dropped",
  },
  {
    name: "listen",
    kind: "string",
    arg: "HOST:PORT",
    default: "0.0.0.0:8000",
    help: "metrics address",
  },
  {
    name: "web-enable-lifecycle",
    kind: "boolean",
    help: "answer POST /-/reload (reload the sources file, reopen the results file)",
  },
  {
    name: "live-view",
    kind: "boolean",
    help: "serve a live view of every stream with its poses at / (shows camera pictures to " +
      "whoever reaches the port)",
  },
  {
    name: "web-max-connections",
    kind: "integer",
    arg: "N",
    default: "512",
    min: 1,
    max: 1000000,
    help: "HTTP connections held at once; more are answered 503 and closed at once",
  },
  {
    name: "web-header-timeout-s",
    kind: "number",
    arg: "SECONDS",
    default: "5",
    min: 0.1,
    max: 3600,
    help: "close a connection whose request headers (or body) take longer than this",
  },
  {
    name: "web-idle-timeout-s",
    kind: "number",
    arg: "SECONDS",
    default: "60",
    min: 0.1,
    max: 86400,
    help: "close a connection that moved no byte for this long",
  },
  {
    name: "web-config-file",
    kind: "string",
    arg: "PATH",
    help: "TLS, basic auth and headers for every endpoint, in the Prometheus exporter toolkit's " +
      "web-config.yml format (read again when it or its certificate changes); without it, " +
      "plain HTTP open to all",
  },
  {
    name: "web-allowed-hosts",
    kind: "list",
    arg: "HOST[,HOST]",
    help: "Host names a browser may use besides this machine's names and addresses, localhost " +
      "and host.docker.internal (others get 403: DNS rebinding); * allows any",
  },
  {
    name: "nvidia-smi",
    kind: "string",
    arg: "PATH",
    default: "nvidia-smi",
    help: "nvidia-smi binary for GPU memory readings",
  },
  {
    name: "gpu-poll-ms",
    kind: "integer",
    arg: "MS",
    default: "1000",
    min: 50,
    max: 3600000,
    help: "GPU memory poll interval",
  },
  {
    name: "gpu-poll-method",
    kind: "choice",
    arg: "loop|spawn",
    default: "loop",
    choices: ["loop", "spawn"],
    help: "one persistent nvidia-smi -lms process, or one process per poll",
  },
  {
    name: "gpu-timeout-ms",
    kind: "integer",
    arg: "MS",
    default: "5000",
    min: 100,
    max: 600000,
    help: "kill an nvidia-smi call that has not answered after this long",
  },
  {
    name: "solver",
    kind: "choice",
    arg: "on|off",
    default: "on",
    choices: ["on", "off"],
    help: "fragmentation solver: act (rebuild the session) or only observe",
  },
  {
    name: "frag-trigger",
    kind: "number",
    arg: "RATIO",
    default: "0.20",
    min: 0,
    max: 1,
    help: "fragmentation that counts towards an action",
  },
  {
    name: "frag-target",
    kind: "number",
    arg: "RATIO",
    default: "0.15",
    min: 0,
    max: 1,
    help: "an action leaving fragmentation above this is ineffective (cooldown doubles)",
  },
  {
    name: "frag-hysteresis",
    kind: "integer",
    arg: "POLLS",
    default: "3",
    min: 1,
    max: 1000,
    help: "polls in a row above the trigger before acting",
  },
  {
    name: "frag-cooldown",
    kind: "integer",
    arg: "POLLS",
    default: "10",
    min: 0,
    max: 100000,
    help: "polls to wait after an action",
  },
  {
    name: "frag-max-actions-per-hour",
    kind: "integer",
    arg: "N",
    default: "6",
    min: 0,
    max: 3600,
    help: "most solver actions per hour",
  },
  {
    name: "frag-window-s",
    kind: "number",
    arg: "SECONDS",
    default: "60",
    min: 1,
    max: 86400,
    help: "the working batch shape is the largest run in this window",
  },
  {
    name: "frag-margin-mib",
    kind: "number",
    arg: "MIB",
    default: "512",
    min: 0,
    max: 1048576,
    help: "free device memory needed beyond a new session's own before rebuilding",
  },
  {
    name: "results",
    kind: "string",
    arg: "PATH|-",
    help: "append one JSON line per processed frame (reopened on SIGHUP, for log rotation)",
  },
  {
    name: "duration",
    kind: "number",
    arg: "SECONDS",
    min: 0,
    max: 1e9,
    help: "stop cleanly after this many seconds",
  },
  {
    name: "stop-timeout-s",
    kind: "number",
    arg: "SECONDS",
    default: "10",
    min: 0.1,
    max: 3600,
    help: "longest a stop may take: what has not finished by then is abandoned and counted " +
      "(a second SIGINT/SIGTERM stops at once)",
  },
  {
    name: "score-threshold",
    kind: "number",
    arg: "P",
    default: "0.25",
    min: 0,
    max: 1,
    help: "minimum person score (Ultralytics' conf)",
  },
  {
    name: "iou-threshold",
    kind: "number",
    arg: "P",
    default: "0.7",
    min: 0,
    max: 1,
    help: "NMS IoU threshold, class-aware (Ultralytics' iou)",
  },
  {
    name: "max-detections",
    kind: "integer",
    arg: "N",
    default: "300",
    min: 1,
    max: 10000,
    help: "most persons kept per frame (Ultralytics' max_det)",
  },
  {
    name: "max-candidates",
    kind: "integer",
    arg: "N",
    default: "30000",
    min: 1,
    max: 1000000,
    help: "most above-threshold candidates passed to NMS per frame, highest scores first " +
      "(Ultralytics' max_nms)",
  },
  {
    name: "track",
    kind: "boolean",
    help: "give each person a track id per stream, ByteTrack (the default)",
  },
  { name: "no-track", kind: "boolean", help: "do not track persons (no track_id, no pose_track*)" },
  {
    name: "track-high",
    kind: "number",
    arg: "P",
    default: "0.25",
    min: 0,
    max: 1,
    help: "tracking: detections from this score are matched first (ByteTrack's track_high_thresh)",
  },
  {
    name: "track-low",
    kind: "number",
    arg: "P",
    default: "0.1",
    min: 0,
    max: 1,
    help: "tracking: lowest score handed to the tracker, matched second (track_low_thresh); " +
      "results still show only persons above --score-threshold",
  },
  {
    name: "track-new",
    kind: "number",
    arg: "P",
    default: "0.25",
    min: 0,
    max: 1,
    help: "tracking: lowest score of an unmatched detection that starts a track (new_track_thresh)",
  },
  {
    name: "track-match",
    kind: "number",
    arg: "COST",
    default: "0.8",
    min: 0,
    max: 1,
    help: "tracking: largest cost (1 - IoU x score) of a first match (match_thresh)",
  },
  {
    name: "track-buffer-s",
    kind: "number",
    arg: "SECONDS",
    default: "1",
    min: 0,
    max: 3600,
    help: "tracking: how long a lost person's track waits to be found again (track_buffer: 30 " +
      "frames at 30 fps)",
  },
  {
    name: "track-keypoint-weight",
    kind: "number",
    arg: "W",
    default: "0.4",
    min: 0,
    max: 1,
    help: "tracking: weight of the keypoint similarity (OKS) in the match cost of tracks seen " +
      "in the previous frame, 0 = boxes only (ByteTrack's)",
  },
  {
    name: "fps-window-s",
    kind: "integer",
    arg: "SECONDS",
    default: "5",
    min: 1,
    max: 3600,
    help: "sliding window of pose_fps",
  },
  {
    name: "latency-window-s",
    kind: "integer",
    arg: "SECONDS",
    default: "60",
    min: 1,
    max: 3600,
    help: "window of the pose_latency_ms quantiles",
  },
  {
    name: "log-format",
    kind: "choice",
    arg: "text|json",
    default: "text",
    choices: ["text", "json"],
    help: "log line format",
  },
  {
    name: "log-level",
    kind: "choice",
    arg: "debug|info|warn|error",
    default: "info",
    choices: ["info", "debug", "warn", "error"],
    help: "least severe level logged",
  },
  {
    name: "status",
    kind: "choice",
    arg: "auto|on|off",
    default: "auto",
    choices: ["auto", "on", "off"],
    help: "live status line per stream (auto: when stderr is a terminal and logs are text)",
  },
  {
    name: "status-interval-s",
    kind: "number",
    arg: "SECONDS",
    default: "10",
    min: 1,
    max: 3600,
    help: "interval of status log lines when there is no live status",
  },
  ...MQTT_FLAGS,
  HELP_FLAG,
  { name: "version", kind: "boolean", help: "print the version and exit" },
];

/** All cores but one (at least one): the event loop keeps a core for metrics and stream reads. */
export function defaultInferenceThreads(
  cores: number = navigator.hardwareConcurrency ?? 1,
): number {
  return Math.max(1, cores - 1);
}

/** Name of the environment variable that can set a flag: `--batch-size` -> POSE_EXPORTER_BATCH_SIZE. */
export function envNameOf(flag: string): string {
  return "POSE_EXPORTER_" + flag.toUpperCase().replaceAll("-", "_");
}

/**
 * The entry of {@linkcode FLAGS} for one flag, for a subcommand that takes the same flag.
 *
 * @param name the flag, without `--`
 * @returns its entry
 * @throws {TypeError} when the exporter has no such flag
 */
export function exporterFlag<Name extends string>(name: Name): FlagSpec<Name> {
  const spec = FLAGS.find((f) => f.name === name);
  if (spec === undefined) throw new TypeError(`The exporter has no flag --${name}`);
  return { ...spec, name };
}

/**
 * Renders the --help text from {@linkcode FLAGS}.
 *
 * @param subcommands names of the subcommands besides the exporter, listed under the usage line
 * @returns the text, without a final newline
 */
export function usage(subcommands: readonly string[] = []): string {
  return renderUsage({
    synopsis: [
      "pose-exporter [flags]",
      ...(subcommands.length > 0
        ? [`pose-exporter ${subcommands.join("|")} [flags]   (each has its own --help)`]
        : []),
    ],
    about: [
      "Runs multi-person pose estimation on video streams and serves Prometheus metrics.",
      "Every flag can also be set by an environment variable, e.g. --batch-size as " +
      "POSE_EXPORTER_BATCH_SIZE=16 and --loop as POSE_EXPORTER_LOOP=1; flags win.",
    ],
    flags: FLAGS,
    notes: [
      "Example:\n  pose-exporter --model yolo11n-pose.onnx --source cam1=rtsp://10.0.0.5/stream1 \\\n" +
      "    --source lobby=./lobby.mp4 --loop",
    ],
    column: 38,
  });
}

/** The exporter's table as it is parsed: each flag settable by its POSE_EXPORTER_* variable. */
const EXPORTER_FLAGS: readonly FlagSpec[] = FLAGS.map((f) => ({ ...f, env: envNameOf(f.name) }));

/** Parses `HOST:PORT` (IPv6 in brackets); throws a message naming the value when it is not one. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`${JSON.stringify(value)} is not HOST:PORT with a port in 0..65535`);
  }
  return { hostname: match[1] ?? match[2] ?? "", port };
}

function resolveSources(r: FlagValues): { sources: SourceSpec[]; sourceArgs: SourceArg[] } {
  const sourceArgs: SourceArg[] = r.list("source").map((text) => ({
    text,
    origin: `--source ${quoteSource(text)}`,
  }));
  const streams = r.required("streams");
  for (let i = 0; i < streams; i++) {
    sourceArgs.push({ text: "synthetic", origin: `--streams ${streams}` });
  }
  const { sources, problems } = resolveSourceArgs(sourceArgs);
  r.problems.push(...problems);
  return { sources, sourceArgs };
}

/** --web-allowed-hosts: names or addresses (repeated or comma-separated), or `*`. */
function resolveAllowedHosts(r: FlagValues): string[] {
  const hosts: string[] = [];
  for (const value of r.list("web-allowed-hosts")) {
    for (const host of value.split(",").map((h) => h.trim()).filter((h) => h !== "")) {
      // A name, an IPv4 address, or an IPv6 one (bracketed, or bare with at least two colons).
      const address =
        /^(\[[0-9A-Fa-f:.]+\]|[0-9A-Fa-f]*:[0-9A-Fa-f]*:[0-9A-Fa-f:.]*|[A-Za-z0-9_.-]+)$/;
      if (host === "*" || address.test(host)) {
        hosts.push(host.replace(/^\[|\]$/g, "").toLowerCase());
      } else {
        r.problems.push(
          `Invalid --web-allowed-hosts: ${JSON.stringify(host)} is not a host name or address ` +
            "(no scheme, port or path)",
        );
      }
    }
  }
  return hosts;
}

function resolveListen(r: FlagValues): ListenAddress {
  const { value, origin } = r.text("listen");
  try {
    return parseListenAddress(value ?? "");
  } catch (err) {
    r.problems.push(`Invalid ${origin}: ${(err as Error).message}`);
    return { hostname: "0.0.0.0", port: 8000 };
  }
}

/**
 * Names Kubernetes puts into every pod of a Service named `pose-exporter` (service links):
 * `POSE_EXPORTER_SERVICE_HOST`, `POSE_EXPORTER_SERVICE_PORT[_NAME]`, `POSE_EXPORTER_PORT[_…]`.
 */
const SERVICE_LINK = /^POSE_EXPORTER_(SERVICE_HOST|SERVICE_PORT(_\w+)?|PORT(_\w+)?)$/;

/**
 * The `POSE_EXPORTER_*` variables of `env` that set no flag, each with the closest flag's
 * variable when one is near (a typo); Kubernetes' service-link variables are not reported.
 */
export function unknownVariables(
  env: Record<string, string | undefined>,
): { name: string; closest: string | null }[] {
  const known = FLAGS.map((f) => envNameOf(f.name));
  return Object.keys(env)
    .filter((name) => name.startsWith("POSE_EXPORTER_") && !known.includes(name))
    .filter((name) => !SERVICE_LINK.test(name))
    .sort()
    .map((name) => {
      let closest: string | null = null;
      let best = Infinity;
      for (const candidate of known) {
        const d = editDistance(name, candidate);
        if (d < best) [best, closest] = [d, candidate];
      }
      // A typo is a letter or two; beyond that, any name is "closest" to something unrelated.
      const suffix = name.length - "POSE_EXPORTER_".length;
      return { name, closest: best <= Math.max(2, Math.floor(suffix / 4)) ? closest : null };
    });
}

/** The flags that tune the tracker: each is refused with --no-track. */
const TRACKING_SETTING_FLAGS = [
  "track-high",
  "track-low",
  "track-new",
  "track-match",
  "track-buffer-s",
  "track-keypoint-weight",
] as const;

/**
 * Resolves command-line arguments and environment variables into a {@linkcode Config}.
 *
 * A leading `--` (as `npm run x -- flags` habits leave) is ignored. Flags win over
 * `POSE_EXPORTER_*` environment variables, which win over defaults.
 *
 * @param args the arguments after the program name
 * @param env the environment, e.g. `Deno.env.toObject()`
 * @returns the validated configuration
 * @throws {ConfigError} naming every bad flag and value
 */
export function parseConfig(args: string[], env: Record<string, string | undefined> = {}): Config {
  const r = new FlagValues(EXPORTER_FLAGS, args, { env });
  const problems = r.problems;
  const help = r.bool("help");
  const version = r.bool("version");
  if (r.bool("realtime") && r.bool("no-realtime")) {
    problems.push("Flags --realtime and --no-realtime contradict each other: give one");
  }
  if (r.bool("track") && r.bool("no-track")) {
    problems.push("Flags --track and --no-track contradict each other: give one");
  }
  if (r.bool("no-track")) {
    // A tracking setting with tracking off is a mistake, refused like --mqtt-poses without
    // --mqtt-url.
    for (const flag of TRACKING_SETTING_FLAGS) {
      if (r.given(flag)) {
        problems.push(
          `Flags --no-track and ${r.text(flag).origin} contradict each other: give one`,
        );
      }
    }
  }
  // The thresholds are read here so that their cross-check runs only on values not refused.
  const problemsBeforeThresholds = problems.length;
  const trackHigh = r.required("track-high");
  const trackLow = r.required("track-low");
  const thresholdsRead = problems.length === problemsBeforeThresholds;
  const ffmpegPath = r.string("ffmpeg") ?? "ffmpeg";
  const deviceId = r.required("device");
  const ms = (name: string) => Math.round(r.required(name) * 1000);
  const duration = r.number("duration");
  const config: Config = {
    sources: {
      ...resolveSources(r),
      sourcesFile: r.string("sources-file"),
      loop: r.bool("loop"),
      realtime: !r.bool("no-realtime"),
      ffmpegPath,
      ffprobePath: r.string("ffprobe") ??
        (ffmpegPath.includes("/") ? ffmpegPath.replace(/[^/]*$/, "ffprobe") : "ffprobe"),
      decode: r.choice("decode"),
      deviceId,
      stallTimeoutMs: ms("stall-timeout-s"),
      retryMaxMs: ms("retry-max-s"),
    },
    model: {
      modelPath: r.string("model"),
      inputSize: parseInputSize(r.text("input-size").value, (why) => r.invalid("input-size", why)),
      provider: r.choice("provider"),
      deviceId,
      batchSize: r.required("batch-size"),
      inferenceThreads: r.text("inference-threads").value === "auto"
        ? defaultInferenceThreads()
        : r.required("inference-threads"),
      scoreThreshold: r.required("score-threshold"),
      iouThreshold: r.required("iou-threshold"),
      maxDetections: r.required("max-detections"),
      maxCandidates: r.required("max-candidates"),
    },
    tracking: {
      enabled: !r.bool("no-track"),
      highThreshold: trackHigh,
      lowThreshold: trackLow,
      newTrackThreshold: r.required("track-new"),
      matchThreshold: r.required("track-match"),
      lostTrackBufferMs: ms("track-buffer-s"),
      keypointWeight: r.required("track-keypoint-weight"),
    },
    pipeline: {
      batchTimeoutMs: r.required("batch-timeout-ms"),
      queueFrames: r.required("batch-queue-frames"),
      resultsPath: r.string("results"),
      fpsWindowMs: ms("fps-window-s"),
      latencyWindowMs: ms("latency-window-s"),
    },
    gpu: {
      nvidiaSmiPath: r.string("nvidia-smi") ?? "nvidia-smi",
      deviceId,
      pollMs: r.required("gpu-poll-ms"),
      pollMethod: r.choice("gpu-poll-method"),
      timeoutMs: r.required("gpu-timeout-ms"),
      solver: r.choice("solver"),
      fragTrigger: r.required("frag-trigger"),
      fragTarget: r.required("frag-target"),
      fragHysteresis: r.required("frag-hysteresis"),
      fragCooldown: r.required("frag-cooldown"),
      fragMaxActionsPerHour: r.required("frag-max-actions-per-hour"),
      fragWindowMs: ms("frag-window-s"),
      fragMarginMiB: r.required("frag-margin-mib"),
    },
    web: {
      listen: resolveListen(r),
      enableLifecycle: r.bool("web-enable-lifecycle"),
      liveView: r.bool("live-view"),
      maxConnections: r.required("web-max-connections"),
      headerTimeoutMs: ms("web-header-timeout-s"),
      idleTimeoutMs: ms("web-idle-timeout-s"),
      webConfigFile: r.string("web-config-file"),
      allowedHosts: resolveAllowedHosts(r),
    },
    run: {
      durationMs: duration === null ? null : Math.round(duration * 1000),
      stopTimeoutMs: ms("stop-timeout-s"),
      logFormat: r.choice("log-format"),
      logLevel: r.choice("log-level"),
      status: r.choice("status"),
      statusIntervalMs: ms("status-interval-s"),
    },
    mqtt: resolveMqttConfig(r),
    help,
    version,
    warnings: unknownVariables(env).map(({ name, closest }) =>
      `${name} is not a variable of any flag` +
      (closest === null ? "" : ` (did you mean ${closest}?)`)
    ),
  };
  if (thresholdsRead && config.tracking.lowThreshold > config.tracking.highThreshold) {
    problems.push(
      `Invalid --track-low: ${config.tracking.lowThreshold} is above --track-high ` +
        `${config.tracking.highThreshold}`,
    );
  }
  if (
    !help && !version && config.sources.sources.length === 0 &&
    config.sources.sourcesFile === null && problems.length === 0
  ) {
    problems.push("No sources: give --source [ID=]URI, --sources-file PATH or --streams N");
  }
  if (problems.length > 0 && !help && !version) throw new ConfigError(problems);
  return config;
}
