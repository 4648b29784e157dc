// ffprobe and ffmpeg command lines for a source, and the parsing of ffprobe's answer (no spawning here).

import type { Letterbox } from "./frame.ts";
import type { FfmpegSourceSpec } from "../source_uri.ts";

/** Size and rate of a source's video stream, as ffprobe reports them. */
export interface ProbedVideo {
  width: number;
  height: number;
  /** Frames per second, or null when the source does not say. */
  fps: number | null;
}

/** Arguments of the ffprobe call that reads a source's video size and rate. */
export function probeArgs(spec: FfmpegSourceSpec): string[] {
  return [
    "-v",
    "error",
    "-select_streams",
    "v:0",
    "-show_entries",
    "stream=width,height,avg_frame_rate,r_frame_rate",
    "-of",
    "json",
    ...spec.inputArgs,
    "-i",
    spec.target,
  ];
}

function parseRate(text: unknown): number | null {
  if (typeof text !== "string") return null;
  const [num, den] = text.split("/").map(Number);
  if (num === undefined || !Number.isFinite(num) || num <= 0) return null;
  const rate = den === undefined ? num : num / den;
  return Number.isFinite(rate) && rate > 0 ? rate : null;
}

/**
 * Reads ffprobe's JSON answer.
 *
 * @throws {Error} saying what was missing when it holds no video stream with a size
 */
export function parseProbe(json: string): ProbedVideo {
  let parsed: {
    streams?: {
      width?: unknown;
      height?: unknown;
      avg_frame_rate?: unknown;
      r_frame_rate?: unknown;
    }[];
  };
  try {
    parsed = JSON.parse(json);
  } catch {
    throw new Error(`ffprobe printed no JSON: ${JSON.stringify(json.slice(0, 200))}`);
  }
  const stream = parsed.streams?.[0];
  if (!stream) throw new Error("no video stream");
  const width = Number(stream.width);
  const height = Number(stream.height);
  if (!(width > 0 && height > 0)) {
    throw new Error(`the video stream has no size (${stream.width}x${stream.height})`);
  }
  return { width, height, fps: parseRate(stream.avg_frame_rate) ?? parseRate(stream.r_frame_rate) };
}

/** Options of {@linkcode decodeArgs}. */
export interface DecodeArgsOptions {
  /** How the source maps into the model input. */
  letterbox: Letterbox;
  /** Model input size. */
  width: number;
  height: number;
  /** Read at the source's own rate (files and test patterns). */
  realtime: boolean;
  /** Restart files at their end. */
  loop: boolean;
}

/**
 * Arguments of the ffmpeg call that decodes a source into raw rgb24 frames on stdout,
 * scaled and letterboxed to the model input (padding gray 114, as Ultralytics pads).
 */
export function decodeArgs(spec: FfmpegSourceSpec, options: DecodeArgsOptions): string[] {
  const lb = options.letterbox;
  const scaledWidth = Math.round(lb.sourceWidth * lb.scale);
  const scaledHeight = Math.round(lb.sourceHeight * lb.scale);
  // HTTP too: a recording served over HTTP would otherwise be read at download speed;
  // a live HTTP/HLS stream arrives at its own rate anyway.
  const paced = options.realtime && spec.input !== "rtsp" && spec.input !== "v4l2";
  return [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    ...(spec.input === "rtsp" ? ["-fflags", "nobuffer", "-flags", "low_delay"] : []),
    ...(paced ? ["-re"] : []),
    ...(options.loop && spec.input === "file" ? ["-stream_loop", "-1"] : []),
    ...spec.inputArgs,
    "-i",
    spec.target,
    "-an",
    "-sn",
    "-dn",
    "-vf",
    `scale=${scaledWidth}:${scaledHeight}:flags=bilinear,` +
    `pad=${options.width}:${options.height}:${lb.padX}:${lb.padY}:color=0x727272`,
    "-pix_fmt",
    "rgb24",
    "-f",
    "rawvideo",
    "pipe:1",
  ];
}
