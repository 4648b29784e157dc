// Builds one stream's frame source, ffmpeg (CPU or NVDEC decoding) or synthetic, from its spec.

import type { FrameSource } from "./frame.ts";
import { type FfmpegSettings, FfmpegSource } from "./ffmpeg_source.ts";
import type { DecoderChoice } from "./nvdec_probe.ts";
import type { DecodeChoice } from "./decode.ts";
import { SyntheticSource } from "./synthetic_source.ts";
import { SceneSource } from "./scene_source.ts";
import type { SourceSpec } from "./source_uri.ts";
import type { StreamLifecycle } from "./stream_lifecycle.ts";

/** Thrown when a tool that a source needs (ffmpeg, ffprobe) cannot be run; names it and the streams. */
export class MissingToolError extends Error {
  /** The tool's flag name: ffmpeg or ffprobe. */
  readonly tool: string;
  /** The path that could not be run. */
  readonly path: string;
  /** The streams that need it. */
  readonly streams: readonly string[];

  constructor(tool: string, path: string, streams: string[], options?: ErrorOptions) {
    super(
      `Cannot start ${streams.join(", ")}: ${tool} not found at ${JSON.stringify(path)} ` +
        `(install ffmpeg, or pass --${tool} PATH)`,
      options,
    );
    this.name = "MissingToolError";
    this.tool = tool;
    this.path = path;
    this.streams = streams;
  }
}

/** What every source of the exporter shares: the model input size and the ffmpeg settings. */
export interface SourceFactoryOptions extends FfmpegSettings {
  /** Where video is decoded: NVDEC, the CPU, or NVDEC where it works. */
  decode: DecodeChoice;
  /** The GPU that NVDEC decodes on (as nvidia-smi numbers it). */
  deviceId: number;
}

async function checkTool(
  tool: "ffmpeg" | "ffprobe",
  path: string,
  streams: string[],
): Promise<void> {
  try {
    // A tool that does not answer -version within 10 s is killed: a check must never hang.
    await new Deno.Command(path, {
      args: ["-version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
      signal: AbortSignal.timeout(10_000),
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      throw new MissingToolError(tool, path, streams, { cause: err });
    }
    throw err;
  }
}

/**
 * Checks that ffmpeg and ffprobe run, only when one of `specs` needs them.
 *
 * @throws {MissingToolError} naming the tool and the streams that need it
 */
export async function checkSourceTools(
  specs: readonly SourceSpec[],
  options: Pick<SourceFactoryOptions, "ffmpegPath" | "ffprobePath">,
): Promise<void> {
  const ffmpegStreams = specs.filter((s) => s.kind === "ffmpeg").map((s) => s.id);
  if (ffmpegStreams.length === 0) return;
  await checkTool("ffmpeg", options.ffmpegPath, ffmpegStreams);
  await checkTool("ffprobe", options.ffprobePath, ffmpegStreams);
}

/**
 * The decoder of a stream whose decoder was not chosen by a `DecoderChooser`: the CPU under
 * `--decode auto` or `cpu`, NVDEC, untested, under `--decode nvdec`, with a reason that says it
 * was not checked.
 */
export function uncheckedChoice(
  spec: SourceSpec,
  options: Pick<SourceFactoryOptions, "decode">,
): DecoderChoice {
  if (spec.kind !== "ffmpeg" || spec.input === "testsrc") {
    return { decoder: "cpu", reason: "generated source (no bitstream)" };
  }
  if (options.decode === "cpu") return { decoder: "cpu", reason: "--decode cpu" };
  if (options.decode === "nvdec") {
    return { decoder: "nvdec", reason: "--decode nvdec, not checked" };
  }
  return { decoder: "cpu", reason: "NVDEC not checked for this stream" };
}

/**
 * Builds the source of one stream: an ffmpeg child for a video source, or a synthetic source.
 * The stream's decoder is reported once through `lifecycle.decoderChosen`; under
 * `--decode auto` an NVDEC stream whose ffmpeg later fails with an NVDEC problem falls back to
 * the CPU and reports that too.
 */
export function createSource(
  stream: { spec: SourceSpec; lifecycle: StreamLifecycle; decoder: DecoderChoice },
  options: SourceFactoryOptions,
): FrameSource {
  const { spec, lifecycle, decoder: choice } = stream;
  lifecycle.decoderChosen(choice.decoder, choice.reason);
  if (spec.kind === "ffmpeg") {
    return new FfmpegSource({
      ...options,
      spec,
      stream: lifecycle.stream,
      lifecycle,
      decoder: choice.decoder,
      deviceId: options.deviceId,
      fallbackToCpu: options.decode === "auto",
    });
  }
  const synthetic = {
    id: spec.id,
    stream: lifecycle.stream,
    sourceWidth: spec.width,
    sourceHeight: spec.height,
    width: options.width,
    height: options.height,
    fps: spec.fps,
    lifecycle,
  };
  if (spec.scene !== undefined) return new SceneSource({ ...synthetic, scene: spec.scene });
  return new SyntheticSource({ ...synthetic, burst: spec.burst });
}
