// Publishes results and track events to an MQTT broker with mqtt.js: availability (the last
// will), each stream's retained state, track events and, with --mqtt-poses, every frame's
// result. The broker going away never stops the pipeline: messages wait in a bounded outbox,
// the connection comes back with backoff, and every message is counted by its outcome.

import { mqttJs as mqtt } from "./mqtt_client.ts";
import type { IClientOptions, MqttClient } from "./mqtt_client.ts";
import type { Logger } from "../log.ts";
import {
  MQTT_TOPIC_KINDS,
  type MqttConnectFailureReason,
  type MqttTopicKind,
} from "../metrics/definitions.ts";
import type { FrameResult, ResultSink } from "../pipeline/result.ts";
import { resultJson } from "../pipeline/jsonl_sink.ts";
import type { StreamKey, StreamListener } from "../streams/running_stream.ts";
import type { StreamSnapshot } from "../streams/stream_snapshot.ts";
import type { StreamTrackEvents, TrackEventListener } from "../tracking/track_events.ts";
import type { MqttConfig, MqttSecrets } from "./mqtt_config.ts";
import type { MqttMetrics } from "./mqtt_metrics.ts";
import { MqttOutbox, type OutboxMessage } from "./mqtt_outbox.ts";
import {
  mqttTopics,
  stateKey,
  statePayload,
  trackEndPayload,
  trackNewPayload,
  trackUpdatePayload,
} from "./mqtt_payloads.ts";
import type { MqttUrl } from "./mqtt_url.ts";

/** Options of {@linkcode MqttPublisher.start}. */
export interface MqttPublisherOptions {
  /** The --mqtt-* slice; its `url` must be set. */
  config: MqttConfig;
  /** The password and CA read from their files. */
  secrets: MqttSecrets;
  metrics: MqttMetrics;
  log: Logger;
  /** Every running stream's snapshot (what the status display shows). */
  streams: () => readonly StreamSnapshot[];
  /** A state is published at least this often, besides on each change. @default {10000} */
  stateIntervalMs?: number;
  /** How often the states are looked at for a change. @default {1000} */
  stateCheckMs?: number;
  /** At most one `update` per track this often, in frame time. @default {1000} */
  trackUpdateMs?: number;
  /** Least time between two log lines about lost messages. @default {5000} */
  lossLogIntervalMs?: number;
  /** The first wait before reconnecting; it doubles on each failure, jittered. @default {1000} */
  reconnectMinMs?: number;
  /** The longest wait before reconnecting. @default {30000} */
  reconnectMaxMs?: number;
  /** How long the start waits for the first connection before it runs on without. @default {5000} */
  connectTimeoutMs?: number;
}

/** Thrown by {@linkcode MqttPublisher.start} when the broker refuses the exporter for good. */
export class MqttStartError extends Error {
  /** The broker, without the password. */
  readonly broker: string;
  readonly reason: MqttConnectFailureReason;

  /**
   * @param broker the broker's display URL
   * @param reason why
   * @param message the one line the user sees
   * @param options the cause
   */
  constructor(
    broker: string,
    reason: MqttConnectFailureReason,
    message: string,
    options?: ErrorOptions,
  ) {
    super(message, options);
    this.name = "MqttStartError";
    this.broker = broker;
    this.reason = reason;
  }
}

const UNREACHABLE_CODES = new Set([
  "ECONNREFUSED",
  "ECONNRESET",
  "ENOTFOUND",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "EPIPE",
]);

/** mqtt.js's (node:tls's) words for a TLS handshake that did not complete. */
const TLS_HANDSHAKE_FAILED =
  /before secure TLS connection was established|wrong version number|packet length too long|tls handshake/i;

/** node:tls's words and codes for a certificate that does not verify. */
const CERTIFICATE_FAILED = /certificate|self[- ]signed|unable to verify|altnames|UNABLE_TO|CERT_/i;

/**
 * Whether a TLS failure is the broker's certificate not verifying (the fix: --mqtt-ca-file),
 * rather than a handshake cut short (a plain port, a broker going down).
 */
export function isCertificateError(err: Error): boolean {
  const code = (err as Error & { code?: unknown }).code;
  return CERTIFICATE_FAILED.test(err.message) ||
    (typeof code === "string" && CERTIFICATE_FAILED.test(code));
}

/**
 * Why a connection attempt failed, from mqtt.js's error: a CONNACK refusal code (4 bad user or
 * password, 5 not authorized; MQTT 5's 134 and 135), a socket error, a TLS verification error.
 */
export function classifyConnectError(err: Error): MqttConnectFailureReason {
  const code = (err as Error & { code?: unknown }).code;
  if (code === 4 || code === 5 || code === 134 || code === 135) return "not_authorized";
  // A TLS handshake cut short (mqtts:// to a plain port) comes as ECONNRESET: still TLS's.
  if (TLS_HANDSHAKE_FAILED.test(err.message)) return "tls";
  if (typeof code === "string" && UNREACHABLE_CODES.has(code)) return "unreachable";
  if (/certificate|self[- ]signed|ssl|tls|handshake/i.test(err.message)) return "tls";
  if (typeof code === "string" && /^(ERR_TLS|ERR_SSL|CERT_|UNABLE_TO)/.test(code)) return "tls";
  if (/connack timeout|keepalive timeout|connect ECONN|getaddrinfo/i.test(err.message)) {
    return "unreachable";
  }
  return "other";
}

/** Per tracked person: when its last `update` went, and when it was last seen (frame time). */
interface TrackEntry {
  lastUpdate: number;
  lastSeen: number;
  dims: 2 | 3;
}

/** A stream's topics, built once. */
interface StreamTopics {
  state: string;
  tracks: string;
  poses: string;
}

/**
 * The MQTT publisher: a result sink (poses, track updates), a track event listener (`new`,
 * `end`) and a stream listener (a removed stream's retained state is cleared). Its own timer
 * publishes the states; it never blocks the caller.
 */
export class MqttPublisher implements ResultSink, TrackEventListener, StreamListener {
  readonly url: MqttUrl;
  readonly clientId: string;
  #config: MqttConfig;
  #options: MqttPublisherOptions;
  #log: Logger;
  #metrics: MqttMetrics;
  #client: MqttClient;
  #outbox: MqttOutbox;
  #prefix: string;
  #topics = new Map<string, StreamTopics>();
  #tracks = new Map<number, Map<number, TrackEntry>>();
  #runIds = new Map<number, string>();
  #activeTracks = new Map<number, number>();
  #lastState = new Map<string, { key: string; at: number }>();
  #removed = new Set<string>();
  #timer: ReturnType<typeof setInterval> | undefined;
  #connected = false;
  #everConnected = false;
  #stopping = false;
  #disconnectedAt = 0;
  #attempts = 0;
  #lastFailureLog = -Infinity;
  #lastFailureReason: MqttConnectFailureReason | null = null;
  #failuresSinceLog = 0;
  #lastLossLog = -Infinity;
  /** Losses not yet logged, per outcome and kind (one object, reused). */
  #lossesSinceLog: Record<"dropped" | "failed", Record<MqttTopicKind, number>> = {
    dropped: { available: 0, state: 0, tracks: 0, poses: 0 },
    failed: { available: 0, state: 0, tracks: 0, poses: 0 },
  };
  #lossesPending = 0;
  #lastLossReason = "";
  #firstOutcome:
    | ((result: { reason: MqttConnectFailureReason; err: Error } | null) => void)
    | null = null;
  #updateMs: number;

  private constructor(options: MqttPublisherOptions) {
    const config = options.config;
    if (config.url === null) throw new TypeError("MqttPublisher needs config.url");
    this.url = config.url;
    this.#config = config;
    this.#options = options;
    this.#log = options.log;
    this.#metrics = options.metrics;
    this.#prefix = config.topicPrefix;
    this.#updateMs = options.trackUpdateMs ?? 1000;
    this.clientId = config.clientId ?? `pose-exporter-${crypto.randomUUID().slice(0, 8)}`;
    this.#outbox = new MqttOutbox({
      maxBytes: config.queueBytes,
      send: (message, done) => this.#send(message, done),
      count: (kind, outcome, n) => this.#metrics.count(kind, outcome, n),
      onLoss: (kind, outcome, reason) => this.#recordLoss(kind, outcome, reason),
    });
    const clientOptions: IClientOptions = {
      clientId: this.clientId,
      clean: true,
      protocolVersion: 4,
      keepalive: 30,
      connectTimeout: options.connectTimeoutMs ?? 5000,
      reconnectPeriod: this.#backoff(0),
      reconnectOnConnackError: true,
      // The outbox never hands a message on while disconnected; mqtt.js need not queue any.
      queueQoSZero: false,
      will: {
        topic: mqttTopics.available(this.#prefix),
        payload: "offline",
        qos: config.qos,
        retain: true,
      },
      ...(this.url.username !== null ? { username: this.url.username } : {}),
      ...(options.secrets.password !== null ? { password: options.secrets.password } : {}),
      ...(options.secrets.ca !== null ? { ca: options.secrets.ca } : {}),
      rejectUnauthorized: true,
    };
    this.#client = mqtt.connect(this.url.broker, clientOptions);
    this.#client.on("connect", () => this.#onConnect());
    this.#client.on("close", () => this.#onClose());
    this.#client.on("error", (err) => this.#onError(err));
    this.#client.on("reconnect", () => {
      this.#attempts++;
      this.#client.options.reconnectPeriod = this.#backoff(this.#attempts);
    });
    this.#metrics.connected.set(0, 0);
  }

  /**
   * Connects to the broker. A broker that refuses the login or whose certificate is not
   * trusted ends the start; one that cannot be reached is tried again and again with backoff
   * while the exporter runs (said in the log).
   *
   * @param options the config, its secrets, metrics, log and the streams' snapshots
   * @returns the publisher, connected or trying to
   * @throws {MqttStartError} naming the broker, when it refused the login or its certificate
   */
  static async start(options: MqttPublisherOptions): Promise<MqttPublisher> {
    const publisher = new MqttPublisher(options);
    // Settled by the first connect, error or close; and, whatever mqtt.js does (a name lookup
    // that hangs, a close with no error), by this deadline: the start never waits longer.
    const waitMs = (options.connectTimeoutMs ?? 5000) + 500;
    let deadline: ReturnType<typeof setTimeout> | undefined;
    const outcome = await new Promise<{ reason: MqttConnectFailureReason; err: Error } | null>(
      (resolve) => {
        publisher.#firstOutcome = resolve;
        if (publisher.#connected) resolve(null);
        deadline = setTimeout(() => {
          publisher.#metrics.connectFailed("unreachable");
          resolve({ reason: "unreachable", err: new Error(`no answer within ${waitMs} ms`) });
        }, waitMs);
      },
    );
    clearTimeout(deadline);
    publisher.#firstOutcome = null;
    // A refused login and an untrusted certificate stay so: the start ends. A handshake cut
    // short may be a broker going down: it is tried again, as an unreachable one.
    const fatal = outcome !== null &&
      (outcome.reason === "not_authorized" ||
        (outcome.reason === "tls" && isCertificateError(outcome.err)));
    if (outcome !== null && fatal) {
      publisher.#stopping = true;
      publisher.#client.end(true);
      const who = publisher.url.username === null
        ? "an anonymous login"
        : `the login of user ${JSON.stringify(publisher.url.username)}`;
      const message = outcome.reason === "not_authorized"
        ? `MQTT broker ${publisher.url.display} refused ${who}: ${outcome.err.message}`
        : `Cannot connect to MQTT broker ${publisher.url.display}: its TLS certificate is not ` +
          `trusted (${outcome.err.message}; give its CA with --mqtt-ca-file)`;
      throw new MqttStartError(publisher.url.display, outcome.reason, message, {
        cause: outcome.err,
      });
    }
    if (outcome !== null) {
      // Said once: the retries that follow for the same reason are not a second line at once.
      publisher.#lastFailureLog = performance.now();
      publisher.#lastFailureReason = outcome.reason;
      options.log.warn(
        "MQTT broker not reachable at start: the exporter runs without it and keeps trying",
        {
          broker: publisher.url.display,
          reason: outcome.reason,
          error: outcome.err.message,
          ...(outcome.reason === "tls"
            ? { hint: "the TLS handshake failed: is the port the broker's TLS one (mqtts://)?" }
            : {}),
        },
      );
    }
    publisher.#timer = setInterval(() => publisher.#tick(), options.stateCheckMs ?? 1000);
    return publisher;
  }

  /** Whether the client is connected now. */
  get connected(): boolean {
    return this.#connected;
  }

  /** Messages waiting (queued or in flight). */
  get waiting(): number {
    return this.#outbox.queued + this.#outbox.inflight;
  }

  /** The reconnect wait after `attempts` failures: doubling from the minimum, 50-100% of it. */
  #backoff(attempts: number): number {
    const min = this.#options.reconnectMinMs ?? 1000;
    const max = this.#options.reconnectMaxMs ?? 30000;
    const wait = Math.min(max, min * 2 ** Math.min(attempts, 20));
    return Math.max(1, Math.round(wait * (0.5 + 0.5 * Math.random())));
  }

  #send(message: OutboxMessage, done: (err?: Error) => void): void {
    this.#client.publish(
      message.topic,
      message.payload,
      { qos: this.#config.qos, retain: message.retain },
      (err) => done(err ?? undefined),
    );
  }

  #onConnect(): void {
    this.#connected = true;
    this.#attempts = 0;
    this.#client.options.reconnectPeriod = this.#backoff(0);
    this.#metrics.connected.set(0, 1);
    if (this.#everConnected) {
      this.#log.info("reconnected to the MQTT broker", {
        broker: this.url.display,
        offline_s: Math.round((performance.now() - this.#disconnectedAt) / 100) / 10,
      });
    } else {
      this.#log.info("connected to the MQTT broker", {
        broker: this.url.display,
        client_id: this.clientId,
        prefix: this.#prefix,
      });
    }
    this.#everConnected = true;
    this.#failuresSinceLog = 0;
    this.#lastFailureLog = -Infinity;
    this.#lastFailureReason = null;
    // A broker without persistence forgot the retained messages: publish them again, first.
    this.#lastState.clear();
    this.#publishStates({ first: true });
    this.#outbox.push({
      kind: "available",
      topic: mqttTopics.available(this.#prefix),
      payload: "online",
      retain: true,
    }, { first: true });
    this.#outbox.setOpen(true);
    const settle = this.#firstOutcome;
    this.#firstOutcome = null;
    settle?.(null);
  }

  #onClose(): void {
    this.#outbox.setOpen(false);
    if (!this.#connected && this.#firstOutcome !== null) {
      // Closed before any CONNACK and with no error (the error, when one came, settled it).
      const settle = this.#firstOutcome;
      this.#firstOutcome = null;
      this.#metrics.connectFailed("other");
      settle({
        reason: "other",
        err: new Error("the connection closed before the broker answered"),
      });
    }
    if (!this.#connected) return;
    this.#connected = false;
    this.#disconnectedAt = performance.now();
    this.#metrics.connected.set(0, 0);
    if (!this.#stopping) {
      this.#log.warn("lost the connection to the MQTT broker: reconnecting with backoff", {
        broker: this.url.display,
        waiting_messages: this.waiting,
      });
    }
  }

  #onError(err: Error): void {
    const reason = classifyConnectError(err);
    if (this.#connected && reason === "other") {
      this.#log.warn("MQTT client error", { broker: this.url.display, error: err.message });
      return;
    }
    this.#metrics.connectFailed(reason);
    if (this.#firstOutcome !== null) {
      const settle = this.#firstOutcome;
      this.#firstOutcome = null;
      settle({ reason, err });
      return;
    }
    if (this.#stopping) return;
    this.#failuresSinceLog++;
    const now = performance.now();
    // A new reason (the broker back, now refusing a changed password) is said at once; the same
    // one again at most every 30 s.
    if (reason === this.#lastFailureReason && now - this.#lastFailureLog < 30_000) return;
    this.#lastFailureLog = now;
    this.#lastFailureReason = reason;
    this.#log.warn("cannot connect to the MQTT broker: retrying with backoff", {
      broker: this.url.display,
      reason,
      error: err.message,
      attempts: this.#failuresSinceLog,
      retry_in_s: Math.round(Number(this.#client.options.reconnectPeriod ?? 0) / 100) / 10,
    });
    this.#failuresSinceLog = 0;
  }

  #recordLoss(kind: MqttTopicKind, outcome: "dropped" | "failed", reason: string): void {
    this.#lossesSinceLog[outcome][kind]++;
    this.#lossesPending++;
    this.#lastLossReason = reason;
    // At the stop the losses are said once, in close()'s last line.
    if (!this.#stopping) this.#logLosses(false);
  }

  /**
   * Logs the losses since the last line, per outcome and kind (`dropped_poses=...`), at most
   * every interval unless `force` (the stop's last line); nothing when none is pending.
   */
  #logLosses(force: boolean): void {
    if (this.#lossesPending === 0) return;
    const now = performance.now();
    if (!force && now - this.#lastLossLog < (this.#options.lossLogIntervalMs ?? 5000)) return;
    this.#lastLossLog = now;
    const fields: Record<string, string | number> = {
      broker: this.url.display,
      reason: this.#lastLossReason,
    };
    for (const outcome of ["dropped", "failed"] as const) {
      const counts = this.#lossesSinceLog[outcome];
      let total = 0;
      for (const kind of MQTT_TOPIC_KINDS) total += counts[kind];
      fields[outcome] = total;
      for (const kind of MQTT_TOPIC_KINDS) {
        if (counts[kind] > 0) fields[`${outcome}_${kind}`] = counts[kind];
        counts[kind] = 0;
      }
    }
    fields.queue_mib = Math.round(this.#config.queueBytes / 2 ** 20 * 100) / 100;
    this.#log.warn("MQTT messages lost", fields);
    this.#lossesPending = 0;
  }

  #topicsOf(streamId: string): StreamTopics {
    let topics = this.#topics.get(streamId);
    if (topics === undefined) {
      topics = {
        state: mqttTopics.state(this.#prefix, streamId),
        tracks: mqttTopics.tracks(this.#prefix, streamId),
        poses: mqttTopics.poses(this.#prefix, streamId),
      };
      this.#topics.set(streamId, topics);
    }
    return topics;
  }

  /** The timer's work: the queue's size (connected or not: it grows while the broker is away). */
  #tick(): void {
    this.#publishStates();
    this.#logLosses(false);
    this.#metrics.queueBytes.set(0, this.#outbox.bytes);
  }

  /**
   * Publishes each stream's state that changed or is due, and clears the retained state of
   * removed streams; only while connected (a reconnect publishes them all again).
   */
  #publishStates(options: { first?: boolean } = {}): void {
    if (!this.#connected || this.#stopping) return;
    const now = Date.now();
    const interval = this.#options.stateIntervalMs ?? 10_000;
    const ids = new Set<string>();
    for (const snapshot of this.#options.streams()) {
      ids.add(snapshot.id);
      const payload = statePayload(snapshot, this.#activeTracks.get(snapshot.index) ?? 0, now);
      const key = stateKey(payload);
      const last = this.#lastState.get(snapshot.id);
      if (last !== undefined && last.key === key && now - last.at < interval) continue;
      this.#lastState.set(snapshot.id, { key, at: now });
      this.#outbox.push({
        kind: "state",
        topic: this.#topicsOf(snapshot.id).state,
        payload: JSON.stringify(payload),
        retain: true,
      }, options);
    }
    for (const id of this.#removed) {
      if (ids.has(id)) continue;
      this.#outbox.push({
        kind: "state",
        topic: this.#topicsOf(id).state,
        payload: "",
        retain: true,
      }, options);
      this.#lastState.delete(id);
      this.#topics.delete(id);
    }
    this.#removed.clear();
    this.#metrics.queueBytes.set(0, this.#outbox.bytes);
  }

  /** Takes one frame's result: its poses (with --mqtt-poses) and its tracked persons' updates. */
  write(result: FrameResult): void {
    if (this.#stopping) return;
    const topics = this.#topicsOf(result.streamId);
    if (this.#config.poses) {
      this.#outbox.push({
        kind: "poses",
        topic: topics.poses,
        payload: resultJson(result),
        retain: false,
      });
    }
    const stream = result.frame.stream;
    const at = result.frame.capturedAt;
    let tracks: Map<number, TrackEntry> | undefined;
    for (const person of result.persons) {
      if (person.trackId === undefined) continue;
      tracks ??= this.#tracksOf(stream);
      const entry = tracks.get(person.trackId);
      if (entry === undefined) {
        // First sight: its `new` event (or its first update, a second on) covers it.
        tracks.set(person.trackId, {
          lastUpdate: at,
          lastSeen: at,
          dims: person.keypointDims ?? 3,
        });
        continue;
      }
      entry.lastSeen = at;
      if (at - entry.lastUpdate < this.#updateMs) continue;
      entry.lastUpdate = at;
      this.#outbox.push({
        kind: "tracks",
        topic: topics.tracks,
        payload: JSON.stringify(
          trackUpdatePayload(result.streamId, this.#runIds.get(stream) ?? null, person, at),
        ),
        retain: false,
      });
    }
    if (tracks !== undefined) this.#pruneTracks(tracks, at);
  }

  #tracksOf(stream: number): Map<number, TrackEntry> {
    let tracks = this.#tracks.get(stream);
    if (tracks === undefined) {
      tracks = new Map();
      this.#tracks.set(stream, tracks);
    }
    return tracks;
  }

  /** Forgets tracks not seen for a minute whose end never came (a tracker without events). */
  #pruneTracks(tracks: Map<number, TrackEntry>, now: number): void {
    if (tracks.size < 64) return;
    for (const [id, entry] of tracks) if (now - entry.lastSeen > 60_000) tracks.delete(id);
  }

  /** Takes the tracks of a stream that started or ended: their `new` and `end` events. */
  tracksChanged(events: StreamTrackEvents): void {
    this.#runIds.set(events.stream, events.runId);
    this.#activeTracks.set(events.stream, events.active);
    if (this.#stopping) return;
    const topic = this.#topicsOf(events.streamId).tracks;
    const tracks = this.#tracksOf(events.stream);
    for (const started of events.started) {
      const entry = tracks.get(started.trackId);
      if (entry === undefined) {
        tracks.set(started.trackId, { lastUpdate: started.atMs, lastSeen: started.atMs, dims: 3 });
      } else {
        entry.lastUpdate = Math.max(entry.lastUpdate, started.atMs);
      }
      this.#outbox.push({
        kind: "tracks",
        topic,
        payload: JSON.stringify(trackNewPayload(events.streamId, started)),
        retain: false,
      });
    }
    for (const ended of events.ended) {
      const dims = tracks.get(ended.trackId)?.dims ?? 3;
      tracks.delete(ended.trackId);
      this.#outbox.push({
        kind: "tracks",
        topic,
        payload: JSON.stringify(trackEndPayload(events.streamId, ended, dims)),
        retain: false,
      });
    }
  }

  /** A stream came: its state goes at the next check. */
  streamAdded(key: StreamKey): void {
    this.#removed.delete(key.id);
  }

  /** A stream went: its retained state is cleared at the next check (unless it came back). */
  streamRemoved(key: StreamKey): void {
    this.#removed.add(key.id);
    this.#tracks.delete(key.index);
    this.#runIds.delete(key.index);
    this.#activeTracks.delete(key.index);
  }

  /**
   * Publishes each stream's last state, sends what waits (with `offline` last, retained), then
   * disconnects. With a `deadline`, what has not gone by then is dropped (queued) or failed (in
   * flight), and counted.
   */
  async close(deadline?: Promise<void>): Promise<void> {
    if (this.#stopping) return;
    clearInterval(this.#timer);
    // The streams have stopped by now: their last state (down, with why) stays retained.
    this.#publishStates();
    if (this.#connected) {
      this.#outbox.push({
        kind: "available",
        topic: mqttTopics.available(this.#prefix),
        payload: "offline",
        retain: true,
      });
    }
    this.#stopping = true;
    if (this.#connected) {
      const late = deadline ?? new Promise<void>((r) => setTimeout(r, 5000));
      await Promise.race([this.#outbox.idle(), late]);
    }
    this.#outbox.dropQueued("the exporter stopped before the broker took them");
    const ended = new Promise<void>((resolve) =>
      this.#client.end(!this.#connected, {}, () => resolve())
    );
    let timer: ReturnType<typeof setTimeout> | undefined;
    const gaveUp = new Promise<boolean>((r) => (timer = setTimeout(() => r(false), 1000)));
    const clean = await Promise.race([ended.then(() => true), gaveUp]);
    clearTimeout(timer);
    if (!clean) this.#client.end(true);
    this.#outbox.abandonInflight("the exporter stopped before the broker acknowledged them");
    this.#logLosses(true);
    this.#metrics.connected.set(0, 0);
    this.#metrics.queueBytes.set(0, 0);
    const m = this.#metrics;
    const sum = (outcome: "sent" | "dropped" | "failed") =>
      (["available", "state", "tracks", "poses"] as const).reduce(
        (total, kind) => total + m.value(kind, outcome),
        0,
      );
    const sent = sum("sent");
    const dropped = sum("dropped");
    const failed = sum("failed");
    this.#log.info("MQTT publisher stopped", {
      broker: this.url.display,
      produced: sent + dropped + failed,
      sent,
      dropped,
      failed,
      poses_sent: this.#config.poses ? m.value("poses", "sent") : undefined,
    });
  }
}
