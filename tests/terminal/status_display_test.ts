import { assertEquals } from "../_assert.ts";
import { Logger } from "../../src/log.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import type { StreamSnapshot } from "../../src/streams/stream_snapshot.ts";
import { StatusDisplay } from "../../src/terminal/status_display.ts";

function snapshot(id: string, fps: number): StreamSnapshot {
  return {
    index: 0,
    id,
    state: "up",
    reason: null,
    decoder: "cpu",
    fps,
    p50Ms: 10,
    p99Ms: 20,
    frames: 100,
    drops: 0,
    queued: 0,
    persons: 1,
  };
}

Deno.test("StatusDisplay logs a line per stream, then one total with the slowest stage", async () => {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({
    format: "json",
    writer: { writeLine: (line) => lines.push(JSON.parse(line)) },
  });
  const display = new StatusDisplay(new PoseMetrics([]), log, {
    live: false,
    intervalSeconds: 0.05,
    streams: () => [snapshot("a", 30), snapshot("b", 12.5)],
  });
  display.start();
  await new Promise((r) => setTimeout(r, 80));
  display.stop();
  // A second stop (the shutdown path may reach it twice) writes nothing more.
  const count = lines.length;
  display.stop();
  await new Promise((r) => setTimeout(r, 80));
  assertEquals(lines.length, count, "no line after the stop");
  const first = lines.slice(0, 3).map((l) => [l.msg, l.stream_id ?? null, l.fps]);
  assertEquals(first, [
    ["stream status", "a", 30],
    ["stream status", "b", 12.5],
    ["status total", null, 42.5],
  ]);
  assertEquals(lines[2]!.streams, 2);
  assertEquals(lines[2]!.slowest_stage, "-", "no frame went through a stage");
  assertEquals(lines.filter((l) => "slowest_stage" in l && l.msg !== "status total"), []);
});
