// The MQTT publisher's bounded queue: messages wait here (never in mqtt.js's unbounded offline
// queue) while the broker is away or slow; beyond the byte bound the oldest are dropped; every
// message ends counted as sent, dropped or failed.

import type { MqttOutcome, MqttTopicKind } from "../metrics/definitions.ts";

/** One message to publish. */
export interface OutboxMessage {
  kind: MqttTopicKind;
  topic: string;
  /** The payload; "" with `retain` clears a retained message. */
  payload: string;
  retain: boolean;
}

/** Hands one message to the client; `done` is called once, with an error when it failed. */
export type OutboxSend = (message: OutboxMessage, done: (err?: Error) => void) => void;

/** Options of {@linkcode MqttOutbox}. */
export interface MqttOutboxOptions {
  /** Bytes (topic plus payload) that may be queued and in flight together. */
  maxBytes: number;
  /** Messages handed to the client whose `done` has not come yet, at most. @default {256} */
  maxInflight?: number;
  /** Hands a message to the client (only while open). */
  send: OutboxSend;
  /** Counts `n` messages of `kind` that ended as `outcome`. */
  count: (kind: MqttTopicKind, outcome: MqttOutcome, n: number) => void;
  /** Told of each loss (dropped or failed) with the reason, for a rate-limited log. */
  onLoss?: (kind: MqttTopicKind, outcome: "dropped" | "failed", reason: string) => void;
}

/** Bytes a message takes: topic and payload (UTF-16 length, equal to UTF-8 for ASCII JSON). */
function sizeOf(message: OutboxMessage): number {
  return message.topic.length + message.payload.length + 8;
}

/**
 * A FIFO of messages bounded by bytes, drained into the client while it is open, at most
 * `maxInflight` at a time. While closed nothing is handed on, so no message waits anywhere
 * unbounded. `produced = sent + dropped + failed + waiting` at every moment.
 */
export class MqttOutbox {
  #queue: (OutboxMessage | undefined)[] = [];
  #head = 0;
  #queuedBytes = 0;
  #inflight = 0;
  #inflightBytes = 0;
  #open = false;
  #options: MqttOutboxOptions;
  #maxInflight: number;
  #idle: (() => void)[] = [];
  /** Bumped by {@linkcode abandonInflight}: a `done` of an older generation is ignored. */
  #generation = 0;
  #inflightKinds = new Map<MqttTopicKind, number>();

  /** @param options the bound, the client and the counters */
  constructor(options: MqttOutboxOptions) {
    if (!(options.maxBytes > 0)) throw new RangeError(`maxBytes must be > 0: ${options.maxBytes}`);
    this.#options = options;
    this.#maxInflight = options.maxInflight ?? 256;
  }

  /** Messages waiting in the queue (not yet handed to the client). */
  get queued(): number {
    return this.#queue.length - this.#head;
  }

  /** Messages handed to the client and not yet done. */
  get inflight(): number {
    return this.#inflight;
  }

  /** Bytes queued and in flight. */
  get bytes(): number {
    return this.#queuedBytes + this.#inflightBytes;
  }

  /**
   * Takes a message (it is produced now). Beyond the bound the oldest queued messages are
   * dropped to make room, or this one when what is in flight fills the bound.
   *
   * @param message the message
   * @param options `first`: put it at the head (the retained messages of a reconnect)
   */
  push(message: OutboxMessage, options: { first?: boolean } = {}): void {
    const size = sizeOf(message);
    const max = this.#options.maxBytes;
    while (this.bytes + size > max && this.queued > 0) {
      const oldest = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined;
      this.#queuedBytes -= sizeOf(oldest);
      this.#lost(oldest.kind, "dropped", "the queue is full");
    }
    if (this.bytes + size > max) {
      this.#lost(message.kind, "dropped", "the queue is full");
      return;
    }
    if (options.first) {
      if (this.#head > 0) this.#queue[--this.#head] = message;
      else this.#queue.unshift(message);
    } else {
      this.#queue.push(message);
    }
    this.#queuedBytes += size;
    this.#pump();
  }

  /** Opens (connected: drain) or closes (disconnected: hold) the way to the client. */
  setOpen(open: boolean): void {
    this.#open = open;
    if (open) this.#pump();
  }

  /** Resolves once nothing is queued or in flight. */
  idle(): Promise<void> {
    if (this.queued === 0 && this.#inflight === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /**
   * Drops every queued message (at a stop), counting them.
   *
   * @param reason why, for the loss log
   * @returns how many were dropped
   */
  dropQueued(reason: string): number {
    const n = this.queued;
    for (let i = this.#head; i < this.#queue.length; i++) {
      this.#lost(this.#queue[i]!.kind, "dropped", reason);
    }
    this.#queue = [];
    this.#head = 0;
    this.#queuedBytes = 0;
    this.#checkIdle();
    return n;
  }

  /**
   * Counts every message in flight as failed and forgets them (the client was ended without
   * calling their `done`); a later `done` of theirs is ignored.
   *
   * @param reason why, for the loss log
   * @returns how many were in flight
   */
  abandonInflight(reason: string): number {
    const n = this.#inflight;
    for (const [kind, count] of this.#inflightKinds) {
      for (let i = 0; i < count; i++) this.#lost(kind, "failed", reason);
    }
    this.#inflightKinds.clear();
    this.#generation++;
    this.#inflight = 0;
    this.#inflightBytes = 0;
    this.#checkIdle();
    return n;
  }

  #lost(kind: MqttTopicKind, outcome: "dropped" | "failed", reason: string): void {
    this.#options.count(kind, outcome, 1);
    this.#options.onLoss?.(kind, outcome, reason);
  }

  #pump(): void {
    while (this.#open && this.#inflight < this.#maxInflight && this.queued > 0) {
      const message = this.#queue[this.#head]!;
      this.#queue[this.#head++] = undefined;
      const size = sizeOf(message);
      this.#queuedBytes -= size;
      this.#inflight++;
      this.#inflightBytes += size;
      this.#inflightKinds.set(message.kind, (this.#inflightKinds.get(message.kind) ?? 0) + 1);
      const generation = this.#generation;
      let called = false;
      this.#options.send(message, (err) => {
        if (called || generation !== this.#generation) return;
        called = true;
        this.#inflight--;
        this.#inflightBytes -= size;
        this.#inflightKinds.set(message.kind, this.#inflightKinds.get(message.kind)! - 1);
        if (err) this.#lost(message.kind, "failed", err.message);
        else this.#options.count(message.kind, "sent", 1);
        this.#pump();
        this.#checkIdle();
      });
    }
    // Compact now and then, so the array does not grow with every message ever queued.
    if (this.#head > 1024 && this.#head * 2 > this.#queue.length) {
      this.#queue = this.#queue.slice(this.#head);
      this.#head = 0;
    }
  }

  #checkIdle(): void {
    if (this.queued > 0 || this.#inflight > 0) return;
    const waiting = this.#idle;
    this.#idle = [];
    for (const resolve of waiting) resolve();
  }
}
