// The MQTT publisher's cost to the event loop per produced message, with a real mosquitto up and
// with nothing listening (mqtt://127.0.0.1:1): the main thread's CPU (the kernel's accounting,
// /proc/PID/task/PID/schedstat) while N streams' results go to the publisher at their frame rate
// with --mqtt-poses and QoS 1, less the same loop feeding no publisher, per message produced.
// Each segment is paired with the no-publisher segment of its round, and the figure is the median
// of the rounds' differences, so one segment's stray main-thread work cannot swing it.
//
// The bench tasks run with --v8-flags=--no-memory-reducer. V8's memory reducer (active from 30 s
// after start, then every 8 s) runs two memory-shrinking collections when allocation is low, that
// is, in a no-publisher segment: they cost that segment 20 to 45 ms and the next one regrowing the
// heap, 150 to 250 ms at QoS 1, so a round's broker-down figure came out negative. A running
// exporter's allocation is never that low. No forced collection between segments either: after one,
// V8 sizes the heap to what is live and each segment pays for regrowing it (about 10 µs a message
// more at QoS 1), which the running exporter does not pay.
// Run alone: deno task bench-mqtt [--streams N] [--seconds S]; `deno task bench` runs it as a
// phase. Without mosquitto the broker-up part is skipped, with the reason.

import { parseArgs } from "node:util";
import { readProcFile } from "../src/host/libc.ts";
import { processSeconds, threadTimes } from "../src/host/thread_cpu.ts";
import { Logger } from "../src/log.ts";
import { MQTT_OUTCOMES, MQTT_TOPIC_KINDS } from "../src/metrics/definitions.ts";
import type { MqttConfig } from "../src/mqtt/mqtt_config.ts";
import { MqttMetrics } from "../src/mqtt/mqtt_metrics.ts";
import { MqttPublisher } from "../src/mqtt/mqtt_publisher.ts";
import { parseMqttUrl } from "../src/mqtt/mqtt_url.ts";
import { toJsonlRecord } from "../src/pipeline/jsonl_sink.ts";
import type { FrameResult } from "../src/pipeline/result.ts";
import type { Person } from "../src/pose/decoder.ts";
import type { StreamSnapshot } from "../src/streams/stream_snapshot.ts";
import { mosquittoBinary, MqttBroker } from "../tests/_mqtt_broker.ts";
import { median } from "./median.ts";

/** Options of {@linkcode measureMqttCost}. */
export interface MqttCostOptions {
  /** Streams whose results are published. @default {64} */
  streams?: number;
  /** Frames per second of each stream. @default {30} */
  fps?: number;
  /** Persons in each frame, each tracked. @default {2} */
  persons?: number;
  /** Seconds of each segment (no publisher, broker up QoS 1 and 0, broker down). @default {5} */
  seconds?: number;
  /** Rounds of the segments, alternating; the figure is the median of theirs. @default {3} */
  rounds?: number;
  /** Progress lines go here. */
  progress?: (line: string) => void;
}

/** One segment with a publisher. */
export interface MqttSegment {
  /**
   * Event-loop CPU per produced message, µs, less the segment without a publisher of the same
   * round; over several rounds, the median of theirs.
   */
  eventLoopUsPerMessage: number;
  /** The lowest and the highest of the rounds' figures (one round: its own, twice). */
  eventLoopUsPerMessageRange: [number, number];
  /** Messages produced (poses, track updates, states, availability). */
  produced: number;
  sent: number;
  dropped: number;
  failed: number;
  /** Waiting when the segment ended (the broker down: held in the bounded queue). */
  waiting: number;
  /** Bytes of one poses message. */
  posesBytes: number;
}

/** What {@linkcode measureMqttCost} measured. */
export interface MqttCost {
  streams: number;
  fps: number;
  /** Rounds run; each figure is the median of the rounds'. */
  rounds: number;
  /** Whether V8's memory reducer was on (then a round can swing; see the module's comment). */
  memoryReducer: boolean;
  /** Messages per second the segments produced (about streams x fps plus track updates). */
  messagesPerSecond: number;
  /** Event-loop CPU per second of the segment without a publisher (the producing loop), ms. */
  baselineEventLoopMsPerSecond: number;
  /** The broker up (a real mosquitto), QoS 1 (the default), or null when skipped. */
  up: MqttSegment | null;
  /** The same with --mqtt-qos 0 (no acknowledgement to wait for), or null when skipped. */
  upQos0: MqttSegment | null;
  /** mosquitto's own CPU per message at QoS 1, µs (beside, not in the exporter's figure). */
  brokerUsPerMessage: number | null;
  /** Why the broker-up segment did not run, or null. */
  upSkipped: string | null;
  /** Nothing listening (mqtt://127.0.0.1:1), QoS 1, a 1 MiB queue (full: drop-oldest). */
  down: MqttSegment;
}

/** A logger that drops everything (the publisher logs each loss and reconnect). */
const QUIET = new Logger({ format: "json", writer: { writeLine: () => {} } });

/**
 * Whether this process runs with V8's memory reducer: its command line lacks the flag (read
 * through the C library, as the CPU times are; where it cannot be read, "on").
 */
function memoryReducerOn(): boolean {
  const args = readProcFile(`/proc/${Deno.pid}/cmdline`)?.split("\0") ?? [];
  return !args.some((arg) =>
    arg.startsWith("--v8-flags=") &&
    arg.slice("--v8-flags=".length).split(",").includes("--no-memory-reducer")
  );
}

function eventLoopSeconds(): number {
  return threadTimes(Deno.pid).find((t) => t.tid === Deno.pid)?.seconds ?? NaN;
}

function snapshot(index: number): StreamSnapshot {
  return {
    index,
    id: `cam${index}`,
    state: "up",
    reason: null,
    decoder: "cpu",
    fps: 30,
    p50Ms: 10,
    p99Ms: 20,
    frames: 0,
    drops: 0,
    queued: 0,
    persons: 2,
  };
}

/** One reusable result per stream: `persons` tracked persons with 17 keypoints each. */
function makeResults(streams: number, persons: number): FrameResult[] {
  return Array.from({ length: streams }, (_, stream): FrameResult => {
    const people = Array.from({ length: persons }, (_, p): Person => {
      const keypoints = new Float32Array(51);
      for (let i = 0; i < 51; i++) keypoints[i] = i % 3 === 2 ? 0.87 : 100.123 + i * 3.7 + p;
      return {
        box: [10.5 + p * 50, 20.25, 110.75 + p * 50, 220.5],
        score: 0.913,
        keypoints,
        trackId: p + 1,
      };
    });
    return {
      frame: {
        stream,
        seq: 0,
        capturedAt: 0,
        pixels: new Uint8Array(0),
        letterbox: { scale: 1, padX: 0, padY: 0, sourceWidth: 640, sourceHeight: 360 },
      },
      streamId: `cam${stream}`,
      persons: people,
      decodedAt: 0,
      latencyMs: 12.5,
      runId: "bench",
    };
  });
}

/**
 * Feeds every stream's result to `write` at `fps` for `seconds`; returns the event loop's CPU
 * seconds over it (read after `settle`, which waits for what the segment still owes).
 */
async function feed(
  results: FrameResult[],
  o: Required<Omit<MqttCostOptions, "progress" | "rounds">>,
  write: (result: FrameResult) => void,
  settle: () => Promise<void> = () => Promise.resolve(),
): Promise<{ cpuSeconds: number; wallSeconds: number }> {
  const periodMs = 1000 / o.fps;
  const ticks = Math.round(o.seconds * o.fps);
  const cpu0 = eventLoopSeconds();
  const t0 = performance.now();
  for (let tick = 0; tick < ticks; tick++) {
    const at = performance.now();
    for (const r of results) {
      r.frame.seq = tick;
      r.frame.capturedAt = at;
      r.decodedAt = at + 12.5;
      write(r);
    }
    const next = t0 + (tick + 1) * periodMs;
    await new Promise((r) => setTimeout(r, Math.max(0, next - performance.now())));
  }
  await settle();
  return { cpuSeconds: eventLoopSeconds() - cpu0, wallSeconds: (performance.now() - t0) / 1000 };
}

function config(url: string, qos: 0 | 1, queueBytes: number): MqttConfig {
  return {
    url: parseMqttUrl(url),
    passwordFile: null,
    caFile: null,
    topicPrefix: "pose-exporter-bench",
    clientId: null,
    qos,
    poses: true,
    queueBytes,
  };
}

function totals(metrics: MqttMetrics): { sent: number; dropped: number; failed: number } {
  const out = { sent: 0, dropped: 0, failed: 0 };
  for (const kind of MQTT_TOPIC_KINDS) {
    for (const outcome of MQTT_OUTCOMES) out[outcome] += metrics.value(kind, outcome);
  }
  return out;
}

/** One segment with a publisher on `url`; `baselineCpu` is the no-publisher segment's CPU. */
async function segment(
  url: string,
  results: FrameResult[],
  o: Required<Omit<MqttCostOptions, "progress" | "rounds">>,
  baselineCpu: number,
  up: boolean,
  posesBytes: number,
  qos: 0 | 1 = 1,
): Promise<MqttSegment> {
  const metrics = new MqttMetrics();
  const streams = results.map((_, i) => snapshot(i));
  const publisher = await MqttPublisher.start({
    // Broker down: a 1 MiB queue fills within a second, so the segment runs as an outage does
    // once the queue is full: every new message drops the oldest.
    config: config(url, qos, up ? 16 * 2 ** 20 : 2 ** 20),
    secrets: { password: null, ca: null },
    metrics,
    log: QUIET,
    streams: () => streams,
    connectTimeoutMs: 2000,
  });
  // What the connection published first (availability, states) goes before the segment.
  for (let i = 0; up && publisher.waiting > 0 && i < 2000; i++) {
    await new Promise((r) => setTimeout(r, 5));
  }
  const count = () => {
    const t = totals(metrics);
    return t.sent + t.dropped + t.failed + publisher.waiting;
  };
  const before = totals(metrics);
  const producedBefore = count();
  const { cpuSeconds } = await feed(results, o, (r) => publisher.write(r), async () => {
    // Broker up: the cost includes handing every message over and its acknowledgement.
    const deadline = performance.now() + 30_000;
    while (up && publisher.waiting > 0 && performance.now() < deadline) {
      await new Promise((r) => setTimeout(r, 5));
    }
  });
  const after = totals(metrics);
  const waiting = publisher.waiting;
  const sent = after.sent - before.sent;
  const dropped = after.dropped - before.dropped;
  const failed = after.failed - before.failed;
  const produced = count() - producedBefore;
  await publisher.close();
  const us = (cpuSeconds - baselineCpu) / produced * 1e6;
  return {
    eventLoopUsPerMessage: us,
    eventLoopUsPerMessageRange: [us, us],
    produced,
    sent,
    dropped,
    failed,
    waiting,
    posesBytes,
  };
}

/**
 * Measures the publisher's event-loop CPU per produced message, broker up and broker down,
 * against the same producing loop without a publisher.
 *
 * @param options streams, fps, persons, seconds per segment
 * @returns the figures; `up` null (with `upSkipped`) when mosquitto is not installed
 */
export async function measureMqttCost(options: MqttCostOptions = {}): Promise<MqttCost> {
  const o = {
    streams: options.streams ?? 64,
    fps: options.fps ?? 30,
    persons: options.persons ?? 2,
    seconds: options.seconds ?? 5,
  };
  const rounds = options.rounds ?? 3;
  const progress = options.progress ?? (() => {});
  const memoryReducer = memoryReducerOn();
  if (memoryReducer) {
    progress(
      "mqtt: V8's memory reducer is on (run with --v8-flags=--no-memory-reducer, as the bench " +
        "tasks do): a round's figures can swing by its collections",
    );
  }
  const results = makeResults(o.streams, o.persons);
  // The bytes of one poses message, as the publisher builds it.
  const posesBytes = new TextEncoder().encode(JSON.stringify(toJsonlRecord(results[0]!))).length;
  const DOWN = "mqtt://127.0.0.1:1";

  let upSkipped: string | null = null;
  let broker: MqttBroker | null = null;
  if (mosquittoBinary() === null) {
    upSkipped = "mosquitto is not installed (apt-get install mosquitto)";
  } else {
    broker = await MqttBroker.start().catch((err) => {
      upSkipped = `mosquitto did not start: ${(err as Error).message.split("\n")[0]}`;
      return null;
    });
  }
  const runs: { base: number[]; wall: number[]; up: MqttSegment[]; up0: MqttSegment[] } = {
    base: [],
    wall: [],
    up: [],
    up0: [],
  };
  const downs: MqttSegment[] = [];
  let brokerSeconds = 0;
  try {
    // Warm-up, not counted: the first messages through mqtt.js run its code unoptimised.
    progress(`mqtt: warming up`);
    const warm = { ...o, seconds: Math.max(1, Math.round(o.seconds / 2)) };
    await segment(broker?.url ?? DOWN, results, warm, 0, broker !== null, posesBytes);
    // The segments alternate, so drift on a shared machine hits each alike.
    for (let round = 0; round < rounds; round++) {
      progress(`mqtt: ${o.streams} streams x ${o.fps} fps without a publisher (${round + 1})`);
      const base = await feed(results, o, () => {});
      runs.base.push(base.cpuSeconds);
      runs.wall.push(base.wallSeconds);
      if (broker !== null) {
        progress(`mqtt: to mosquitto, QoS 1 (${round + 1})`);
        const cpu0 = broker.pid === null ? 0 : processSeconds(broker.pid);
        runs.up.push(await segment(broker.url, results, o, base.cpuSeconds, true, posesBytes));
        brokerSeconds += (broker.pid === null ? 0 : processSeconds(broker.pid)) - cpu0;
        progress(`mqtt: to mosquitto, QoS 0 (${round + 1})`);
        runs.up0.push(await segment(broker.url, results, o, base.cpuSeconds, true, posesBytes, 0));
      }
      progress(`mqtt: to ${DOWN}, nothing listens (${round + 1})`);
      downs.push(await segment(DOWN, results, o, base.cpuSeconds, false, posesBytes));
    }
  } finally {
    await broker?.stop();
  }
  const up = runs.up.length === 0 ? null : merge(runs.up);
  const wall = runs.wall.reduce((a, b) => a + b, 0);
  return {
    streams: o.streams,
    fps: o.fps,
    rounds,
    memoryReducer,
    messagesPerSecond: downs.reduce((n, d) => n + d.produced, 0) / wall,
    baselineEventLoopMsPerSecond: runs.base.reduce((a, b) => a + b, 0) / wall * 1000,
    up,
    upQos0: runs.up0.length === 0 ? null : merge(runs.up0),
    brokerUsPerMessage: up === null ? null : brokerSeconds / up.produced * 1e6,
    upSkipped,
    down: merge(downs),
  };
}

/** The segments of several rounds as one: counts summed, the cost per message their median. */
function merge(segments: readonly MqttSegment[]): MqttSegment {
  const sum = (key: "produced" | "sent" | "dropped" | "failed" | "waiting") =>
    segments.reduce((n, s) => n + s[key], 0);
  const per = segments.map((s) => s.eventLoopUsPerMessage);
  return {
    eventLoopUsPerMessage: median(per),
    eventLoopUsPerMessageRange: [Math.min(...per), Math.max(...per)],
    produced: sum("produced"),
    sent: sum("sent"),
    dropped: sum("dropped"),
    failed: sum("failed"),
    waiting: sum("waiting"),
    posesBytes: segments[0]!.posesBytes,
  };
}

const r2 = (v: number | null | undefined) => v == null ? null : Math.round(v * 100) / 100;

/**
 * The figures as `deno task bench`'s JSON keys.
 *
 * @param cost what {@linkcode measureMqttCost} measured
 * @returns the `mqtt_*` keys
 */
export function mqttBenchJson(cost: MqttCost): Record<string, number | string | null> {
  return {
    mqtt_streams: cost.streams,
    mqtt_messages_per_second: r2(cost.messagesPerSecond),
    mqtt_poses_bytes: cost.down.posesBytes,
    mqtt_event_loop_us_per_message_up: r2(cost.up?.eventLoopUsPerMessage),
    mqtt_event_loop_us_per_message_up_min: r2(cost.up?.eventLoopUsPerMessageRange[0]),
    mqtt_event_loop_us_per_message_up_max: r2(cost.up?.eventLoopUsPerMessageRange[1]),
    mqtt_event_loop_us_per_message_up_qos0: r2(cost.upQos0?.eventLoopUsPerMessage),
    mqtt_event_loop_us_per_message_down: r2(cost.down.eventLoopUsPerMessage),
    mqtt_event_loop_us_per_message_down_min: r2(cost.down.eventLoopUsPerMessageRange[0]),
    mqtt_event_loop_us_per_message_down_max: r2(cost.down.eventLoopUsPerMessageRange[1]),
    mqtt_rounds: cost.rounds,
    mqtt_v8_memory_reducer: cost.memoryReducer ? "on" : "off",
    mqtt_broker_us_per_message: r2(cost.brokerUsPerMessage),
    mqtt_produced_up: cost.up?.produced ?? null,
    mqtt_sent_up: cost.up?.sent ?? null,
    mqtt_produced_down: cost.down.produced,
    mqtt_dropped_down: cost.down.dropped,
    mqtt_up: cost.upSkipped === null ? "measured" : `skipped: ${cost.upSkipped}`,
  };
}

/**
 * The figures as rows of `deno task bench`'s table.
 *
 * @param cost what {@linkcode measureMqttCost} measured
 * @returns label, value, note
 */
export function mqttBenchRows(cost: MqttCost): [string, string, string][] {
  const j = mqttBenchJson(cost);
  const spread = (key: "up" | "down") =>
    `median of ${cost.rounds} rounds, ${j[`mqtt_event_loop_us_per_message_${key}_min`]} to ` +
    `${j[`mqtt_event_loop_us_per_message_${key}_max`]}` +
    (cost.memoryReducer ? " (V8's memory reducer on: a round can swing)" : "");
  const up = cost.up === null
    ? String(j.mqtt_up)
    : `QoS 0: ${j.mqtt_event_loop_us_per_message_up_qos0} µs; mosquitto ` +
      `${j.mqtt_broker_us_per_message} µs beside`;
  return [
    [
      `MQTT event loop per message, ${cost.streams} streams x ${cost.fps} fps, broker up`,
      cost.up === null ? "-" : `${j.mqtt_event_loop_us_per_message_up} µs (QoS 1)`,
      cost.up === null ? up : `${spread("up")}; ${up}`,
    ],
    [
      "MQTT event loop per message, broker down",
      `${j.mqtt_event_loop_us_per_message_down} µs`,
      `${spread("down")}; ` +
      `${j.mqtt_dropped_down} of ${j.mqtt_produced_down} dropped (1 MiB queue full); ` +
      `${j.mqtt_messages_per_second} messages/s, poses of ${j.mqtt_poses_bytes} B`,
    ],
  ];
}

if (import.meta.main) {
  const { values } = parseArgs({
    args: Deno.args,
    options: {
      streams: { type: "string", default: "64" },
      fps: { type: "string", default: "30" },
      seconds: { type: "string", default: "5" },
    },
    strict: true,
  });
  const int = (name: string, text: string): number => {
    const v = Number(text);
    if (!Number.isInteger(v) || v < 1) {
      console.error(
        `bench-mqtt: invalid --${name}: ${JSON.stringify(text)} is not an integer >= 1`,
      );
      Deno.exit(2);
    }
    return v;
  };
  const cost = await measureMqttCost({
    streams: int("streams", values.streams),
    fps: int("fps", values.fps),
    seconds: int("seconds", values.seconds),
    progress: (line) => console.error(line),
  });
  for (const [label, value, note] of mqttBenchRows(cost)) {
    console.log(`${label}  ${value}  ${note}`);
  }
  console.log(JSON.stringify({ ...mqttBenchJson(cost), detail: cost }));
  Deno.exit(0);
}
