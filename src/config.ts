// Command-line flags and environment variables resolved into one typed, validated Config.

import { parseArgs } from "node:util";
import type { LogFormat, LogLevel } from "./log.ts";
import { parseSourceUri, type SourceSpec, splitSourceArg } from "./source_uri.ts";

export type { SourceSpec };

/** Which ONNX Runtime execution provider to use. */
export type ProviderChoice = "auto" | "cuda" | "cpu";

/** When to draw the live per-stream status block. */
export type StatusMode = "auto" | "on" | "off";

/** A listen address for the HTTP server. */
export interface ListenAddress {
  hostname: string;
  port: number;
}

/** The fully resolved configuration: every field has its final value. */
export interface Config {
  /** Path of the ONNX model, or null for the built-in demo model. */
  modelPath: string | null;
  sources: SourceSpec[];
  provider: ProviderChoice;
  /** GPU index as nvidia-smi prints it. */
  deviceId: number;
  batchSize: number;
  batchTimeoutMs: number;
  /** ONNX Runtime operator threads; 0 leaves the choice to ONNX Runtime (all cores). */
  inferenceThreads: number;
  /** File sources restart at their end. */
  loop: boolean;
  /** File sources play at their own frame rate, like a camera. */
  realtime: boolean;
  ffmpegPath: string;
  ffprobePath: string;
  /** A stream with no frame for this long is restarted. */
  stallTimeoutSeconds: number;
  /** Longest wait between restarts of a failed stream. */
  retryMaxSeconds: number;
  /** Frames each stream may keep waiting before its oldest is dropped. */
  queueFrames: number;
  listen: ListenAddress;
  nvidiaSmiPath: string;
  gpuPollMs: number;
  /** One nvidia-smi process per poll ("spawn") or a persistent -lms process ("loop"). */
  gpuPollMethod: "loop" | "spawn";
  /** An nvidia-smi call that has not answered after this long is killed. */
  gpuTimeoutMs: number;
  /** The fragmentation solver acts ("on") or only observes ("off"). */
  solver: "on" | "off";
  fragTrigger: number;
  fragTarget: number;
  fragHysteresis: number;
  fragCooldown: number;
  fragMaxActionsPerHour: number;
  /** Window of the working batch shape, seconds. */
  fragWindowSeconds: number;
  /** Free memory needed beyond a session's own to rebuild, MiB. */
  fragMarginMiB: number;
  /** JSONL results path, "-" for stdout, or null for none. */
  resultsPath: string | null;
  /** Stop after this many seconds, or run until a signal when null. */
  durationSeconds: number | null;
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  maxCandidates: number;
  fpsWindowSeconds: number;
  latencyWindowSeconds: number;
  logFormat: LogFormat;
  logLevel: LogLevel;
  status: StatusMode;
  statusIntervalSeconds: number;
  help: boolean;
  version: boolean;
}

/** Thrown when flags or environment variables are invalid; lists every problem found. */
export class ConfigError extends Error {
  /** One message per bad flag or value. */
  readonly problems: string[];

  constructor(problems: string[]) {
    super(problems.join("\n"));
    this.name = "ConfigError";
    this.problems = problems;
  }
}

interface FlagSpec {
  name: string;
  type: "string" | "boolean";
  multiple?: boolean;
  /** The value placeholder shown in --help. */
  arg?: string;
  default?: string;
  help: string;
}

/** Every flag the exporter accepts, with its default and help; the source of --help. */
export const FLAGS: readonly FlagSpec[] = [
  {
    name: "model",
    type: "string",
    arg: "PATH",
    help: "ONNX pose model (YOLOv8/YOLO11-pose layout); without it, the built-in demo model",
  },
  {
    name: "source",
    type: "string",
    multiple: true,
    arg: "[ID=]URI",
    help:
      "a video source, repeatable: a file, file://, rtsp(s)://, http(s)://, v4l2:/dev/videoN, " +
      "testsrc[:WxH][@FPS], or synthetic[:WxH][@FPS][?burst=Ns@FPS] (FPS 0 = as fast as taken)",
  },
  { name: "streams", type: "string", arg: "N", default: "0", help: "add N synthetic sources" },
  { name: "loop", type: "boolean", help: "restart file sources at their end" },
  {
    name: "realtime",
    type: "boolean",
    help: "play file sources at their own frame rate, like a camera (the default)",
  },
  { name: "no-realtime", type: "boolean", help: "read file sources as fast as they are taken" },
  { name: "ffmpeg", type: "string", arg: "PATH", default: "ffmpeg", help: "ffmpeg binary" },
  {
    name: "ffprobe",
    type: "string",
    arg: "PATH",
    help: "ffprobe binary (default: ffprobe beside --ffmpeg)",
  },
  {
    name: "stall-timeout-s",
    type: "string",
    arg: "SECONDS",
    default: "10",
    help: "restart a stream that delivered no frame for this long",
  },
  {
    name: "retry-max-s",
    type: "string",
    arg: "SECONDS",
    default: "30",
    help: "longest wait between restarts of a failed stream (backoff doubles from 1 s)",
  },
  {
    name: "provider",
    type: "string",
    arg: "auto|cuda|cpu",
    default: "auto",
    help: "execution provider",
  },
  {
    name: "device",
    type: "string",
    arg: "N",
    default: "0",
    help: "GPU index as nvidia-smi prints it",
  },
  {
    name: "batch-size",
    type: "string",
    arg: "N",
    default: "8",
    help: "largest batch, across streams",
  },
  {
    name: "inference-threads",
    type: "string",
    arg: "N|auto",
    default: "auto",
    help: "ONNX Runtime operator threads; auto = all cores but one, left to the event loop " +
      "(metrics, stream reads); 0 = ONNX Runtime's own choice",
  },
  {
    name: "batch-timeout-ms",
    type: "string",
    arg: "MS",
    default: "20",
    help: "close a batch when its oldest frame has waited this long",
  },
  {
    name: "batch-queue-frames",
    type: "string",
    arg: "N",
    default: "4",
    help: "frames a stream may keep waiting; beyond that its oldest frame is dropped",
  },
  {
    name: "listen",
    type: "string",
    arg: "HOST:PORT",
    default: "0.0.0.0:8000",
    help: "metrics address",
  },
  {
    name: "nvidia-smi",
    type: "string",
    arg: "PATH",
    default: "nvidia-smi",
    help: "nvidia-smi binary for GPU memory readings",
  },
  {
    name: "gpu-poll-ms",
    type: "string",
    arg: "MS",
    default: "1000",
    help: "GPU memory poll interval",
  },
  {
    name: "gpu-poll-method",
    type: "string",
    arg: "loop|spawn",
    default: "loop",
    help: "one persistent nvidia-smi -lms process, or one process per poll",
  },
  {
    name: "gpu-timeout-ms",
    type: "string",
    arg: "MS",
    default: "5000",
    help: "kill an nvidia-smi call that has not answered after this long",
  },
  {
    name: "solver",
    type: "string",
    arg: "on|off",
    default: "on",
    help: "fragmentation solver: act (rebuild the session) or only observe",
  },
  {
    name: "frag-trigger",
    type: "string",
    arg: "RATIO",
    default: "0.20",
    help: "fragmentation that counts towards an action",
  },
  {
    name: "frag-target",
    type: "string",
    arg: "RATIO",
    default: "0.15",
    help: "an action leaving fragmentation above this is ineffective (cooldown doubles)",
  },
  {
    name: "frag-hysteresis",
    type: "string",
    arg: "POLLS",
    default: "3",
    help: "polls in a row above the trigger before acting",
  },
  {
    name: "frag-cooldown",
    type: "string",
    arg: "POLLS",
    default: "10",
    help: "polls to wait after an action",
  },
  {
    name: "frag-max-actions-per-hour",
    type: "string",
    arg: "N",
    default: "6",
    help: "most solver actions per hour",
  },
  {
    name: "frag-window-s",
    type: "string",
    arg: "SECONDS",
    default: "60",
    help: "the working batch shape is the largest run in this window",
  },
  {
    name: "frag-margin-mib",
    type: "string",
    arg: "MIB",
    default: "512",
    help: "free device memory needed beyond a new session's own before rebuilding",
  },
  {
    name: "results",
    type: "string",
    arg: "PATH|-",
    help: "write one JSON line per processed frame",
  },
  {
    name: "duration",
    type: "string",
    arg: "SECONDS",
    help: "stop cleanly after this many seconds",
  },
  {
    name: "score-threshold",
    type: "string",
    arg: "P",
    default: "0.25",
    help: "minimum person score",
  },
  { name: "iou-threshold", type: "string", arg: "P", default: "0.45", help: "NMS IoU threshold" },
  {
    name: "max-detections",
    type: "string",
    arg: "N",
    default: "100",
    help: "most persons kept per frame",
  },
  {
    name: "max-candidates",
    type: "string",
    arg: "N",
    default: "1000",
    help: "most above-threshold anchors passed to NMS per frame (highest scores)",
  },
  {
    name: "fps-window-s",
    type: "string",
    arg: "SECONDS",
    default: "5",
    help: "sliding window of pose_fps",
  },
  {
    name: "latency-window-s",
    type: "string",
    arg: "SECONDS",
    default: "60",
    help: "window of the pose_latency_ms quantiles",
  },
  {
    name: "log-format",
    type: "string",
    arg: "text|json",
    default: "text",
    help: "log line format",
  },
  {
    name: "log-level",
    type: "string",
    arg: "debug|info|warn|error",
    default: "info",
    help: "least severe level logged",
  },
  {
    name: "status",
    type: "string",
    arg: "auto|on|off",
    default: "auto",
    help: "live status line per stream (auto: when stderr is a terminal and logs are text)",
  },
  {
    name: "status-interval-s",
    type: "string",
    arg: "SECONDS",
    default: "10",
    help: "interval of status log lines when there is no live status",
  },
  { name: "help", type: "boolean", help: "print this help and exit" },
  { name: "version", type: "boolean", help: "print the version and exit" },
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

/** Renders the --help text from {@linkcode FLAGS}. */
export function usage(): string {
  const lines = [
    "Usage: pose-exporter [flags]",
    "",
    "Runs multi-person pose estimation on video streams and serves Prometheus metrics.",
    "Every flag can also be set by an environment variable, e.g. --batch-size as POSE_EXPORTER_BATCH_SIZE.",
    "",
    "Flags:",
  ];
  for (const flag of FLAGS) {
    const left = `  --${flag.name}${flag.arg ? " " + flag.arg : ""}`;
    const def = flag.default !== undefined ? ` (default ${flag.default})` : "";
    lines.push(`${left.padEnd(38)} ${flag.help}${def}`);
  }
  lines.push(
    "",
    "Example: pose-exporter --model yolo11n-pose.onnx --source cam1=rtsp://10.0.0.5/stream1 --source lobby=./lobby.mp4 --loop",
  );
  return lines.join("\n");
}

type RawValue = string | boolean | string[];

function readRaw(args: string[], problems: string[]): Map<string, RawValue> {
  const specs = new Map(FLAGS.map((f) => [f.name, f]));
  const options: Record<string, { type: "string" | "boolean"; multiple?: boolean }> = {};
  for (const f of FLAGS) options[f.name] = { type: f.type, multiple: f.multiple ?? false };
  const { tokens } = parseArgs({
    args,
    options,
    strict: false,
    allowPositionals: true,
    tokens: true,
  });
  const raw = new Map<string, RawValue>();
  for (const token of tokens ?? []) {
    if (token.kind === "positional") {
      problems.push(`Unexpected argument: ${JSON.stringify(token.value)} (flags start with --)`);
      continue;
    }
    if (token.kind !== "option") continue;
    const spec = specs.get(token.name);
    if (!spec) {
      problems.push(`Unknown flag: ${token.rawName} (see --help)`);
      continue;
    }
    if (spec.type === "boolean") {
      if (token.value !== undefined) {
        problems.push(`Flag --${spec.name} takes no value: ${JSON.stringify(token.value)}`);
      }
      raw.set(spec.name, true);
      continue;
    }
    if (token.value === undefined) {
      problems.push(`Flag --${spec.name} needs a value: ${spec.arg ?? "VALUE"}`);
      continue;
    }
    if (spec.multiple) {
      const list = (raw.get(spec.name) as string[] | undefined) ?? [];
      list.push(token.value);
      raw.set(spec.name, list);
    } else {
      raw.set(spec.name, token.value);
    }
  }
  return raw;
}

interface NumberRule {
  min: number;
  max?: number;
  integer?: boolean;
}

class Resolver {
  readonly problems: string[];
  #raw: Map<string, RawValue>;
  #env: Record<string, string | undefined>;

  constructor(
    raw: Map<string, RawValue>,
    env: Record<string, string | undefined>,
    problems: string[],
  ) {
    this.#raw = raw;
    this.#env = env;
    this.problems = problems;
  }

  /** The flag's text and where it came from, for messages. */
  text(name: string): { value: string | undefined; origin: string } {
    const raw = this.#raw.get(name);
    if (typeof raw === "string") return { value: raw, origin: `--${name}` };
    const envValue = this.#env[envNameOf(name)];
    if (envValue !== undefined && envValue !== "") {
      return { value: envValue, origin: `${envNameOf(name)} (for --${name})` };
    }
    const spec = FLAGS.find((f) => f.name === name);
    return { value: spec?.default, origin: `--${name}` };
  }

  number(name: string, rule: NumberRule): number {
    const { value, origin } = this.text(name);
    const parsed = Number(value);
    const kind = rule.integer ? "an integer" : "a number";
    const range = rule.max !== undefined ? `${rule.min}..${rule.max}` : `>= ${rule.min}`;
    if (
      value === undefined || value.trim() === "" || !Number.isFinite(parsed) ||
      (rule.integer && !Number.isInteger(parsed)) || parsed < rule.min ||
      (rule.max !== undefined && parsed > rule.max)
    ) {
      this.problems.push(
        `Invalid ${origin}: ${JSON.stringify(value ?? "")} is not ${kind} in ${range}`,
      );
      return rule.min;
    }
    return parsed;
  }

  optionalNumber(name: string, rule: NumberRule): number | null {
    return this.text(name).value === undefined ? null : this.number(name, rule);
  }

  choice<T extends string>(name: string, choices: readonly T[]): T {
    const { value, origin } = this.text(name);
    if (value !== undefined && (choices as readonly string[]).includes(value)) return value as T;
    this.problems.push(
      `Invalid ${origin}: ${JSON.stringify(value ?? "")} is not one of ${choices.join(", ")}`,
    );
    return choices[0] as T;
  }

  bool(name: string): boolean {
    return this.#raw.get(name) === true;
  }

  list(name: string): string[] {
    const raw = this.#raw.get(name);
    if (Array.isArray(raw)) return raw;
    const envValue = this.#env[envNameOf(name)];
    return envValue ? envValue.split(",").map((s) => s.trim()).filter((s) => s !== "") : [];
  }
}

/** Parses `HOST:PORT` (IPv6 in brackets); throws a message naming the value when it is not one. */
export function parseListenAddress(value: string): ListenAddress {
  const match = /^(?:\[([0-9A-Fa-f:.]+)\]|([A-Za-z0-9.-]+)):(\d{1,5})$/.exec(value);
  const port = match ? Number(match[3]) : NaN;
  if (!match || port > 65535) {
    throw new Error(`${JSON.stringify(value)} is not HOST:PORT with a port in 0..65535`);
  }
  return { hostname: match[1] ?? match[2] ?? "", port };
}

function resolveSources(r: Resolver): SourceSpec[] {
  const args = r.list("source");
  const streams = r.number("streams", { min: 0, max: 1024, integer: true });
  for (let i = 0; i < streams; i++) args.push("synthetic");
  const sources: SourceSpec[] = [];
  const seen = new Set<string>();
  let unnamed = 0;
  for (const arg of args) {
    const split = splitSourceArg(arg);
    const id = split.id ?? `s${unnamed++}`;
    if (seen.has(id)) {
      r.problems.push(
        `Invalid --source ${JSON.stringify(arg)}: duplicate stream id ${JSON.stringify(id)}`,
      );
      continue;
    }
    seen.add(id);
    try {
      sources.push(parseSourceUri(id, split.uri));
    } catch (err) {
      r.problems.push(`Invalid --source ${JSON.stringify(arg)}: ${(err as Error).message}`);
    }
  }
  return sources;
}

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
  const problems: string[] = [];
  const raw = readRaw(args[0] === "--" ? args.slice(1) : args, problems);
  const r = new Resolver(raw, env, problems);
  const help = r.bool("help");
  const version = r.bool("version");
  const listenText = r.text("listen");
  let listen: ListenAddress = { hostname: "0.0.0.0", port: 8000 };
  try {
    listen = parseListenAddress(listenText.value ?? "");
  } catch (err) {
    problems.push(`Invalid ${listenText.origin}: ${(err as Error).message}`);
  }
  if (r.bool("realtime") && r.bool("no-realtime")) {
    problems.push("Flags --realtime and --no-realtime contradict each other: give one");
  }
  const ffmpegPath = r.text("ffmpeg").value ?? "ffmpeg";
  const config: Config = {
    modelPath: r.text("model").value ?? null,
    sources: resolveSources(r),
    provider: r.choice("provider", ["auto", "cuda", "cpu"] as const),
    deviceId: r.number("device", { min: 0, max: 255, integer: true }),
    batchSize: r.number("batch-size", { min: 1, max: 256, integer: true }),
    batchTimeoutMs: r.number("batch-timeout-ms", { min: 0, max: 60000 }),
    inferenceThreads: r.text("inference-threads").value === "auto"
      ? defaultInferenceThreads()
      : r.number("inference-threads", { min: 0, max: 1024, integer: true }),
    loop: r.bool("loop"),
    realtime: !r.bool("no-realtime"),
    ffmpegPath,
    ffprobePath: r.text("ffprobe").value ??
      (ffmpegPath.includes("/") ? ffmpegPath.replace(/[^/]*$/, "ffprobe") : "ffprobe"),
    stallTimeoutSeconds: r.number("stall-timeout-s", { min: 0.5, max: 3600 }),
    retryMaxSeconds: r.number("retry-max-s", { min: 1, max: 3600 }),
    queueFrames: r.number("batch-queue-frames", { min: 1, max: 1024, integer: true }),
    listen,
    nvidiaSmiPath: r.text("nvidia-smi").value ?? "nvidia-smi",
    gpuPollMs: r.number("gpu-poll-ms", { min: 50, max: 3600000, integer: true }),
    gpuPollMethod: r.choice("gpu-poll-method", ["loop", "spawn"] as const),
    gpuTimeoutMs: r.number("gpu-timeout-ms", { min: 100, max: 600000, integer: true }),
    solver: r.choice("solver", ["on", "off"] as const),
    fragTrigger: r.number("frag-trigger", { min: 0, max: 1 }),
    fragTarget: r.number("frag-target", { min: 0, max: 1 }),
    fragHysteresis: r.number("frag-hysteresis", { min: 1, max: 1000, integer: true }),
    fragCooldown: r.number("frag-cooldown", { min: 0, max: 100000, integer: true }),
    fragMaxActionsPerHour: r.number("frag-max-actions-per-hour", {
      min: 0,
      max: 3600,
      integer: true,
    }),
    fragWindowSeconds: r.number("frag-window-s", { min: 1, max: 86400 }),
    fragMarginMiB: r.number("frag-margin-mib", { min: 0, max: 1048576 }),
    resultsPath: r.text("results").value ?? null,
    durationSeconds: r.optionalNumber("duration", { min: 0 }),
    scoreThreshold: r.number("score-threshold", { min: 0, max: 1 }),
    iouThreshold: r.number("iou-threshold", { min: 0, max: 1 }),
    maxDetections: r.number("max-detections", { min: 1, max: 10000, integer: true }),
    maxCandidates: r.number("max-candidates", { min: 1, max: 1000000, integer: true }),
    fpsWindowSeconds: r.number("fps-window-s", { min: 1, max: 3600, integer: true }),
    latencyWindowSeconds: r.number("latency-window-s", { min: 1, max: 3600, integer: true }),
    logFormat: r.choice("log-format", ["text", "json"] as const),
    logLevel: r.choice("log-level", ["info", "debug", "warn", "error"] as const),
    status: r.choice("status", ["auto", "on", "off"] as const),
    statusIntervalSeconds: r.number("status-interval-s", { min: 1, max: 3600 }),
    help,
    version,
  };
  if (config.modelPath === "") problems.push(`Invalid --model: the path is empty`);
  if (config.resultsPath === "") problems.push(`Invalid --results: the path is empty`);
  if (!help && !version && config.sources.length === 0 && problems.length === 0) {
    problems.push("No sources: give --source [ID=]URI or --streams N");
  }
  if (problems.length > 0 && !help && !version) throw new ConfigError(problems);
  return config;
}
