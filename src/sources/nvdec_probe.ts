// Decides per stream whether video is decoded on NVDEC or the CPU: what this ffmpeg and GPU can do,
// and a one-frame test decode of each stream; ffmpeg's answers are parsed by pure functions.

import {
  cleanLine,
  cudaDeviceCheckArgs,
  decodeCheckArgs,
  FILTERS_ARGS,
  HWACCELS_ARGS,
} from "./ffmpeg_command.ts";
import { type FfmpegSourceSpec, redactSourceText, type SourceSpec } from "./source_uri.ts";
import type { DecodeChoice, Decoder } from "./decode.ts";

/** Where one stream is decoded, and why (logged as `decoder=` and `reason=`). */
export interface DecoderChoice {
  decoder: Decoder;
  reason: string;
}

/**
 * What keeps NVDEC from decoding a stream: the ffmpeg build (`hwaccel`, `filter`), the host
 * (`driver`, `device`, `libnvcuvid`), the stream (`codec`), or a test decode that failed in
 * another way (`decode`, with ffmpeg's words).
 */
export type NvdecMissing =
  | "hwaccel"
  | "filter"
  | "driver"
  | "device"
  | "libnvcuvid"
  | "codec"
  | "decode";

/** Why NVDEC cannot be used, in words for a log line. */
export interface NvdecFailure {
  missing: NvdecMissing;
  /** What is wrong, e.g. "libnvcuvid (the driver's video decode library) cannot be loaded". */
  what: string;
  /** The evidence, e.g. "ffmpeg: Cannot load libnvcuvid.so.1". */
  detail: string;
}

/** Thrown for `--decode nvdec` when a stream cannot be decoded on NVDEC; its message is one line. */
export class DecoderUnavailableError extends Error {
  /** The (first) stream that cannot be decoded on NVDEC. */
  readonly streamId: string;
  /** Every stream the failure applies to (all of them when the host or ffmpeg lacks something). */
  readonly streams: readonly string[];
  /** What is missing. */
  readonly missing: NvdecMissing;
  /** ffmpeg's evidence. */
  readonly detail: string;

  constructor(streams: readonly string[], failure: NvdecFailure, options?: ErrorOptions) {
    const names = streams.map((s) => JSON.stringify(s)).join(", ");
    super(
      `Cannot decode ${
        streams.length === 1 ? "stream" : "streams"
      } ${names} with --decode nvdec: ` +
        `${failure.what} (${failure.detail})`,
      options,
    );
    this.name = "DecoderUnavailableError";
    this.streamId = streams[0] ?? "";
    this.streams = [...streams];
    this.missing = failure.missing;
    this.detail = failure.detail;
  }
}

/**
 * Reads `ffmpeg -hwaccels`: the names listed under "Hardware acceleration methods:".
 *
 * @example
 * ```ts
 * parseHwaccels("Hardware acceleration methods:\nvdpau\ncuda\n"); // ["vdpau", "cuda"]
 * ```
 */
export function parseHwaccels(text: string): string[] {
  const lines = text.split(/\r?\n/).map((l) => l.trim());
  const start = lines.findIndex((l) => /^Hardware acceleration methods:?$/i.test(l));
  return lines.slice(start + 1).filter((l) => /^[a-z0-9_]+$/i.test(l));
}

/**
 * Reads `ffmpeg -filters`: the names of the listed filters (lines such as
 * ` ... scale_cuda        V->V       GPU accelerated video resizer`).
 */
export function parseFilterNames(text: string): Set<string> {
  const names = new Set<string>();
  for (const match of text.matchAll(/^\s*[A-Z.|]{2,4}\s+([A-Za-z0-9_]+)\s+\S*->\S*/gm)) {
    names.add(match[1]!);
  }
  return names;
}

/** ffmpeg's messages that say what keeps NVDEC from working, most specific first. */
const FAILURE_PATTERNS: readonly {
  pattern: RegExp;
  missing: NvdecMissing;
  what: (deviceId: number) => string;
}[] = [
  {
    pattern: /Cannot load libnvcuvid/i,
    missing: "libnvcuvid",
    what: () =>
      "libnvcuvid (the NVIDIA driver's video decode library) cannot be loaded; " +
      "in a container, add video to NVIDIA_DRIVER_CAPABILITIES",
  },
  {
    pattern: /Cannot load libcuda|Could not dynamically load CUDA/i,
    missing: "driver",
    what: () => "the NVIDIA driver is missing (libcuda.so.1 cannot be loaded)",
  },
  {
    pattern: /CUDA_ERROR_NO_DEVICE|no CUDA-capable device/i,
    missing: "driver",
    what: () => "no CUDA-capable device is visible to the driver",
  },
  {
    pattern: /CUDA_ERROR_INVALID_DEVICE|invalid device ordinal/i,
    missing: "device",
    what: (deviceId) => `GPU ${deviceId} (--device) does not exist`,
  },
  {
    pattern:
      /CUDA_ERROR_(UNSUPPORTED_PTX_VERSION|NO_BINARY_FOR_GPU|INVALID_PTX|INVALID_IMAGE)|unsupported toolchain/i,
    missing: "driver",
    what: () => "the NVIDIA driver is too old for this ffmpeg's CUDA filters",
  },
  {
    pattern:
      /CUDA_ERROR_(INSUFFICIENT_DRIVER|SYSTEM_DRIVER_MISMATCH|COMPAT_NOT_SUPPORTED|NOT_INITIALIZED|OPERATING_SYSTEM)|cuInit\(0\) failed|driver version is insufficient/i,
    missing: "driver",
    what: () => "the NVIDIA driver cannot be used",
  },
  {
    pattern: /No such filter: 'scale_cuda'/i,
    missing: "filter",
    what: () => "this ffmpeg has no scale_cuda filter (it was built without CUDA filters)",
  },
  {
    pattern:
      /(Unrecognized|Unknown|Invalid) hwaccel|Failed to set value 'cuda' for option 'hwaccel'/i,
    missing: "hwaccel",
    what: () => "this ffmpeg has no cuda hwaccel",
  },
  {
    pattern:
      /Codec not supported|hardware does not support|Hardware is lacking required capabilities|Unsupported (codec|chroma format|bit depth)|not within range|No NVDEC capable/i,
    missing: "codec",
    what: () => "NVDEC does not support this stream's codec or format",
  },
  {
    pattern:
      /Failed setup for format cuda|hwaccel initiali[sz]ation returned error|Impossible to convert between the formats|device type cuda needed/i,
    missing: "codec",
    what: () => "NVDEC cannot decode this stream's codec",
  },
];

/** The last non-empty stderr line, cleaned, or a fallback. */
function lastLine(stderr: string, fallback: string): string {
  const lines = stderr.split(/\r?\n/).map(cleanLine).filter((l) => l !== "");
  return lines.at(-1) ?? fallback;
}

/**
 * Maps ffmpeg's stderr from a CUDA/NVDEC attempt to what is missing, or null when it names no
 * known NVDEC problem (a source that cannot be opened, for instance).
 *
 * @param stderr everything ffmpeg wrote to stderr
 * @param deviceId the GPU asked for, for the message
 * @example
 * ```ts
 * classifyNvdecFailure("[h264 @ 0x1] Cannot load libnvcuvid.so.1\n", 0)?.missing; // "libnvcuvid"
 * ```
 */
export function classifyNvdecFailure(stderr: string, deviceId: number): NvdecFailure | null {
  const lines = stderr.split(/\r?\n/).map(cleanLine).filter((l) => l !== "");
  for (const { pattern, missing, what } of FAILURE_PATTERNS) {
    const line = lines.find((l) => pattern.test(l));
    if (line !== undefined) return { missing, what: what(deviceId), detail: `ffmpeg: ${line}` };
  }
  return null;
}

/** Options of {@linkcode DecoderChooser} and {@linkcode chooseDecoders}. */
export interface DecoderChooserOptions {
  ffmpegPath: string;
  /** The `--decode` choice. */
  decode: DecodeChoice;
  /** The GPU that NVDEC decodes on (`--device`, a CUDA ordinal in PCI bus order). */
  deviceId: number;
  /** Model input size (the test frame is scaled to it). */
  width: number;
  height: number;
  /** Longest time one ffmpeg test may take. @default {15000} */
  checkTimeoutMs?: number;
  /** Streams tested at the same time. @default {4} */
  concurrency?: number;
}

interface FfmpegRun {
  ok: boolean;
  output: string;
  stderr: string;
  timedOut: boolean;
}

/** Runs ffmpeg to completion with a time limit; never throws (a spawn failure is a failed run). */
async function runFfmpeg(path: string, args: readonly string[], timeoutMs: number) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const out = await new Deno.Command(path, {
      args: [...args],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: controller.signal,
    }).output();
    const decoder = new TextDecoder();
    const stdout = decoder.decode(out.stdout);
    const stderr = decoder.decode(out.stderr);
    const timedOut = controller.signal.aborted;
    return {
      ok: out.success && !timedOut,
      output: stdout + "\n" + stderr,
      stderr: timedOut ? `${stderr}\ntimed out after ${timeoutMs / 1000} s` : stderr,
      timedOut,
    } satisfies FfmpegRun;
  } catch (err) {
    const stderr = `cannot run ${path}: ${(err as Error).message}`;
    return { ok: false, output: stderr, stderr, timedOut: false } satisfies FfmpegRun;
  } finally {
    clearTimeout(timer);
  }
}

/** A stream's own test: NVDEC decoded a frame, NVDEC failed, or the source could not be read. */
type StreamCheck =
  | { kind: "verified" }
  | { kind: "failed"; failure: NvdecFailure }
  | { kind: "unreadable"; detail: string };

/** Whether a stream has a bitstream to decode (generated test patterns do not). */
function hasBitstream(spec: SourceSpec): spec is FfmpegSourceSpec {
  return spec.kind === "ffmpeg" && spec.input !== "testsrc";
}

/**
 * Chooses each stream's decoder for `--decode`. What this ffmpeg and the GPU can do (the `cuda`
 * hwaccel, the `scale_cuda` filter, the driver and device) is checked once, on first use, and
 * kept; each stream is then test-decoded for one frame on NVDEC, so one odd codec falls back
 * alone. Keep one chooser for the exporter's life and call {@linkcode DecoderChooser.choose}
 * (or `chooseAll` again, after a reload) for streams added at run time: an input already tested
 * is not tested again, unless it could not be read.
 *
 * @example
 * ```ts
 * import { parseSourceUri } from "./source_uri.ts";
 *
 * const chooser = new DecoderChooser({
 *   ffmpegPath: "ffmpeg",
 *   decode: "auto",
 *   deviceId: 0,
 *   width: 640,
 *   height: 640,
 * });
 * // Map: stream id -> { decoder, reason }
 * const decoders = await chooser.chooseAll([parseSourceUri("cam1", "rtsp://10.0.0.2/live")]);
 * // A stream added at run time:
 * const late = await chooser.choose(parseSourceUri("cam2", "/videos/cam2.mp4"));
 * ```
 */
export class DecoderChooser {
  #options: DecoderChooserOptions;
  #host: Promise<NvdecFailure | null> | null = null;
  /** Test results by input (a source that could not be read is tested again next time). */
  #streamChecks = new Map<string, Promise<StreamCheck>>();

  constructor(options: DecoderChooserOptions) {
    this.#options = options;
  }

  /**
   * Chooses the decoder of one stream.
   *
   * @throws {DecoderUnavailableError} for `--decode nvdec` when the stream cannot be decoded on NVDEC
   */
  async choose(spec: SourceSpec): Promise<DecoderChoice> {
    const early = this.#withoutTest(spec);
    if (early) return early;
    const host = await this.#hostCheck();
    if (host) return this.#decide(spec.id, { kind: "failed", failure: host });
    return this.#decide(spec.id, await this.#streamCheckOnce(spec as FfmpegSourceSpec));
  }

  /**
   * Chooses the decoder of every stream, testing a few streams at a time.
   *
   * @returns each stream id with its decoder and the reason
   * @throws {DecoderUnavailableError} for `--decode nvdec` when a stream cannot be decoded on
   *   NVDEC, naming every stream when ffmpeg or the host lacks something, else the first stream
   */
  async chooseAll(specs: readonly SourceSpec[]): Promise<Map<string, DecoderChoice>> {
    const choices = new Map<string, DecoderChoice>();
    const tested: FfmpegSourceSpec[] = [];
    for (const spec of specs) {
      const early = this.#withoutTest(spec);
      if (early) choices.set(spec.id, early);
      else tested.push(spec as FfmpegSourceSpec);
    }
    if (tested.length === 0) return choices;
    const host = await this.#hostCheck();
    if (host && this.#options.decode === "nvdec") {
      throw new DecoderUnavailableError(tested.map((s) => s.id), host);
    }
    const checks = new Map<string, StreamCheck>();
    if (host) {
      for (const spec of tested) checks.set(spec.id, { kind: "failed", failure: host });
    } else {
      const queue = [...tested];
      const worker = async () => {
        for (let spec = queue.shift(); spec; spec = queue.shift()) {
          checks.set(spec.id, await this.#streamCheckOnce(spec));
        }
      };
      const workers = Math.max(1, Math.min(this.#options.concurrency ?? 4, tested.length));
      await Promise.all(Array.from({ length: workers }, worker));
    }
    for (const spec of specs) {
      const check = checks.get(spec.id);
      if (check) choices.set(spec.id, this.#decide(spec.id, check));
    }
    return new Map(specs.map((s) => [s.id, choices.get(s.id)!]));
  }

  /** The choice for a stream that needs no test, or null. */
  #withoutTest(spec: SourceSpec): DecoderChoice | null {
    if (!hasBitstream(spec)) return { decoder: "cpu", reason: "generated source (no bitstream)" };
    if (this.#options.decode === "cpu") return { decoder: "cpu", reason: "--decode cpu" };
    return null;
  }

  #decide(id: string, check: StreamCheck): DecoderChoice {
    const o = this.#options;
    if (check.kind === "verified") {
      return { decoder: "nvdec", reason: `a test frame decoded on NVDEC (GPU ${o.deviceId})` };
    }
    if (check.kind === "unreadable") {
      return {
        decoder: "nvdec",
        reason: `NVDEC works on GPU ${o.deviceId}; the source could not be read at start to ` +
          `test its codec (${check.detail})` +
          (o.decode === "auto" ? "; the CPU takes over if NVDEC cannot decode it" : ""),
      };
    }
    if (o.decode === "nvdec") throw new DecoderUnavailableError([id], check.failure);
    return {
      decoder: "cpu",
      reason: `NVDEC unavailable: ${check.failure.what} (${check.failure.detail})`,
    };
  }

  #run(args: readonly string[]) {
    return runFfmpeg(this.#options.ffmpegPath, args, this.#options.checkTimeoutMs ?? 15_000);
  }

  /** The ffmpeg build, driver and device checks, run once. */
  #hostCheck(): Promise<NvdecFailure | null> {
    this.#host ??= this.#checkHost();
    return this.#host;
  }

  async #checkHost(): Promise<NvdecFailure | null> {
    const deviceId = this.#options.deviceId;
    const hwaccels = await this.#run(HWACCELS_ARGS);
    if (!hwaccels.ok) {
      return {
        missing: "hwaccel",
        what: "this ffmpeg's hwaccels cannot be listed",
        detail: `ffmpeg -hwaccels: ${lastLine(hwaccels.stderr, "failed")}`,
      };
    }
    const listed = parseHwaccels(hwaccels.output);
    if (!listed.includes("cuda")) {
      return {
        missing: "hwaccel",
        what: "this ffmpeg has no cuda hwaccel",
        detail: `ffmpeg -hwaccels lists ${listed.length > 0 ? listed.join(", ") : "none"}`,
      };
    }
    const filters = await this.#run(FILTERS_ARGS);
    if (!filters.ok || !parseFilterNames(filters.output).has("scale_cuda")) {
      return {
        missing: "filter",
        what: "this ffmpeg has no scale_cuda filter (it was built without CUDA filters)",
        detail: filters.ok
          ? "ffmpeg -filters does not list scale_cuda"
          : `ffmpeg -filters: ${lastLine(filters.stderr, "failed")}`,
      };
    }
    const device = await this.#run(cudaDeviceCheckArgs(deviceId));
    if (device.ok) return null;
    return classifyNvdecFailure(device.stderr, deviceId) ?? {
      missing: "decode",
      what: `a CUDA test on GPU ${deviceId} failed`,
      detail: `ffmpeg: ${lastLine(device.stderr, "failed")}`,
    };
  }

  /** The stream's test, run once per input while its result stands. */
  #streamCheckOnce(spec: FfmpegSourceSpec): Promise<StreamCheck> {
    const key = JSON.stringify([spec.inputArgs, spec.target]);
    let check = this.#streamChecks.get(key);
    if (!check) {
      check = this.#streamCheck(spec);
      this.#streamChecks.set(key, check);
      check.then((c) => {
        if (c.kind === "unreadable") this.#streamChecks.delete(key);
      });
    }
    return check;
  }

  async #streamCheck(spec: FfmpegSourceSpec): Promise<StreamCheck> {
    const o = this.#options;
    const size = { width: o.width, height: o.height };
    // ffmpeg quotes the URI, credentials included: what it says is shown with them replaced.
    const run = async (args: string[]) => {
      const ran = await this.#run(args);
      return {
        ...ran,
        output: redactSourceText(ran.output, spec.uri),
        stderr: redactSourceText(ran.stderr, spec.uri),
      };
    };
    const gpu = await run(
      decodeCheckArgs(spec, { decoder: "nvdec", deviceId: o.deviceId, ...size }),
    );
    if (gpu.ok) return { kind: "verified" };
    const failure = classifyNvdecFailure(gpu.stderr, o.deviceId);
    if (failure) return { kind: "failed", failure };
    // No known NVDEC message: the source itself may be unreadable now (a camera that is down).
    const cpu = await run(decodeCheckArgs(spec, { decoder: "cpu", ...size }));
    if (!cpu.ok) return { kind: "unreadable", detail: lastLine(cpu.stderr, "failed") };
    return {
      kind: "failed",
      failure: {
        missing: "decode",
        what: "ffmpeg decodes this stream on the CPU but not on NVDEC",
        detail: `ffmpeg: ${lastLine(gpu.stderr, "failed")}`,
      },
    };
  }
}

/**
 * Chooses each stream's decoder once, at start: a shortcut for
 * `new DecoderChooser(options).chooseAll(specs)`. Keep a {@linkcode DecoderChooser} instead
 * where streams are added later, so the host is checked only once.
 *
 * @returns each stream id with its decoder and the reason
 * @throws {DecoderUnavailableError} for `--decode nvdec` when a stream cannot be decoded on NVDEC
 */
export function chooseDecoders(
  specs: readonly SourceSpec[],
  options: DecoderChooserOptions,
): Promise<Map<string, DecoderChoice>> {
  return new DecoderChooser(options).chooseAll(specs);
}
