import { assert, assertEquals } from "../_assert.ts";
import { SyntheticSource } from "../../src/sources/synthetic_source.ts";
import type { Frame, FrameSink } from "../../src/sources/frame.ts";

class CountingSink implements FrameSink {
  frames: Frame[] = [];
  push(frame: Frame): void {
    this.frames.push(frame);
  }
  waitForRoom(): Promise<void> {
    return Promise.resolve();
  }
}

Deno.test("SyntheticSource - a burst runs at its rate, then the source falls back to its own", async () => {
  const sink = new CountingSink();
  const source = new SyntheticSource({
    id: "b",
    stream: 0,
    sourceWidth: 64,
    sourceHeight: 64,
    width: 64,
    height: 64,
    fps: 5,
    burst: { seconds: 0.5, fps: 400 },
  });
  source.start(sink);
  await new Promise((r) => setTimeout(r, 500));
  const inBurst = sink.frames.length;
  await new Promise((r) => setTimeout(r, 1000));
  const after = sink.frames.length - inBurst;
  await source.stop();
  // 0.5 s at 400 fps is ~200 frames; the next second at 5 fps is ~5 (timers are coarse: loose bounds).
  assert(inBurst > 100, `burst delivered ${inBurst} frames`);
  assert(after <= 15, `after the burst ${after} frames`);
  assertEquals(
    sink.frames.map((f) => f.seq),
    Array.from({ length: sink.frames.length }, (_, i) => i),
  );
});

Deno.test("SyntheticSource - frames are letterboxed views of a few pre-rendered images", async () => {
  const sink = new CountingSink();
  const source = new SyntheticSource({
    id: "s",
    stream: 0,
    sourceWidth: 1280,
    sourceHeight: 720,
    width: 640,
    height: 640,
    fps: 200,
  });
  source.start(sink);
  await new Promise((r) => setTimeout(r, 300));
  await source.stop();
  const distinct = new Set(sink.frames.map((f) => f.pixels));
  assert(distinct.size <= 24, "no per-frame rendering: images are reused");
  const frame = sink.frames[0]!;
  assertEquals(frame.letterbox, {
    scale: 0.5,
    padX: 0,
    padY: 140,
    sourceWidth: 1280,
    sourceHeight: 720,
  });
  assert(frame.pixels.subarray(0, 640 * 140 * 3).every((v) => v === 114), "gray padding above");
});
