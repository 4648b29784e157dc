// Runs the benchmark with tiny settings and checks its JSON, never its timings.

import { assert, assertEquals } from "./_assert.ts";
import { ROOT } from "./_helpers.ts";

Deno.test("bench - --quick prints a table and, last, a consistent JSON object", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "task",
      "bench",
      "--quick",
      "--provider",
      "cpu",
      "--batch-size",
      "2",
      "--streams",
      "2",
      "--frames",
      "16",
      "--scrape-streams",
      "4",
      "--scrape-seconds",
      "1",
      "--scrape-interval-ms",
      "100",
      "--scrape-cost-streams",
      "8",
    ],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  const lines = stdout.trim().split("\n");
  assert(
    lines[0]!.startsWith("pose-exporter bench: provider cpu, batch 2, 2 streams, 16 frames"),
    lines[0],
  );
  const r = JSON.parse(lines.at(-1)!);
  for (
    const key of [
      "raw_fps",
      "pipeline_fps",
      "pipeline_over_raw",
      "scrape_p50_ms",
      "scrape_p99_ms",
      "baseline_scrape_p99_ms",
      "scrape_p99_over_baseline",
      "fps_drop_under_scrape",
      "update_us_per_frame",
      "baseline_update_us_per_frame",
      "update_over_baseline",
      "provider",
      "batch_size",
      "streams",
    ]
  ) assert(key in r, `missing ${key}`);
  assertEquals([r.provider, r.batch_size, r.streams, r.scrape_streams], ["cpu", 2, 2, 4]);
  for (
    const key of [
      "raw_fps",
      "pipeline_fps",
      "scrape_p50_ms",
      "scrape_p99_ms",
      "update_us_per_frame",
    ]
  ) {
    assert(typeof r[key] === "number" && r[key] > 0, `${key} = ${r[key]}`);
  }
  const close = (a: number, b: number) => Math.abs(a - b) <= 0.002 + 0.01 * Math.abs(b);
  assert(close(r.pipeline_over_raw, r.pipeline_fps / r.raw_fps), "pipeline_over_raw is the ratio");
  assert(close(r.scrape_p99_over_baseline, r.scrape_p99_ms / r.baseline_scrape_p99_ms));
  assert(close(r.update_over_baseline, r.update_us_per_frame / r.baseline_update_us_per_frame));
  assert(r.scrape_p50_ms <= r.scrape_p99_ms);
  assert(r.fps_drop_under_scrape >= 0 && r.fps_drop_under_scrape <= 1);
  assert(r.scrapes >= 2, "it scraped");
  assert(r.nvidia_smi_polling.startsWith("skipped: ") || r.nvidia_smi_polling === "measured");
  assertEquals(r.auth_scrapes, 200);
  assert(
    close(r.auth_over_plain_scrapes, r.auth_scrapes_ms / r.plain_scrapes_ms),
    "a ratio of one run",
  );
  assert(r.auth_scrapes_ms > 0 && r.plain_scrapes_ms > 0 && r.auth_first_scrape_ms > 0);
  // The scrape cost on a real exporter: its 8 streams, gzipped as Prometheus asks.
  assertEquals([r.scrape_cost_streams, r.scrape_cost_gzipped], [8, true]);
  assert(
    typeof r.scrape_event_loop_ms === "number",
    `scrape_event_loop_ms = ${r.scrape_event_loop_ms}`,
  );
  assert(r.scrape_cost_gzip_bytes > 0 && r.scrape_cost_gzip_bytes < r.scrape_cost_body_bytes);
  assert(r.track_us_per_frame > 0, `track_us_per_frame = ${r.track_us_per_frame}`);
  // The host path: per-frame CPU of pipe-fed and synthetic streams, and what it allows.
  for (
    const key of [
      "host_event_loop_ms_per_frame",
      "host_cpu_ms_per_frame",
      "host_pipe_bytes_per_frame",
      "host_streams_at_30fps",
    ]
  ) assert(typeof r[key] === "number" && r[key] > 0, `${key} = ${r[key]}`);
  // MQTT's cost per message: a real mosquitto where installed, a dead port always.
  assert(
    r.mqtt_event_loop_us_per_message_down > 0,
    `down: ${r.mqtt_event_loop_us_per_message_down}`,
  );
  assert(r.mqtt_produced_down > 0 && r.mqtt_dropped_down <= r.mqtt_produced_down);
  // Each figure is the median of the rounds' own, paired with the no-publisher run of its round.
  assertEquals(r.mqtt_rounds, 3);
  // The task turns off V8's memory reducer, whose collections land in the idle baseline segments.
  assertEquals(r.mqtt_v8_memory_reducer, "off");
  assert(
    r.mqtt_event_loop_us_per_message_down_min <= r.mqtt_event_loop_us_per_message_down &&
      r.mqtt_event_loop_us_per_message_down <= r.mqtt_event_loop_us_per_message_down_max,
    "the median lies within the rounds' range",
  );
  if (r.mqtt_up === "measured") {
    assert(r.mqtt_event_loop_us_per_message_up > 0, `up: ${r.mqtt_event_loop_us_per_message_up}`);
    assert(r.mqtt_sent_up > 0 && r.mqtt_sent_up <= r.mqtt_produced_up, "sent <= produced");
  } else assert(r.mqtt_up.startsWith("skipped: "), r.mqtt_up);
});

Deno.test("bench - a bad flag exits 2 naming it", async () => {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "bench", "--batch-size", "zero"],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
  }).output();
  assertEquals(out.code, 2);
  assert(new TextDecoder().decode(out.stderr).includes('invalid --batch-size: "zero"'));
});
