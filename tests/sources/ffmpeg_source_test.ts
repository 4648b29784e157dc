import { assert, assertEquals } from "../_assert.ts";
import { cutInHalf, makeVideo, processesMentioning, waitFor } from "../_media.ts";
import {
  backoffDelay,
  FfmpegSource,
  type FfmpegSourceOptions,
} from "../../src/sources/ffmpeg_source.ts";
import {
  cudaDeviceCheckArgs,
  decodeArgs,
  decodeCheckArgs,
  parseProbe,
} from "../../src/sources/ffmpeg_command.ts";
import type { Frame, FrameSink } from "../../src/sources/frame.ts";
import { StreamLifecycle } from "../../src/sources/stream_lifecycle.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { Logger } from "../../src/log.ts";
import { parseSourceUri } from "../../src/sources/source_uri.ts";
import type { FfmpegSourceSpec } from "../../src/sources/source_uri.ts";

const dir = await Deno.makeTempDir({ prefix: "pose_ffmpeg_test_" });
const clip = `${dir}/clip.mp4`;
await makeVideo(clip, { width: 320, height: 240, fps: 10, frames: 20 });

class CollectingSink implements FrameSink {
  frames: { seq: number; frame: Frame; top: number; middle: number }[] = [];
  push(frame: Frame): void {
    // Pixel (0,0) is letterbox padding; the middle of the image is the picture.
    const middle = frame.pixels[(320 * 640 + 320) * 3]!;
    this.frames.push({ seq: frame.seq, frame, top: frame.pixels[0]!, middle });
    frame.release?.();
  }
  waitForRoom(): Promise<void> {
    return Promise.resolve();
  }
}

function quietLog(): Logger {
  return new Logger({ writer: { writeLine: () => {} } });
}

function source(spec: FfmpegSourceSpec, overrides: Partial<FfmpegSourceOptions> = {}) {
  const metrics = new PoseMetrics([spec.id]);
  const lifecycle = new StreamLifecycle({ index: 0, id: spec.id }, { metrics, log: quietLog() });
  const src = new FfmpegSource({
    spec,
    stream: 0,
    width: 640,
    height: 640,
    ffmpegPath: "ffmpeg",
    ffprobePath: "ffprobe",
    loop: false,
    realtime: false,
    stallTimeoutMs: 5000,
    retryInitialMs: 100,
    retryMaxMs: 400,
    lifecycle,
    ...overrides,
  });
  return { src, metrics, lifecycle };
}

function fileSpec(path: string): FfmpegSourceSpec {
  return parseSourceUri("clip", path) as FfmpegSourceSpec;
}

Deno.test("FfmpegSource - delivers every frame of a file in order, letterboxed, then finishes", async () => {
  const sink = new CollectingSink();
  const { src, metrics, lifecycle } = source(fileSpec(clip));
  src.start(sink);
  await waitFor(() => lifecycle.state === "finished", "the file to finish");
  await src.stop();
  assertEquals(sink.frames.map((f) => f.seq), Array.from({ length: 20 }, (_, i) => i));
  const lb = sink.frames[0]!.frame.letterbox;
  assertEquals(lb, { scale: 2, padX: 0, padY: 80, sourceWidth: 320, sourceHeight: 240 });
  for (const f of sink.frames) {
    assertEquals(f.top, 114, "padding is gray 114");
    assert(
      f.frame.pixels.subarray(0, 640 * 80 * 3).every((v) => v === 114),
      "the top 80 rows are padding",
    );
    assert(
      f.frame.pixels.subarray(640 * 560 * 3).every((v) => v === 114),
      "the bottom 80 rows are padding",
    );
  }
  assert(sink.frames.some((f) => f.middle !== 114), "the picture is not padding");
  assertEquals(metrics.streamUp.value(0), 0, "a finished file is not up");
  assertEquals(
    metrics.streamFailures.values().reduce((n, v) => n + v.value, 0),
    0,
    "finished is not failed",
  );
  assert(src.buffersAllocated <= 3, `buffers are reused (${src.buffersAllocated} allocated)`);
});

Deno.test("FfmpegSource - --loop keeps a file going past its end", async () => {
  const sink = new CollectingSink();
  const { src, lifecycle } = source(fileSpec(clip), { loop: true });
  src.start(sink);
  await waitFor(() => sink.frames.length >= 50, "50 frames from a 20-frame file");
  assertEquals(lifecycle.state, "up");
  await src.stop();
  assertEquals(sink.frames.slice(0, 50).map((f) => f.seq), Array.from({ length: 50 }, (_, i) => i));
});

Deno.test("FfmpegSource - a missing file and a cut-off recording are down as unreadable", async () => {
  const cut = `${dir}/cut.mp4`;
  await cutInHalf(clip, cut);
  for (const path of [`${dir}/missing.mp4`, cut]) {
    const sink = new CollectingSink();
    const { src, metrics, lifecycle } = source(fileSpec(path));
    src.start(sink);
    await waitFor(() => metrics.streamFailureCount(0, "unreadable") >= 2, `${path} to fail twice`);
    await src.stop();
    assertEquals(sink.frames.length, 0);
    assertEquals(metrics.streamUp.value(0), 0);
    assert(lifecycle.lastDown!.detail.length > 0, "ffmpeg's own words are kept");
    // ... without their "[mov,mp4,... @ 0x55d0c0ffee00] " prefixes.
    assert(!/ @ 0x[0-9a-f]+\]/.test(lifecycle.lastDown!.detail), lifecycle.lastDown!.detail);
    assert(metrics.streamRestarts.value(0) >= 1, "it was retried");
  }
});

Deno.test("FfmpegSource - comes back after its ffmpeg is killed mid-stream", async () => {
  const sink = new CollectingSink();
  const spec = parseSourceUri("live", "testsrc:160x120@25") as FfmpegSourceSpec;
  const { src, metrics, lifecycle } = source(spec, { realtime: true });
  src.start(sink);
  await waitFor(() => sink.frames.length >= 5, "first frames");
  const pid = src.pid!;
  Deno.kill(pid, "SIGKILL");
  await waitFor(
    () => metrics.streamRestarts.value(0) === 1 && lifecycle.state === "up",
    "the restart",
  );
  const before = sink.frames.length;
  await waitFor(() => sink.frames.length >= before + 5, "frames after the restart");
  assertEquals(metrics.streamFailureCount(0, "exited"), 1);
  assert(src.pid !== pid, "a new ffmpeg runs");
  assertEquals(
    await processesMentioning("testsrc=size=160x120:rate=25"),
    [src.pid!],
    "ps sees the running ffmpeg",
  );
  await src.stop();
  assertEquals(
    await processesMentioning("testsrc=size=160x120:rate=25"),
    [],
    "no ffmpeg left after stop",
  );
});

Deno.test("FfmpegSource - a source that stops delivering is restarted as stalled", async () => {
  const sink = new CollectingSink();
  const spec = parseSourceUri("slow", "testsrc:160x120@0.5") as FfmpegSourceSpec;
  const { src, metrics } = source(spec, { realtime: true, stallTimeoutMs: 700 });
  src.start(sink);
  await waitFor(() => metrics.streamFailureCount(0, "stalled") >= 1, "a stall");
  await src.stop();
});

Deno.test("backoffDelay() doubles per failure, is capped, and jitters within [0.5, 1]", () => {
  assertEquals([1, 2, 3, 4, 10].map((n) => backoffDelay(n, 1000, 5000, () => 1)), [
    1000,
    2000,
    4000,
    5000,
    5000,
  ]);
  assertEquals(backoffDelay(2, 1000, 5000, () => 0), 1000);
});

Deno.test("parseProbe() reads size and rate, and refuses a probe without video", () => {
  assertEquals(
    parseProbe('{"streams":[{"width":1920,"height":1080,"avg_frame_rate":"30000/1001"}]}'),
    {
      width: 1920,
      height: 1080,
      fps: 30000 / 1001,
    },
  );
  assertEquals(
    parseProbe(
      '{"streams":[{"width":640,"height":480,"avg_frame_rate":"0/0","r_frame_rate":"25/1"}]}',
    ).fps,
    25,
  );
  let message = "";
  try {
    parseProbe('{"programs":[],"streams":[]}');
  } catch (err) {
    message = (err as Error).message;
  }
  assertEquals(message, "no video stream");
});

Deno.test("decodeArgs() letterboxes with gray padding, uses TCP for RTSP, paces and loops files", () => {
  const lb = { scale: 1 / 3, padX: 0, padY: 140, sourceWidth: 1920, sourceHeight: 1080 };
  const file = decodeArgs(parseSourceUri("a", "/v.mp4") as FfmpegSourceSpec, {
    letterbox: lb,
    width: 640,
    height: 640,
    realtime: true,
    loop: true,
  });
  assert(file.includes("-re") && file.includes("-stream_loop"));
  assertEquals(
    file[file.indexOf("-vf") + 1],
    "scale=640:360:flags=bilinear,pad=640:640:0:140:color=0x727272",
  );
  assertEquals(file.slice(-5), ["-pix_fmt", "rgb24", "-f", "rawvideo", "pipe:1"]);
  const rtsp = decodeArgs(parseSourceUri("b", "rtsp://cam/1") as FfmpegSourceSpec, {
    letterbox: lb,
    width: 640,
    height: 640,
    realtime: true,
    loop: true,
  });
  assert(
    !rtsp.includes("-re") && !rtsp.includes("-stream_loop"),
    "live sources are neither paced nor looped",
  );
  assertEquals(rtsp.slice(rtsp.indexOf("-rtsp_transport"), rtsp.indexOf("-rtsp_transport") + 2), [
    "-rtsp_transport",
    "tcp",
  ]);
});

Deno.test("decodeArgs() on the CPU scales and pads in ffmpeg's software filters", () => {
  const lb = { scale: 1 / 3, padX: 0, padY: 140, sourceWidth: 1920, sourceHeight: 1080 };
  const spec = parseSourceUri("cam", "/v.mp4") as FfmpegSourceSpec;
  const expected = [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-i",
    "/v.mp4",
    "-an",
    "-sn",
    "-dn",
    "-vf",
    "scale=640:360:flags=bilinear,pad=640:640:0:140:color=0x727272",
    "-pix_fmt",
    "rgb24",
    "-f",
    "rawvideo",
    "pipe:1",
  ];
  const options = { letterbox: lb, width: 640, height: 640, realtime: false, loop: false };
  assertEquals(decodeArgs(spec, options), expected);
  assertEquals(decodeArgs(spec, { ...options, decoder: "cpu", deviceId: 3 }), expected);
});

Deno.test("decodeArgs() on NVDEC decodes and scales on the GPU named by --device, then pads", () => {
  const lb = { scale: 1 / 3, padX: 0, padY: 140, sourceWidth: 1920, sourceHeight: 1080 };
  const spec = parseSourceUri("cam", "rtsp://cam/1") as FfmpegSourceSpec;
  const args = decodeArgs(spec, {
    letterbox: lb,
    width: 640,
    height: 640,
    realtime: true,
    loop: true,
    decoder: "nvdec",
    deviceId: 2,
  });
  assertEquals(args, [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-fflags",
    "nobuffer",
    "-flags",
    "low_delay",
    "-hwaccel",
    "cuda",
    "-hwaccel_output_format",
    "cuda",
    "-hwaccel_device",
    "2",
    "-rtsp_transport",
    "tcp",
    "-i",
    "rtsp://cam/1",
    "-an",
    "-sn",
    "-dn",
    "-vf",
    "scale_cuda=640:360:interp_algo=bilinear:format=nv12,hwdownload,format=nv12,format=rgb24," +
    "pad=640:640:0:140:color=0x727272",
    "-pix_fmt",
    "rgb24",
    "-f",
    "rawvideo",
    "pipe:1",
  ]);
  const file = decodeArgs(parseSourceUri("f", "/v.mp4") as FfmpegSourceSpec, {
    letterbox: { ...lb, padX: 107, padY: 0, scale: 0.25, sourceWidth: 1704, sourceHeight: 2560 },
    width: 640,
    height: 640,
    realtime: true,
    loop: true,
    decoder: "nvdec",
  });
  assertEquals(
    file.slice(0, file.indexOf("-i")),
    [
      "-hide_banner",
      "-nostdin",
      "-loglevel",
      "error",
      "-re",
      "-stream_loop",
      "-1",
      "-hwaccel",
      "cuda",
      "-hwaccel_output_format",
      "cuda",
      "-hwaccel_device",
      "0",
    ],
    "hwaccel options are input options; device 0 by default",
  );
  assertEquals(
    file[file.indexOf("-vf") + 1],
    "scale_cuda=426:640:interp_algo=bilinear:format=nv12,hwdownload,format=nv12,format=rgb24," +
      "pad=640:640:107:0:color=0x727272",
    "an odd pad offset is applied to rgb24, so it stays exact",
  );
});

Deno.test("decodeCheckArgs() and cudaDeviceCheckArgs() test one frame and write nothing", () => {
  const spec = parseSourceUri("cam", "/v.mp4") as FfmpegSourceSpec;
  const size = { width: 640, height: 640 };
  assertEquals(decodeCheckArgs(spec, { decoder: "nvdec", deviceId: 1, ...size }), [
    "-hide_banner",
    "-nostdin",
    "-loglevel",
    "error",
    "-hwaccel",
    "cuda",
    "-hwaccel_output_format",
    "cuda",
    "-hwaccel_device",
    "1",
    "-i",
    "/v.mp4",
    "-an",
    "-sn",
    "-dn",
    "-frames:v",
    "1",
    "-vf",
    "scale_cuda=640:640:interp_algo=bilinear:format=nv12,hwdownload,format=nv12,format=rgb24," +
    "pad=640:640:0:0:color=0x727272",
    "-f",
    "null",
    "-",
  ]);
  const cpu = decodeCheckArgs(spec, { decoder: "cpu", ...size });
  assert(!cpu.includes("-hwaccel"));
  assertEquals(
    cpu[cpu.indexOf("-vf") + 1],
    "scale=640:640:flags=bilinear,pad=640:640:0:0:color=0x727272",
  );
  const device = cudaDeviceCheckArgs(3);
  assertEquals(
    device.slice(device.indexOf("-init_hw_device"), device.indexOf("-init_hw_device") + 4),
    [
      "-init_hw_device",
      "cuda=gpu:3",
      "-filter_hw_device",
      "gpu",
    ],
  );
  assertEquals(device.slice(-3), ["-f", "null", "-"]);
});

Deno.test({
  name: "FfmpegSource tests clean up their media",
  fn: async () => {
    await Deno.remove(dir, { recursive: true });
  },
});
