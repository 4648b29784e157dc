// The picture's band: which model rows a letterboxed frame's picture covers, and the ffmpeg
// command that writes only those rows (padded left and right where the picture is narrower).

import { assert, assertEquals } from "../_assert.ts";
import { computeLetterbox, pictureRows } from "../../src/sources/frame.ts";
import { decodeArgs } from "../../src/sources/ffmpeg_command.ts";
import { parseSourceUri } from "../../src/sources/source_uri.ts";
import type { FfmpegSourceSpec } from "../../src/sources/source_uri.ts";

const model = { width: 640, height: 640 };

function filterOf(args: string[]): string {
  return args[args.indexOf("-vf") + 1]!;
}

function spec(): FfmpegSourceSpec {
  const s = parseSourceUri("cam", "testsrc:1280x720@30");
  if (s.kind !== "ffmpeg") throw new Error("not an ffmpeg source");
  return s;
}

Deno.test("band geometry - a 16:9 camera is 360 rows from 140, a 4:3 one 480 from 80, a portrait one all rows", () => {
  const wide = computeLetterbox({ width: 1280, height: 720 }, model);
  assertEquals(pictureRows(wide, model), { top: 140, height: 360 });
  const four3 = computeLetterbox({ width: 640, height: 480 }, model);
  assertEquals(pictureRows(four3, model), { top: 80, height: 480 });
  const portrait = computeLetterbox({ width: 720, height: 1280 }, model);
  assertEquals(pictureRows(portrait, model), { top: 0, height: 640 });
  // An odd picture height rounds as ffmpeg's scale does, and never leaves the model input.
  const odd = computeLetterbox({ width: 1920, height: 1081 }, model);
  const rows = pictureRows(odd, model);
  assertEquals(rows.height, Math.round(1081 * odd.scale));
  assert(rows.top + rows.height <= 640);
});

Deno.test("band geometry - ffmpeg writes the band (no rows of padding) to the FIFO; without it the whole input to stdout", () => {
  const letterbox = computeLetterbox({ width: 1280, height: 720 }, model);
  const common = { letterbox, width: 640, height: 640, realtime: true, loop: false };
  const band = decodeArgs(spec(), { ...common, band: true, output: "/tmp/x/1.fifo" });
  assertEquals(filterOf(band), "scale=640:360:flags=bilinear,pad=640:360:0:0:color=0x727272");
  assertEquals(band.slice(-2), ["-y", "/tmp/x/1.fifo"]);
  const whole = decodeArgs(spec(), common);
  assertEquals(filterOf(whole), "scale=640:360:flags=bilinear,pad=640:640:0:140:color=0x727272");
  assertEquals(whole.at(-1), "pipe:1");
  // A portrait camera: the band is every row, padded left and right.
  const portrait = computeLetterbox({ width: 720, height: 1280 }, model);
  const tall = decodeArgs(spec(), { ...common, letterbox: portrait, band: true, output: "f" });
  assertEquals(filterOf(tall), "scale=360:640:flags=bilinear,pad=640:640:140:0:color=0x727272");
  // NVDEC pads after the download and conversion, as the CPU chain does.
  const nvdec = decodeArgs(spec(), { ...common, band: true, output: "f", decoder: "nvdec" });
  assert(filterOf(nvdec).endsWith("format=rgb24,pad=640:360:0:0:color=0x727272"), filterOf(nvdec));
});

Deno.test("band geometry - the live view's picture of a band is the picture of the whole letterboxed frame", async () => {
  const { LiveView } = await import("../../src/web/live_view.ts");
  const { decodeSnapshotPacket } = await import("../../src/web/snapshot_packet.ts");
  const size = 64;
  const letterbox = computeLetterbox({ width: 1280, height: 720 }, { width: size, height: size });
  const rows = pictureRows(letterbox, { height: size });
  // A picture with a different value at every pixel of the band, gray 114 around it.
  const whole = new Uint8Array(size * size * 3).fill(114);
  for (let i = rows.top * size * 3; i < (rows.top + rows.height) * size * 3; i++) {
    whole[i] = (i * 7) % 251;
  }
  const band = whole.slice(rows.top * size * 3, (rows.top + rows.height) * size * 3);
  const pictures: Uint8Array[] = [];
  for (const frame of [{ pixels: whole }, { pixels: band, rows }]) {
    const view = new LiveView({
      streams: () => [{
        index: 0,
        id: "a",
        state: "up",
        reason: null,
        decoder: "cpu",
        fps: 30,
        p50Ms: 1,
        p99Ms: 1,
        frames: 1,
        drops: 0,
        queued: 0,
        persons: 0,
      }],
      modelWidth: size,
      modelHeight: size,
      scoreThreshold: 0.3,
      maxSide: 32,
    });
    const ask = () => view.handle(new Request("http://x/live/snapshot?stream=a"));
    await (await ask())?.body?.cancel();
    assert(view.wants(0), "a watched stream wants its picture");
    const f = { stream: 0, seq: 1, capturedAt: 0, letterbox, ...frame };
    view.capture(f);
    view.write({ frame: f, streamId: "a", persons: [], decodedAt: 0, latencyMs: 0 });
    const res = await ask();
    assertEquals(res?.status, 200);
    const packet = decodeSnapshotPacket(new Uint8Array(await res!.arrayBuffer()));
    assertEquals([packet.header.width, packet.header.height], [32, 18], "letterbox removed");
    pictures.push(packet.rgb);
  }
  assertEquals(pictures[1], pictures[0]);
});
