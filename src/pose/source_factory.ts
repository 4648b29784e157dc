// Builds the frame source of each configured stream, ffmpeg or synthetic.

import type { Config } from "../config.ts";
import type { FrameSource } from "./frame.ts";
import type { PreparedModel } from "./model_prep.ts";
import { FfmpegSource } from "./ffmpeg_source.ts";
import { SyntheticSource } from "./synthetic_source.ts";
import type { StreamLifecycle } from "./stream_lifecycle.ts";

/** Thrown when a tool that a source needs (ffmpeg, ffprobe) cannot be run; names it and the streams. */
export class MissingToolError extends Error {
  constructor(tool: string, path: string, streams: string[], options?: ErrorOptions) {
    super(
      `Cannot start ${streams.join(", ")}: ${tool} not found at ${JSON.stringify(path)} ` +
        `(install ffmpeg, or pass --${tool} PATH)`,
      options,
    );
    this.name = "MissingToolError";
  }
}

async function checkTool(
  tool: "ffmpeg" | "ffprobe",
  path: string,
  streams: string[],
): Promise<void> {
  try {
    await new Deno.Command(path, {
      args: ["-version"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).output();
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.PermissionDenied) {
      throw new MissingToolError(tool, path, streams, { cause: err });
    }
    throw err;
  }
}

/**
 * Builds each configured stream's source: an ffmpeg child per video source (checking first that
 * ffmpeg and ffprobe run, only when a source needs them), or a synthetic source.
 *
 * @throws {MissingToolError} naming the tool and the streams that need it
 */
export async function createSources(
  config: Config,
  model: PreparedModel,
  lifecycles: StreamLifecycle[],
): Promise<FrameSource[]> {
  const ffmpegStreams = config.sources.filter((s) => s.kind === "ffmpeg").map((s) => s.id);
  if (ffmpegStreams.length > 0) {
    await checkTool("ffmpeg", config.ffmpegPath, ffmpegStreams);
    await checkTool("ffprobe", config.ffprobePath, ffmpegStreams);
  }
  return config.sources.map((spec, stream) => {
    if (spec.kind === "ffmpeg") {
      return new FfmpegSource({
        spec,
        stream,
        width: model.width,
        height: model.height,
        ffmpegPath: config.ffmpegPath,
        ffprobePath: config.ffprobePath,
        loop: config.loop,
        realtime: config.realtime,
        stallTimeoutMs: config.stallTimeoutSeconds * 1000,
        retryMaxMs: config.retryMaxSeconds * 1000,
        lifecycle: lifecycles[stream]!,
      });
    }
    return new SyntheticSource({
      id: spec.id,
      stream,
      sourceWidth: spec.width,
      sourceHeight: spec.height,
      width: model.width,
      height: model.height,
      fps: spec.fps,
      burst: spec.burst,
      lifecycle: lifecycles[stream]!,
    });
  });
}
