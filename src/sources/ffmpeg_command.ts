// ffprobe and ffmpeg command lines for a source (CPU or NVDEC), and the parsing of ffprobe's answer
// (no spawning here).

import type { Decoder } from "./decode.ts";
import type { Letterbox } from "./frame.ts";
import type { FfmpegSourceSpec } from "./source_uri.ts";

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
  /** Where the video is decoded and scaled. @default {"cpu"} */
  decoder?: Decoder;
  /** The GPU that NVDEC decodes on, as a CUDA ordinal (`-hwaccel_device`). @default {0} */
  deviceId?: number;
  /**
   * Write only the picture's band of rows (full model width, padded left and right where the
   * picture is narrower), not the whole letterboxed model input: the padding above and below
   * never travels through the pipe. @default {false}
   */
  band?: boolean;
  /** Where ffmpeg writes the frames: a FIFO's path, or its stdout. @default {"pipe:1"} */
  output?: string;
}

/** ffmpeg input options that decode on NVDEC and keep the frames in GPU memory. */
export function nvdecInputArgs(deviceId: number): string[] {
  return [
    "-hwaccel",
    "cuda",
    "-hwaccel_output_format",
    "cuda",
    "-hwaccel_device",
    String(deviceId),
  ];
}

/** Geometry of the letterbox filters: the scaled picture and its padding inside the model input. */
interface LetterboxGeometry {
  scaledWidth: number;
  scaledHeight: number;
  width: number;
  height: number;
  padX: number;
  padY: number;
}

/** The `-vf` chain that scales on the CPU and pads with gray 114 (0x727272). */
function cpuFilter(g: LetterboxGeometry): string {
  return `scale=${g.scaledWidth}:${g.scaledHeight}:flags=bilinear,` +
    `pad=${g.width}:${g.height}:${g.padX}:${g.padY}:color=0x727272`;
}

/**
 * The `-vf` chain for NVDEC frames: scale on the GPU (to 8-bit NV12, so 10-bit sources work
 * too), download, convert to rgb24, then pad with gray 114 as the CPU chain does (padding after
 * the conversion keeps odd offsets exact).
 */
function nvdecFilter(g: LetterboxGeometry): string {
  return `scale_cuda=${g.scaledWidth}:${g.scaledHeight}:interp_algo=bilinear:format=nv12,` +
    `hwdownload,format=nv12,format=rgb24,` +
    `pad=${g.width}:${g.height}:${g.padX}:${g.padY}:color=0x727272`;
}

/**
 * The arguments every decode of a source shares, up to the filter: quiet logging, low delay for
 * RTSP, `before` (pacing, looping), the NVDEC input options, the input, and video only.
 */
function inputArgs(
  spec: FfmpegSourceSpec,
  nvdec: boolean,
  deviceId: number,
  before: readonly string[] = [],
): string[] {
  return [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    ...(spec.input === "rtsp" ? ["-fflags", "nobuffer", "-flags", "low_delay"] : []),
    ...before,
    ...(nvdec ? nvdecInputArgs(deviceId) : []),
    ...spec.inputArgs,
    "-i",
    spec.target,
    "-an",
    "-sn",
    "-dn",
  ];
}

/**
 * Arguments of the ffmpeg call that decodes a source into raw rgb24 frames on stdout,
 * scaled and letterboxed to the model input (padding gray 114, as Ultralytics pads).
 * With `decoder: "nvdec"` the bitstream is decoded and scaled on the GPU and only the
 * scaled picture is downloaded; the frames have the same size and layout.
 */
export function decodeArgs(spec: FfmpegSourceSpec, options: DecodeArgsOptions): string[] {
  const lb = options.letterbox;
  const geometry: LetterboxGeometry = {
    scaledWidth: Math.round(lb.sourceWidth * lb.scale),
    scaledHeight: Math.round(lb.sourceHeight * lb.scale),
    width: options.width,
    height: options.height,
    padX: lb.padX,
    padY: lb.padY,
  };
  if (options.band) {
    geometry.height = geometry.scaledHeight;
    geometry.padY = 0;
  }
  const nvdec = options.decoder === "nvdec";
  // HTTP too: a recording served over HTTP would otherwise be read at download speed;
  // a live HTTP/HLS stream arrives at its own rate anyway.
  const paced = options.realtime && spec.input !== "rtsp" && spec.input !== "v4l2";
  return [
    ...inputArgs(spec, nvdec, options.deviceId ?? 0, [
      ...(paced ? ["-re"] : []),
      ...(options.loop && spec.input === "file" ? ["-stream_loop", "-1"] : []),
    ]),
    "-vf",
    nvdec ? nvdecFilter(geometry) : cpuFilter(geometry),
    "-pix_fmt",
    "rgb24",
    "-f",
    "rawvideo",
    ...(options.output === undefined ? ["pipe:1"] : ["-y", options.output]),
  ];
}

/** Arguments that list the hwaccels this ffmpeg was built with. */
export const HWACCELS_ARGS: readonly string[] = ["-hide_banner", "-hwaccels"];

/** Arguments that list the filters this ffmpeg was built with. */
export const FILTERS_ARGS: readonly string[] = ["-hide_banner", "-filters"];

/**
 * Arguments of a source-free CUDA test: opens GPU `deviceId` (driver, device) and runs one
 * generated frame through `scale_cuda` (the filter's GPU code loads on this driver).
 */
export function cudaDeviceCheckArgs(deviceId: number): string[] {
  return [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-init_hw_device",
    `cuda=gpu:${deviceId}`,
    "-filter_hw_device",
    "gpu",
    "-f",
    "lavfi",
    "-i",
    "color=c=gray:s=64x64",
    "-frames:v",
    "1",
    "-vf",
    "format=nv12,hwupload,scale_cuda=32:32:interp_algo=bilinear:format=nv12," +
    "hwdownload,format=nv12",
    "-f",
    "null",
    "-",
  ];
}

/** Options of {@linkcode decodeCheckArgs}. */
export interface DecodeCheckArgsOptions {
  /** The decode path under test. */
  decoder: Decoder;
  /** The GPU that NVDEC decodes on. @default {0} */
  deviceId?: number;
  /** Model input size (the test frame is scaled to it). */
  width: number;
  height: number;
}

/**
 * Arguments of a one-frame decode test of a source, through the same filters as
 * {@linkcode decodeArgs} (without letterbox padding), writing nothing.
 */
export function decodeCheckArgs(spec: FfmpegSourceSpec, options: DecodeCheckArgsOptions): string[] {
  const geometry: LetterboxGeometry = {
    scaledWidth: options.width,
    scaledHeight: options.height,
    width: options.width,
    height: options.height,
    padX: 0,
    padY: 0,
  };
  const nvdec = options.decoder === "nvdec";
  return [
    ...inputArgs(spec, nvdec, options.deviceId ?? 0),
    "-frames:v",
    "1",
    "-vf",
    nvdec ? nvdecFilter(geometry) : cpuFilter(geometry),
    "-f",
    "null",
    "-",
  ];
}

/**
 * A stderr line of ffmpeg or ffprobe without its `[h264 @ 0x55d0c0ffee00] ` prefix (a memory
 * address: noise to a reader, and different in every run), trimmed.
 */
export function cleanLine(line: string): string {
  return line.replace(/^\[[^\]]* @ (0x)?[0-9a-f]+\]\s*/i, "").trim();
}
