import { assertAlmostEquals, assertEquals } from "../_assert.ts";
import { WindowRate } from "../../src/metrics/window_rate.ts";
import { POSE_FPS } from "../../src/metrics/definitions.ts";

Deno.test("WindowRate.rate() gives events per second over the window", () => {
  let now = 0;
  const rate = new WindowRate(POSE_FPS, [{ stream_id: "a" }], { windowSeconds: 5, now: () => now });
  rate.start(0, 0);
  for (let t = 0; t < 20_000; t += 1000 / 30) {
    now = t;
    rate.record(0, 1, t);
  }
  assertAlmostEquals(rate.rate(0), 30, 0.5);
});

Deno.test("WindowRate.rate() divides a young series by its age, not the whole window", () => {
  let now = 0;
  const rate = new WindowRate(POSE_FPS, [{ stream_id: "a" }], { windowSeconds: 5, now: () => now });
  rate.start(0, 0);
  for (let t = 0; t <= 1000; t += 10) rate.record(0, 1, t);
  now = 1000;
  assertAlmostEquals(rate.rate(0), 101, 1);
});

Deno.test("WindowRate.rate() falls to 0 within the window after a stall", () => {
  let now = 0;
  const rate = new WindowRate(POSE_FPS, [{ stream_id: "a" }, { stream_id: "b" }], {
    windowSeconds: 2,
    now: () => now,
  });
  for (let t = 0; t < 3000; t += 10) rate.record(0, 1, t);
  now = 3000;
  assertAlmostEquals(rate.rate(0), 100, 5);
  now = 5100;
  assertEquals(rate.rate(0), 0);
  assertEquals(rate.rate(1), 0, "a series never started reads 0");
});
