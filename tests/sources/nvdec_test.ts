import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { fixturePath } from "../_helpers.ts";
import { makeVideo, waitFor } from "../_media.ts";
import {
  classifyNvdecFailure,
  DecoderChooser,
  type DecoderChooserOptions,
  DecoderUnavailableError,
  parseFilterNames,
  parseHwaccels,
} from "../../src/sources/nvdec_probe.ts";
import { FfmpegSource } from "../../src/sources/ffmpeg_source.ts";
import {
  createSource,
  type SourceFactoryOptions,
  uncheckedChoice,
} from "../../src/sources/source_factory.ts";
import type { DecoderChoice } from "../../src/sources/nvdec_probe.ts";
import type { Frame, FrameSink } from "../../src/sources/frame.ts";
import { StreamLifecycle } from "../../src/sources/stream_lifecycle.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { Logger } from "../../src/log.ts";
import { parseSourceUri, type SourceSpec } from "../../src/sources/source_uri.ts";

const dir = await Deno.makeTempDir({ prefix: "pose_nvdec_test_" });
const clip = `${dir}/clip.mp4`;
await makeVideo(clip, { width: 320, height: 240, fps: 10, frames: 10 });

/** Whether this host has an NVIDIA driver (the real-ffmpeg tests differ there). */
const gpuHost = await Deno.stat("/dev/nvidiactl").then(() => true, () => false);

/** A fake ffmpeg in `mode` (see tests/fixtures/fake_ffmpeg) that logs its calls to `log`. */
async function fakeFfmpeg(mode: string): Promise<{ path: string; calls: () => string[][] }> {
  const path = `${dir}/ffmpeg_${mode}`;
  const log = `${dir}/calls_${mode}.jsonl`;
  await Deno.writeTextFile(
    path,
    `#!/bin/sh\nFAKE_FFMPEG_MODE=${mode} FAKE_FFMPEG_LOG=${log} exec ${
      fixturePath("fake_ffmpeg")
    } "$@"\n`,
  );
  await Deno.chmod(path, 0o755);
  await Deno.writeTextFile(log, "");
  return {
    path,
    calls: () =>
      Deno.readTextFileSync(log).split("\n").filter((l) => l !== "").map((l) => JSON.parse(l)),
  };
}

function options(
  ffmpegPath: string,
  decode: DecoderChooserOptions["decode"],
  deviceId = 0,
): DecoderChooserOptions {
  return { ffmpegPath, decode, deviceId, width: 640, height: 640, checkTimeoutMs: 10_000 };
}

function spec(id: string, uri: string): SourceSpec {
  return parseSourceUri(id, uri);
}

const cams = [spec("cam1", "/videos/cam1.mp4"), spec("cam2", "rtsp://10.0.0.2/stream")];

/** A captured `ffmpeg -hide_banner -hwaccels` of Debian's ffmpeg 5.1. */
const DEBIAN_HWACCELS = "Hardware acceleration methods:\nvdpau\ncuda\nvaapi\nqsv\ndrm\nopencl\n" +
  "vulkan\n\n";

Deno.test("parseHwaccels() lists the methods after the heading, and none for an empty list", () => {
  assertEquals(parseHwaccels(DEBIAN_HWACCELS), [
    "vdpau",
    "cuda",
    "vaapi",
    "qsv",
    "drm",
    "opencl",
    "vulkan",
  ]);
  assertEquals(parseHwaccels("Hardware acceleration methods:\n\n"), []);
});

Deno.test("parseFilterNames() reads filter names and skips the legend", () => {
  const names = parseFilterNames(
    "Filters:\n  T.. = Timeline support\n  | = Source or sink filter\n" +
      " ... scale_cuda        V->V       GPU accelerated video resizer\n" +
      " TSC scale             V->V       Scale the input video size\n" +
      " ... buffersink        V->|       Buffer video frames\n",
  );
  assertEquals([...names].sort(), ["buffersink", "scale", "scale_cuda"]);
});

Deno.test("classifyNvdecFailure() names what is missing from ffmpeg's messages", () => {
  const cases: [string, string | null][] = [
    ["[h264 @ 0x55e1c0ffee40] Cannot load libnvcuvid.so.1\n", "libnvcuvid"],
    ["[AVHWDeviceContext @ 0x1] Cannot load libcuda.so.1\nDevice creation failed: -1.", "driver"],
    [
      "[AVHWDeviceContext @ 0x1] cuInit(0) failed -> CUDA_ERROR_NO_DEVICE: no CUDA-capable " +
      "device is detected",
      "driver",
    ],
    [
      "[AVHWDeviceContext @ 0x1] cuDeviceGet(&hwctx->internal->cuda_device, device_idx) failed" +
      " -> CUDA_ERROR_INVALID_DEVICE: invalid device ordinal",
      "device",
    ],
    ["[hevc @ 0x1] Hardware is lacking required capabilities", "codec"],
    ["[h264 @ 0x1] Codec not supported", "codec"],
    ["the hardware does not support this profile", "codec"],
    ["[mpeg4 @ 0x1] Failed setup for format cuda: hwaccel initialisation returned error.", "codec"],
    ["[AVFilterGraph @ 0x1] No such filter: 'scale_cuda'", "filter"],
    ["/videos/cam1.mp4: No such file or directory", null],
    ["", null],
  ];
  for (const [stderr, missing] of cases) {
    assertEquals(classifyNvdecFailure(stderr, 0)?.missing ?? null, missing, stderr);
  }
  assertEquals(
    classifyNvdecFailure("[h264 @ 0x55e1c0ffee40] Cannot load libnvcuvid.so.1", 0)?.detail,
    "ffmpeg: Cannot load libnvcuvid.so.1",
    "the detail is ffmpeg's line without its [context @ address] prefix",
  );
  assert(
    classifyNvdecFailure("CUDA_ERROR_INVALID_DEVICE", 3)!.what.includes("GPU 3"),
    "the device is named",
  );
  assert(
    classifyNvdecFailure("Cannot load libnvcuvid.so.1\nCannot load libcuda.so.1", 0)!.missing ===
      "libnvcuvid",
    "the most specific message wins",
  );
});

Deno.test("DecoderChooser - --decode nvdec is refused in one line naming what ffmpeg lacks", async () => {
  const cases: [string, string, string][] = [
    ["no_hwaccels", "hwaccel", "ffmpeg -hwaccels lists none"],
    ["no_cuda", "hwaccel", "ffmpeg -hwaccels lists vdpau, vaapi, drm"],
    ["no_scale_cuda", "filter", "ffmpeg -filters does not list scale_cuda"],
    ["no_driver", "driver", "ffmpeg: Cannot load libcuda.so.1"],
    ["no_libnvcuvid", "libnvcuvid", "ffmpeg: Cannot load libnvcuvid.so.1"],
  ];
  for (const [mode, missing, detail] of cases) {
    const fake = await fakeFfmpeg(mode);
    const err = await assertRejects(
      () => chooseAll(cams, options(fake.path, "nvdec")),
      DecoderUnavailableError,
    ) as DecoderUnavailableError;
    assertEquals(err.missing, missing, mode);
    assertEquals(err.detail, detail, mode);
    assertEquals(err.name, "DecoderUnavailableError");
    assert(!err.message.includes("\n"), `one line: ${err.message}`);
    assert(err.message.startsWith("Cannot decode stream"), err.message);
    assert(err.message.includes('"cam1"'), `names the stream: ${err.message}`);
    assert(err.message.endsWith(`(${detail})`), err.message);
  }
  const noCuda = await fakeFfmpeg("no_cuda");
  const err = await assertRejects(
    () => chooseAll(cams, options(noCuda.path, "nvdec")),
    DecoderUnavailableError,
  ) as DecoderUnavailableError;
  assertEquals(
    err.message,
    'Cannot decode streams "cam1", "cam2" with --decode nvdec: this ffmpeg has no cuda hwaccel ' +
      "(ffmpeg -hwaccels lists vdpau, vaapi, drm)",
  );
  assertEquals(err.streams, ["cam1", "cam2"], "what ffmpeg lacks, every stream lacks");
});

Deno.test("DecoderChooser - --decode auto falls back to the CPU with the reason", async () => {
  for (
    const [mode, reason] of [
      [
        "no_hwaccels",
        "NVDEC unavailable: this ffmpeg has no cuda hwaccel (ffmpeg -hwaccels lists none)",
      ],
      [
        "no_scale_cuda",
        "NVDEC unavailable: this ffmpeg has no scale_cuda filter (it was built without CUDA " +
        "filters) (ffmpeg -filters does not list scale_cuda)",
      ],
      [
        "no_libnvcuvid",
        "NVDEC unavailable: libnvcuvid (the NVIDIA driver's video decode library) cannot be " +
        "loaded; in a container, add video to NVIDIA_DRIVER_CAPABILITIES " +
        "(ffmpeg: Cannot load libnvcuvid.so.1)",
      ],
    ]
  ) {
    const fake = await fakeFfmpeg(mode!);
    const choices = await chooseAll(cams, options(fake.path, "auto"));
    assertEquals([...choices.keys()], ["cam1", "cam2"]);
    for (const choice of choices.values()) assertEquals(choice, { decoder: "cpu", reason });
  }
});

Deno.test("DecoderChooser - one stream with a codec NVDEC lacks falls back alone", async () => {
  const fake = await fakeFfmpeg("ok");
  const specs = [...cams, spec("odd", "/videos/odd_422.mp4"), spec("gen", "testsrc:320x240@5")];
  const choices = await chooseAll(specs, options(fake.path, "auto", 1));
  assertEquals(choices.get("cam1"), {
    decoder: "nvdec",
    reason: "a test frame decoded on NVDEC (GPU 1)",
  });
  assertEquals(choices.get("cam2")?.decoder, "nvdec");
  assertEquals(choices.get("odd"), {
    decoder: "cpu",
    reason: "NVDEC unavailable: NVDEC does not support this stream's codec or format " +
      "(ffmpeg: Hardware is lacking required capabilities)",
  });
  assertEquals(choices.get("gen"), { decoder: "cpu", reason: "generated source (no bitstream)" });
  const calls = fake.calls();
  assertEquals(calls.filter((c) => c.includes("-hwaccels")).length, 1, "the host is checked once");
  assert(calls.some((c) => c.includes("cuda=gpu:1")), "the device check opens --device");
  const tests = calls.filter((c) => c.includes("-hwaccel"));
  assertEquals(tests.length, 3, "one NVDEC test per stream with a bitstream");
  for (const t of tests) assertEquals(t[t.indexOf("-hwaccel_device") + 1], "1");
  assert(!calls.some((c) => c.some((a) => a.includes("testsrc"))), "testsrc is never tested");

  const err = await assertRejects(
    () => chooseAll(specs, options(fake.path, "nvdec")),
    DecoderUnavailableError,
    'Cannot decode stream "odd" with --decode nvdec: NVDEC does not support',
  ) as DecoderUnavailableError;
  assertEquals([err.streamId, err.missing], ["odd", "codec"]);
});

Deno.test("DecoderChooser - choose() decides a stream added later without checking the host again", async () => {
  const fake = await fakeFfmpeg("ok");
  const chooser = new DecoderChooser(options(fake.path, "auto"));
  await chooser.chooseAll(cams);
  const before = fake.calls().length;
  assertEquals((await chooser.choose(spec("late", "/videos/late.mp4"))).decoder, "nvdec");
  assertEquals((await chooser.choose(spec("late_odd", "/videos/odd.mkv"))).decoder, "cpu");
  const added = fake.calls().slice(before);
  assertEquals(added.length, 2, "only the two streams' test decodes");
  assert(added.every((c) => c.includes("-hwaccel")));
  const again = await chooser.chooseAll([...cams, spec("late", "/videos/late.mp4")]);
  assertEquals([...again.values()].map((c) => c.decoder), ["nvdec", "nvdec", "nvdec"]);
  assertEquals(fake.calls().length, before + 2, "a reload tests no input a second time");
  await assertRejects(
    () => new DecoderChooser(options(fake.path, "nvdec")).choose(spec("x", "/v/odd.mp4")),
    DecoderUnavailableError,
    '"x"',
  );
});

Deno.test("DecoderChooser - a source unreadable at start keeps NVDEC, untested, with the reason", async () => {
  const fake = await fakeFfmpeg("ok");
  for (const decode of ["auto", "nvdec"] as const) {
    const choice = await new DecoderChooser(options(fake.path, decode)).choose(
      spec("down", "/videos/missing.mp4"),
    );
    assertEquals(choice.decoder, "nvdec", decode);
    assert(
      choice.reason.startsWith(
        "NVDEC works on GPU 0; the source could not be read at start to test its codec " +
          "(/videos/missing.mp4: No such file or directory)",
      ),
      choice.reason,
    );
    assertEquals(choice.reason.includes("the CPU takes over"), decode === "auto");
  }
  const chooser = new DecoderChooser(options(fake.path, "auto"));
  await chooser.choose(spec("down", "/videos/missing.mp4"));
  const before = fake.calls().length;
  await chooser.choose(spec("down", "/videos/missing.mp4"));
  assertEquals(fake.calls().length, before + 2, "an unreadable source is tested again later");
});

Deno.test("DecoderChooser - --decode cpu and generated sources run no ffmpeg at all", async () => {
  const fake = await fakeFfmpeg("no_driver");
  const choices = await chooseAll(
    [...cams, spec("syn", "synthetic:320x240@5")],
    options(fake.path, "cpu"),
  );
  assertEquals(choices.get("cam1"), { decoder: "cpu", reason: "--decode cpu" });
  assertEquals(choices.get("syn"), { decoder: "cpu", reason: "generated source (no bitstream)" });
  assertEquals(
    await chooseAll([spec("gen", "testsrc")], options(fake.path, "nvdec")),
    new Map([["gen", { decoder: "cpu", reason: "generated source (no bitstream)" }]]),
  );
  assertEquals(fake.calls(), []);
});

Deno.test("DecoderChooser - a GPU that is not there is named by its index", async () => {
  const fake = await fakeFfmpeg("no_device");
  await assertRejects(
    () => chooseAll(cams, options(fake.path, "nvdec", 1)),
    DecoderUnavailableError,
    "GPU 1 (--device) does not exist (ffmpeg: cuDeviceGet",
  );
  assertEquals(
    (await chooseAll(cams, options(fake.path, "auto", 0))).get("cam1")?.decoder,
    "nvdec",
  );
});

Deno.test("DecoderChooser - a hung ffmpeg is given up after the timeout", async () => {
  const fake = await fakeFfmpeg("hang");
  const started = Date.now();
  const choices = await chooseAll(cams, {
    ...options(fake.path, "auto"),
    checkTimeoutMs: 300,
  });
  assert(Date.now() - started < 5_000, "gave up in time");
  assertEquals(choices.get("cam1"), {
    decoder: "cpu",
    reason: "NVDEC unavailable: this ffmpeg's hwaccels cannot be listed " +
      "(ffmpeg -hwaccels: timed out after 0.3 s)",
  });
});

Deno.test({
  name: "DecoderChooser - Debian's ffmpeg without an NVIDIA driver: nvdec refused, auto on the CPU",
  ignore: gpuHost,
  fn: async () => {
    const specs = [spec("clip", clip)];
    const err = await assertRejects(
      () => chooseAll(specs, options("ffmpeg", "nvdec")),
      DecoderUnavailableError,
    ) as DecoderUnavailableError;
    assertEquals(
      err.message,
      'Cannot decode stream "clip" with --decode nvdec: the NVIDIA driver is missing ' +
        "(libcuda.so.1 cannot be loaded) (ffmpeg: Cannot load libcuda.so.1)",
    );
    assertEquals(err.missing, "driver");
    const choices = await chooseAll(specs, options("ffmpeg", "auto"));
    assertEquals(choices.get("clip"), {
      decoder: "cpu",
      reason: "NVDEC unavailable: the NVIDIA driver is missing (libcuda.so.1 cannot be loaded) " +
        "(ffmpeg: Cannot load libcuda.so.1)",
    });
  },
});

class CollectingSink implements FrameSink {
  frames: Uint8Array[] = [];
  push(frame: Frame): void {
    this.frames.push(frame.pixels.slice());
    frame.release?.();
  }
  waitForRoom(): Promise<void> {
    return Promise.resolve();
  }
}

/** A lifecycle whose log lines are kept as parsed JSON. */
function recordedLifecycle(id: string) {
  // deno-lint-ignore no-explicit-any -- log records are free-form objects read by key
  const lines: any[] = [];
  const log = new Logger({
    format: "json",
    writer: { writeLine: (l) => lines.push(JSON.parse(l)) },
  });
  const lifecycle = new StreamLifecycle({ index: 0, id }, { metrics: new PoseMetrics([id]), log });
  return { lifecycle, decoderLines: () => lines.filter((l) => l.msg === "stream decoder") };
}

/** Chooses the decoders of `specs` once, as the exporter's roster does. */
function chooseAll(specs: readonly SourceSpec[], options: DecoderChooserOptions) {
  return new DecoderChooser(options).chooseAll(specs);
}

/** Factory options, with the decoders the roster would have chosen, by stream id. */
type TestFactoryOptions = SourceFactoryOptions & { decoders?: Map<string, DecoderChoice> };

/** Builds a stream's source as the roster does: with its chosen decoder, or an unchecked one. */
function build(spec: SourceSpec, lifecycle: StreamLifecycle, options: TestFactoryOptions) {
  const decoder = options.decoders?.get(spec.id) ?? uncheckedChoice(spec, options);
  return createSource({ spec, lifecycle, decoder }, options);
}

function factoryOptions(overrides: Partial<TestFactoryOptions>): TestFactoryOptions {
  return {
    width: 640,
    height: 640,
    ffmpegPath: "ffmpeg",
    ffprobePath: "ffprobe",
    loop: false,
    realtime: false,
    stallTimeoutMs: 5000,
    retryMaxMs: 200,
    decode: "auto",
    deviceId: 0,
    ...overrides,
  };
}

Deno.test("build() reports each stream's decoder once and builds its ffmpeg for it", async () => {
  const decoders = new Map([["cam1", { decoder: "nvdec" as const, reason: "tested" }]]);
  const nv = recordedLifecycle("cam1");
  const source = build(cams[0]!, nv.lifecycle, factoryOptions({ decoders, deviceId: 2 }));
  assert(source instanceof FfmpegSource);
  assertEquals(source.decoder, "nvdec");
  const cpu = recordedLifecycle("cam2");
  const other = build(cams[1]!, cpu.lifecycle, factoryOptions({ decoders }));
  assertEquals((other as FfmpegSource).decoder, "cpu", "a stream the map lacks is on the CPU");
  const syn = recordedLifecycle("syn");
  await build(spec("syn", "synthetic:64x64@1"), syn.lifecycle, factoryOptions({})).stop();
  const fields = (l: { decoder: string; reason: string }) => [l.decoder, l.reason];
  assertEquals(nv.decoderLines().map(fields), [["nvdec", "tested"]]);
  assertEquals(cpu.decoderLines().map(fields), [["cpu", "NVDEC not checked for this stream"]]);
  assertEquals(syn.decoderLines().map(fields), [["cpu", "generated source (no bitstream)"]]);
});

Deno.test("FfmpegSource - under --decode auto an NVDEC failure at run time falls back to the CPU", async () => {
  const fake = await fakeFfmpeg("no_libnvcuvid");
  const { lifecycle, decoderLines } = recordedLifecycle("clip");
  const sink = new CollectingSink();
  const src = build(
    spec("clip", clip),
    lifecycle,
    factoryOptions({
      ffmpegPath: fake.path,
      retryMaxMs: 100,
      decoders: new Map([["clip", { decoder: "nvdec", reason: "untested" }]]),
    }),
  ) as FfmpegSource;
  src.start(sink);
  await waitFor(() => lifecycle.state === "finished", "the file to finish on the CPU");
  await src.stop();
  assertEquals(src.decoder, "cpu");
  assertEquals(sink.frames.length, 10);
  assertEquals(decoderLines().map((l) => [l.decoder, l.reason]), [
    ["nvdec", "untested"],
    [
      "cpu",
      "NVDEC failed at run time: libnvcuvid (the NVIDIA driver's video decode library) cannot " +
      "be loaded; in a container, add video to NVIDIA_DRIVER_CAPABILITIES " +
      "(ffmpeg: Cannot load libnvcuvid.so.1)",
    ],
  ]);
  const decodes = fake.calls().filter((c) => c.includes("pipe:1"));
  assertEquals(decodes.map((c) => c.includes("-hwaccel")), [true, false]);
});

Deno.test("FfmpegSource - under --decode nvdec an NVDEC failure stays on NVDEC and is retried", async () => {
  const fake = await fakeFfmpeg("no_libnvcuvid");
  const { lifecycle, decoderLines } = recordedLifecycle("clip");
  const src = build(
    spec("clip", clip),
    lifecycle,
    factoryOptions({
      ffmpegPath: fake.path,
      retryMaxMs: 100,
      decode: "nvdec",
      decoders: new Map([["clip", { decoder: "nvdec", reason: "untested" }]]),
    }),
  ) as FfmpegSource;
  src.start(new CollectingSink());
  await waitFor(
    () => fake.calls().filter((c) => c.includes("pipe:1")).length >= 2,
    "a second NVDEC attempt",
  );
  await src.stop();
  assertEquals(src.decoder, "nvdec");
  assertEquals(decoderLines().length, 1);
  assert(lifecycle.lastDown!.detail.includes("Cannot load libnvcuvid.so.1"));
});

Deno.test({
  name: "FfmpegSource - on a GPU host NVDEC frames have the CPU frames' layout and padding",
  ignore: !gpuHost,
  fn: async () => {
    const choice = (await chooseAll([spec("clip", clip)], options("ffmpeg", "auto")))
      .get("clip")!;
    assertEquals(choice.decoder, "nvdec", choice.reason);
    const frames: Record<string, Uint8Array[]> = {};
    for (const decode of ["nvdec", "cpu"] as const) {
      const sink = new CollectingSink();
      const { lifecycle } = recordedLifecycle("clip");
      const src = build(
        spec("clip", clip),
        lifecycle,
        factoryOptions({ decode, decoders: new Map([["clip", { decoder: decode, reason: "" }]]) }),
      );
      src.start(sink);
      await waitFor(() => lifecycle.state === "finished", `${decode} to finish`);
      await src.stop();
      frames[decode] = sink.frames;
    }
    assertEquals(frames.nvdec!.length, 10);
    for (const [i, nv] of frames.nvdec!.entries()) {
      const cpu = frames.cpu![i]!;
      assertEquals(nv.length, cpu.length);
      // 320x240 -> 640x480 at padY 80: the first and last 80 rows are padding in both.
      assert(nv.subarray(0, 640 * 80 * 3).every((v) => v === 114), "top padding is gray 114");
      assert(nv.subarray(640 * 560 * 3).every((v) => v === 114), "bottom padding is gray 114");
      let diff = 0;
      for (let j = 0; j < nv.length; j++) diff += Math.abs(nv[j]! - cpu[j]!);
      assert(diff / nv.length < 4, `frame ${i} differs from the CPU frame by ${diff / nv.length}`);
    }
  },
});

Deno.test({
  name: "NVDEC tests clean up their media",
  fn: async () => {
    await Deno.remove(dir, { recursive: true });
  },
});
