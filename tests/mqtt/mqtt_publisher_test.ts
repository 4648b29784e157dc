// The MQTT publisher against a real mosquitto, fed hand-made results and track events.

import { assert, assertEquals } from "../_assert.ts";
import { Logger } from "../../src/log.ts";
import { MqttMetrics } from "../../src/mqtt/mqtt_metrics.ts";
import { MqttPublisher, MqttStartError } from "../../src/mqtt/mqtt_publisher.ts";
import { parseMqttUrl } from "../../src/mqtt/mqtt_url.ts";
import type { MqttConfig } from "../../src/mqtt/mqtt_config.ts";
import type { FrameResult } from "../../src/pipeline/result.ts";
import { toJsonlRecord } from "../../src/pipeline/jsonl_sink.ts";
import type { StreamSnapshot } from "../../src/streams/stream_snapshot.ts";
import {
  MQTT_CONNECT_FAILURE_REASONS,
  MQTT_OUTCOMES,
  MQTT_TOPIC_KINDS,
} from "../../src/metrics/definitions.ts";
import { freePort } from "../_helpers.ts";
import { MqttBroker, Subscriber } from "../_mqtt_broker.ts";

function config(url: string, overrides: Partial<MqttConfig> = {}): MqttConfig {
  return {
    url: parseMqttUrl(url),
    passwordFile: null,
    caFile: null,
    topicPrefix: "h26test",
    clientId: null,
    qos: 1,
    poses: true,
    queueBytes: 2 ** 20,
    ...overrides,
  };
}

function snapshot(id: string, index: number, persons = 1): StreamSnapshot {
  return {
    index,
    id,
    state: "up",
    reason: null,
    decoder: "cpu",
    fps: 30,
    p50Ms: 10,
    p99Ms: 20,
    frames: 100,
    drops: 0,
    queued: 0,
    persons,
  };
}

function result(stream: number, id: string, seq: number, at: number, trackId: number): FrameResult {
  const keypoints = new Float32Array(51);
  for (let i = 0; i < 51; i++) keypoints[i] = i % 3 === 2 ? 0.9 : 100 + i;
  return {
    frame: {
      stream,
      seq,
      capturedAt: at,
      pixels: new Uint8Array(0),
      letterbox: { scale: 1, padX: 0, padY: 0, srcWidth: 640, srcHeight: 480 },
    } as unknown as FrameResult["frame"],
    streamId: id,
    persons: [{ box: [10, 20, 110, 220], score: 0.9, keypoints, trackId }],
    decodedAt: at + 5,
    latencyMs: 5,
  };
}

function collect(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({
    format: "json",
    writer: { writeLine: (l) => lines.push(JSON.parse(l)) },
  });
  return { log, lines };
}

function produced(metrics: MqttMetrics): { sent: number; dropped: number; failed: number } {
  const out = { sent: 0, dropped: 0, failed: 0 };
  for (const kind of MQTT_TOPIC_KINDS) {
    for (const outcome of MQTT_OUTCOMES) out[outcome] += metrics.value(kind, outcome);
  }
  return out;
}

Deno.test("MqttPublisher publishes every topic and clears a removed stream's retained state", async () => {
  const broker = await MqttBroker.start();
  const sub = await Subscriber.start(broker.url, "h26test/#");
  const streams = [snapshot("s0", 0), snapshot("s1", 1)];
  const metrics = new MqttMetrics();
  const { log } = collect();
  const publisher = await MqttPublisher.start({
    config: config(broker.url),
    secrets: { password: null, ca: null },
    metrics,
    log,
    streams: () => streams,
    stateCheckMs: 50,
  });
  try {
    await sub.until(() => sub.on(/\/s1\/state$/).length > 0, 10_000, "the states");
    assertEquals(sub.on(/available$/).map((m) => m.payload), ["online"]);
    const state = JSON.parse(sub.on(/\/s0\/state$/)[0]!.payload);
    assertEquals(state.state, "up");
    assertEquals(state.decoder, "cpu");
    assertEquals(state.persons, 1);

    const t0 = performance.now();
    publisher.tracksChanged({
      stream: 0,
      streamId: "s0",
      runId: "run1",
      started: [{
        type: "started",
        runId: "run1",
        trackId: 7,
        firstSeenMs: t0 - 33,
        atMs: t0,
        box: [10, 20, 110, 220],
        score: 0.9,
      }],
      ended: [],
      active: 1,
    });
    const results = [0, 500, 999, 1100, 1500, 2200].map((dt, i) => result(0, "s0", i, t0 + dt, 7));
    for (const r of results) publisher.write(r);
    const keypoints = new Float32Array(51).fill(1);
    publisher.tracksChanged({
      stream: 0,
      streamId: "s0",
      runId: "run1",
      started: [],
      ended: [{
        type: "ended",
        runId: "run1",
        trackId: 7,
        reason: "lost",
        firstSeenMs: t0 - 33,
        lastSeenMs: t0 + 2100,
        durationMs: 2133,
        endedAtMs: t0 + 3100,
        box: [1, 2, 3, 4],
        keypoints,
      }],
      active: 0,
    });
    await sub.until(() => sub.on(/\/s0\/tracks$/).length >= 4, 10_000, "the track events");
    const events = sub.on(/\/s0\/tracks$/).map((m) => JSON.parse(m.payload));
    assertEquals(events.map((e) => e.type), ["new", "update", "update", "end"]);
    assertEquals(events[0].track_id, 7);
    assertEquals(events[0].run_id, "run1");
    // Updates at most once a second per track, in frame time: at +1100 and +2200.
    assertEquals(events[1].at_ms, Math.round((performance.timeOrigin + t0 + 1100) * 1000) / 1000);
    assertEquals(events[2].at_ms, Math.round((performance.timeOrigin + t0 + 2200) * 1000) / 1000);
    assertEquals(events[1].keypoints.length, 17);
    assertEquals(events[3].duration_ms, 2133);
    assertEquals(events[3].reason, "lost");
    assertEquals(events[3].box, [1, 2, 3, 4]);
    assertEquals(events[3].keypoints[0], [1, 1, 1]);
    assert(
      typeof events[3].first_seen_ms === "number" &&
        events[3].last_seen_ms > events[3].first_seen_ms,
    );

    await sub.until(() => sub.on(/\/s0\/poses$/).length === results.length, 10_000, "the poses");
    assertEquals(
      sub.on(/\/s0\/poses$/).map((m) => m.payload),
      results.map((r) => JSON.stringify(toJsonlRecord(r))),
    );

    // The active tracks changed (1 -> 0): a state goes at once, not 10 s later.
    await sub.until(
      () => sub.on(/\/s0\/state$/).some((m) => JSON.parse(m.payload).active_tracks === 0),
      5000,
      "a state with active_tracks 0",
    );

    // s1 removed: its retained state is cleared; a new subscriber sees none.
    streams.pop();
    publisher.streamRemoved({ index: 1, id: "s1" });
    await sub.until(() => sub.on(/\/s1\/state$/).some((m) => m.payload === ""), 5000, "the clear");
    const late = await Subscriber.start(broker.url, "h26test/#");
    await late.until(() => late.on(/\/s0\/state$/).length > 0, 5000, "the retained s0 state");
    await new Promise((r) => setTimeout(r, 200));
    assertEquals(late.on(/\/s1\/state$/).length, 0, "no retained state of the removed stream");
    assert(late.on(/available$/).every((m) => m.retain && m.payload === "online"));
    await late.stop();
  } finally {
    await publisher.close();
    await sub.until(() => sub.on(/available$/).at(-1)?.payload === "offline", 5000, "offline");
    await sub.stop();
    await broker.stop();
  }
  const counts = produced(metrics);
  assertEquals(counts.dropped + counts.failed, 0);
  assertEquals(
    counts.sent,
    sub.messages.length,
    "every message the broker took came to the subscriber",
  );
});

Deno.test("MqttPublisher.start() refuses a wrong login naming the broker, never the password", async () => {
  const broker = await MqttBroker.start({ users: { alice: "right-pass" } });
  try {
    const { log } = collect();
    let error: unknown = null;
    try {
      await MqttPublisher.start({
        config: config(broker.url.replace("://", "://alice@")),
        secrets: { password: "wrong-pass", ca: null },
        metrics: new MqttMetrics(),
        log,
        streams: () => [],
      });
    } catch (err) {
      error = err;
    }
    assert(error instanceof MqttStartError, String(error));
    assertEquals(error.reason, "not_authorized");
    assert(error.message.includes(`mqtt://alice@127.0.0.1:${broker.port}`), error.message);
    assert(error.message.includes("refused"), error.message);
    assert(!error.message.includes("wrong-pass") && !error.message.includes("\n"), error.message);

    const ok = await MqttPublisher.start({
      config: config(broker.url.replace("://", "://alice@")),
      secrets: { password: "right-pass", ca: null },
      metrics: new MqttMetrics(),
      log,
      streams: () => [],
    });
    assert(ok.connected);
    await ok.close();
  } finally {
    await broker.stop();
  }
});

Deno.test("MqttPublisher runs without a broker at start, connects later and republishes retained messages after a restart", async () => {
  const port = freePort();
  const metrics = new MqttMetrics();
  const { log, lines } = collect();
  const publisher = await MqttPublisher.start({
    config: config(`mqtt://127.0.0.1:${port}`),
    secrets: { password: null, ca: null },
    metrics,
    log,
    streams: () => [snapshot("s0", 0)],
    stateCheckMs: 50,
    reconnectMinMs: 100,
    reconnectMaxMs: 400,
    connectTimeoutMs: 1000,
  });
  let broker: MqttBroker | null = null;
  try {
    assert(!publisher.connected);
    assert(
      lines.some((l) => String(l.msg).includes("not reachable at start")),
      JSON.stringify(lines),
    );
    assertEquals(metrics.connected.value(0), 0);
    // Results produced meanwhile wait in the outbox.
    for (let i = 0; i < 5; i++) publisher.write(result(0, "s0", i, performance.now(), 1));
    broker = await MqttBroker.start({ port });
    const deadline = Date.now() + 10_000;
    while (!publisher.connected && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 50));
    }
    assert(publisher.connected, "connected once the broker came");
    assertEquals(metrics.connected.value(0), 1);
    await broker.kill();
    await broker.restart();
    // The restarted broker (no persistence) knows nothing until the publisher is back.
    const sub = await Subscriber.start(broker.url, "h26test/#");
    await sub.until(
      () => sub.on(/available$/).length > 0 && sub.on(/\/s0\/state$/).length > 0,
      10_000,
      "availability and state published again after the restart",
    );
    await sub.stop();
    const late = await Subscriber.start(broker.url, "h26test/#");
    await late.until(
      () =>
        late.on(/available$/).some((m) => m.retain && m.payload === "online") &&
        late.on(/\/s0\/state$/).some((m) => m.retain),
      5000,
      "the retained messages",
    );
    await late.stop();
    assert(lines.some((l) => l.msg === "reconnected to the MQTT broker"));
  } finally {
    await publisher.close();
    await broker?.stop();
  }
  const counts = produced(metrics);
  assertEquals(
    metrics.value("poses", "sent") + metrics.value("poses", "dropped") +
      metrics.value("poses", "failed"),
    5,
  );
  assert(counts.sent > 0);
});

/** Waits until `accept()` holds, up to `timeoutMs`. */
async function until(accept: () => boolean, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!accept()) {
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 25));
  }
}

Deno.test("MqttPublisher publishes a state on each change at once, and an unchanged one again every interval", async () => {
  const broker = await MqttBroker.start();
  const sub = await Subscriber.start(broker.url, "h26test/+/state");
  const streams = [snapshot("s0", 0)];
  const { log } = collect();
  // An interval far longer than the test: every state after the first is a change.
  let publisher = await MqttPublisher.start({
    config: config(broker.url),
    secrets: { password: null, ca: null },
    metrics: new MqttMetrics(),
    log,
    streams: () => streams,
    stateCheckMs: 50,
    stateIntervalMs: 600_000,
  });
  try {
    await sub.until(() => sub.on(/\/s0\/state$/).length === 1, 5000, "the first state");
    streams[0] = { ...streams[0]!, state: "retrying", reason: "ffmpeg exited: Connection refused" };
    await sub.until(() => sub.on(/\/s0\/state$/).length === 2, 5000, "the down state");
    const down = JSON.parse(sub.on(/\/s0\/state$/)[1]!.payload);
    assertEquals(
      [down.state, down.status, down.reason],
      ["down", "retrying", "ffmpeg exited: Connection refused"],
    );
    streams[0] = { ...streams[0]!, state: "up", reason: null, decoder: "nvdec" };
    await sub.until(() => sub.on(/\/s0\/state$/).length === 3, 5000, "the up state");
    assertEquals(JSON.parse(sub.on(/\/s0\/state$/)[2]!.payload).decoder, "nvdec");
    // fps and frame counts alone are no change: nothing more within a few checks.
    streams[0] = { ...streams[0]!, fps: 12.5, frames: 101 };
    await new Promise((r) => setTimeout(r, 400));
    assertEquals(sub.on(/\/s0\/state$/).length, 3);
    // Retained: a new subscriber is handed the latest.
    const late = await Subscriber.start(broker.url, "h26test/+/state");
    await late.until(() => late.messages.length === 1, 5000, "the retained state");
    assertEquals(late.messages[0]!.retain, true);
    assertEquals(late.messages[0]!.payload, sub.on(/\/s0\/state$/)[2]!.payload);
    await late.stop();
    await publisher.close();

    // A short interval: the same state goes again and again, retained, with fresh figures.
    sub.messages.length = 0;
    publisher = await MqttPublisher.start({
      config: config(broker.url),
      secrets: { password: null, ca: null },
      metrics: new MqttMetrics(),
      log,
      streams: () => streams,
      stateCheckMs: 50,
      stateIntervalMs: 300,
    });
    await sub.until(() => sub.on(/\/s0\/state$/).length >= 4, 10_000, "states every 300 ms");
    const states = sub.on(/\/s0\/state$/).map((m) => JSON.parse(m.payload));
    assert(states.every((st) => st.state === "up" && st.fps === 12.5), JSON.stringify(states));
    const gaps = states.slice(1).map((st, i) => st.at_ms - states[i]!.at_ms);
    assert(gaps.every((g) => g >= 250), `gaps ${gaps}`);
  } finally {
    await publisher.close();
    await sub.stop();
    await broker.stop();
  }
});

Deno.test("MqttPublisher: a login refused after a broker restart (a changed password) is logged, counted and retried", async () => {
  const broker = await MqttBroker.start({ users: { cam: "first-pass" } });
  const metrics = new MqttMetrics();
  const { log, lines } = collect();
  const publisher = await MqttPublisher.start({
    config: config(broker.url.replace("://", "://cam@"), { poses: false }),
    secrets: { password: "first-pass", ca: null },
    metrics,
    log,
    streams: () => [snapshot("s0", 0)],
    stateCheckMs: 50,
    reconnectMinMs: 100,
    reconnectMaxMs: 300,
  });
  const refusals = () =>
    metrics.connectFailures.value(MQTT_CONNECT_FAILURE_REASONS.indexOf("not_authorized"));
  try {
    assert(publisher.connected);
    await broker.kill();
    await broker.setUsers({ cam: "second-pass" });
    await broker.restart();
    await until(() => refusals() >= 3, 15_000, "three refused logins");
    assert(!publisher.connected);
    assertEquals(metrics.connected.value(0), 0);
    const failures = lines.filter((l) =>
      l.msg === "cannot connect to the MQTT broker: retrying with backoff"
    );
    // Logged at once (after an `unreachable` one while the broker restarted, perhaps), then not
    // at every attempt.
    const refused = failures.filter((l) => l.reason === "not_authorized");
    assertEquals(refused.length, 1, JSON.stringify(failures));
    assert(failures.length <= 2, JSON.stringify(failures));
    assertEquals(refused[0]!.broker, `mqtt://cam@127.0.0.1:${broker.port}`);
    assert(!JSON.stringify(lines).includes("first-pass"));
    // The password is put back: the publisher gets in again by itself.
    await broker.kill();
    await broker.setUsers({ cam: "first-pass" });
    await broker.restart();
    await until(() => publisher.connected, 15_000, "the reconnect");
    assert(lines.some((l) => l.msg === "reconnected to the MQTT broker"));
    const sub = await Subscriber.start(broker.url, "h26test/#", {
      username: "cam",
      password: "first-pass",
    });
    await sub.until(
      () => sub.on(/available$/).some((m) => m.retain && m.payload === "online"),
      5000,
      "the retained availability",
    );
    await sub.stop();
  } finally {
    await publisher.close();
    await broker.stop();
  }
});

Deno.test("MqttPublisher without a broker: drops the oldest beyond its bound, logs the first loss at once and then at most every interval", async () => {
  const metrics = new MqttMetrics();
  const { log, lines } = collect();
  const publisher = await MqttPublisher.start({
    config: config(`mqtt://127.0.0.1:${freePort()}`, { queueBytes: 8000 }),
    secrets: { password: null, ca: null },
    metrics,
    log,
    streams: () => [],
    reconnectMinMs: 100,
    reconnectMaxMs: 200,
    connectTimeoutMs: 500,
    lossLogIntervalMs: 300,
  });
  const lost = () => lines.filter((l) => l.msg === "MQTT messages lost");
  try {
    const t0 = performance.now();
    for (let i = 0; i < 200; i++) publisher.write(result(0, "s0", i, t0 + i, 1));
    assertEquals(lost().length, 1, "the first loss is logged at once, the rest held back");
    assertEquals([lost()[0]!.dropped, lost()[0]!.reason], [1, "the queue is full"]);
    const dropped = metrics.value("poses", "dropped");
    assert(dropped > 150, `${dropped} dropped`);
    assertEquals(dropped + publisher.waiting, 200, "every message is dropped or waits");
    // The oldest went: what waits is the newest.
    await new Promise((r) => setTimeout(r, 350));
    publisher.write(result(0, "s0", 200, t0 + 200, 1));
    assertEquals(lost().length, 2);
    assertEquals(lost()[1]!.dropped, dropped, "the second line counts what the first held back");
  } finally {
    await publisher.close();
  }
  const counts = produced(metrics);
  assertEquals(metrics.value("poses", "sent"), 0);
  assertEquals(counts.dropped + counts.failed, 201);
});

Deno.test("MqttPublisher.start() never hangs: a peer that closes at once or never answers means run and keep trying", async () => {
  for (const mode of ["close", "silent"] as const) {
    const listener = Deno.listen({ hostname: "127.0.0.1", port: freePort() });
    const held: Deno.Conn[] = [];
    const serving = (async () => {
      for await (const conn of listener) {
        if (mode === "close") conn.close();
        else held.push(conn);
      }
    })().catch(() => {});
    const metrics = new MqttMetrics();
    const { log, lines } = collect();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<"hung">((r) => (timer = setTimeout(() => r("hung"), 15_000)));
    const started = MqttPublisher.start({
      config: config(`mqtt://127.0.0.1:${listener.addr.port}`),
      secrets: { password: null, ca: null },
      metrics,
      log,
      streams: () => [],
      reconnectMinMs: 200,
      reconnectMaxMs: 400,
      connectTimeoutMs: 500,
    });
    const publisher = await Promise.race([started, gaveUp]);
    clearTimeout(timer);
    try {
      assert(publisher !== "hung", `start() hung on a peer that does "${mode}"`);
      assert(!publisher.connected);
      assert(
        lines.some((l) => String(l.msg).includes("not reachable at start")),
        JSON.stringify(lines),
      );
      const failures = MQTT_CONNECT_FAILURE_REASONS.reduce(
        (n, reason) =>
          n + metrics.connectFailures.value(MQTT_CONNECT_FAILURE_REASONS.indexOf(reason)),
        0,
      );
      assert(failures >= 1, `${mode}: the failed attempt is counted`);
    } finally {
      if (publisher !== "hung") await publisher.close();
      listener.close();
      for (const conn of held) conn.close();
      await serving;
    }
  }
});

Deno.test("MqttPublisher keeps pose_mqtt_queue_bytes current while the broker is away", async () => {
  const metrics = new MqttMetrics();
  const { log } = collect();
  const publisher = await MqttPublisher.start({
    config: config(`mqtt://127.0.0.1:${freePort()}`),
    secrets: { password: null, ca: null },
    metrics,
    log,
    streams: () => [],
    stateCheckMs: 50,
    reconnectMinMs: 100,
    reconnectMaxMs: 200,
    connectTimeoutMs: 500,
  });
  try {
    assert(!publisher.connected);
    const t0 = performance.now();
    for (let i = 0; i < 10; i++) publisher.write(result(0, "s0", i, t0 + i, 1));
    await until(() => metrics.queueBytes.value(0) > 0, 5000, "the queue's bytes");
    const first = metrics.queueBytes.value(0);
    for (let i = 10; i < 20; i++) publisher.write(result(0, "s0", i, t0 + i, 1));
    await until(() => metrics.queueBytes.value(0) > first, 5000, "the queue's bytes growing");
    assertEquals(publisher.waiting, 20);
  } finally {
    await publisher.close();
  }
  assertEquals(metrics.queueBytes.value(0), 0, "nothing waits after the stop");
});

Deno.test("MqttPublisher's loss lines count per kind, and the stop logs the last losses", async () => {
  const metrics = new MqttMetrics();
  const { log, lines } = collect();
  const publisher = await MqttPublisher.start({
    config: config(`mqtt://127.0.0.1:${freePort()}`, { queueBytes: 8000 }),
    secrets: { password: null, ca: null },
    metrics,
    log,
    streams: () => [],
    reconnectMinMs: 100,
    reconnectMaxMs: 200,
    connectTimeoutMs: 500,
    // Long: only the first loss is logged during the run, the rest at the stop.
    lossLogIntervalMs: 60_000,
  });
  const t0 = performance.now();
  try {
    for (let i = 0; i < 100; i++) {
      publisher.write(result(0, "s0", i, t0 + i, 1));
      publisher.tracksChanged({
        stream: 0,
        streamId: "s0",
        runId: "run1",
        started: [{
          type: "started",
          runId: "run1",
          trackId: 100 + i,
          firstSeenMs: t0 + i,
          atMs: t0 + i,
          box: [10, 20, 110, 220],
          score: 0.9,
        }],
        ended: [],
        active: 1,
      });
    }
  } finally {
    await publisher.close();
  }
  const lost = lines.filter((l) => l.msg === "MQTT messages lost");
  assert(lost.length >= 2, JSON.stringify(lost));
  for (const line of lost) {
    assert(!("kind" in line), `no single kind label: ${JSON.stringify(line)}`);
    for (const outcome of ["dropped", "failed"] as const) {
      const perKind = MQTT_TOPIC_KINDS.reduce(
        (n, kind) => n + Number(line[`${outcome}_${kind}`] ?? 0),
        0,
      );
      assertEquals(perKind, line[outcome], JSON.stringify(line));
    }
  }
  for (const kind of ["poses", "tracks"] as const) {
    for (const outcome of ["dropped", "failed"] as const) {
      const logged = lost.reduce((n, l) => n + Number(l[`${outcome}_${kind}`] ?? 0), 0);
      assertEquals(logged, metrics.value(kind, outcome), `${outcome} ${kind}: every loss logged`);
    }
  }
  assert(metrics.value("tracks", "dropped") > 0 && metrics.value("poses", "dropped") > 0);
});

Deno.test("MqttPublisher: mqtts:// to a plain port is counted reason=tls, and the exporter runs and keeps trying", async () => {
  const broker = await MqttBroker.start();
  const metrics = new MqttMetrics();
  const { log, lines } = collect();
  const publisher = await MqttPublisher.start({
    config: config(broker.url.replace(/^mqtt:/, "mqtts:")),
    secrets: { password: null, ca: null },
    metrics,
    log,
    streams: () => [],
    reconnectMinMs: 100,
    reconnectMaxMs: 200,
    connectTimeoutMs: 1000,
  });
  try {
    assert(!publisher.connected);
    const failures = (reason: (typeof MQTT_CONNECT_FAILURE_REASONS)[number]) =>
      metrics.connectFailures.value(MQTT_CONNECT_FAILURE_REASONS.indexOf(reason));
    assert(failures("tls") >= 1, "counted as tls");
    assertEquals(failures("unreachable"), 0);
    const line = lines.find((l) => String(l.msg).includes("not reachable at start"));
    assertEquals(line?.reason, "tls", JSON.stringify(lines));
  } finally {
    await publisher.close();
    await broker.stop();
  }
});
