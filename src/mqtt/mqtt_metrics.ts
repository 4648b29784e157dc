// The MQTT publisher's own series: messages by topic kind and outcome, the connection, its
// failed attempts and the queue; registered only when --mqtt-url is given.

import {
  MQTT_CONNECT_FAILURE_REASONS,
  MQTT_OUTCOMES,
  MQTT_TOPIC_KINDS,
  type MqttConnectFailureReason,
  type MqttOutcome,
  type MqttTopicKind,
  POSE_MQTT_CONNECT_FAILURES_TOTAL,
  POSE_MQTT_CONNECTED,
  POSE_MQTT_MESSAGES_TOTAL,
  POSE_MQTT_QUEUE_BYTES,
} from "../metrics/definitions.ts";
import { IndexedCounter, IndexedGauge, type IndexedMetric } from "../metrics/indexed_metrics.ts";

/** Where the series are registered: the exporter's metrics (`PoseMetrics.register`). */
export interface MetricRegistrar {
  register(metric: IndexedMetric): void;
}

/** The publisher's counters and gauges; every label set exists from the start, at zero. */
export class MqttMetrics {
  readonly messages: IndexedCounter;
  readonly connected: IndexedGauge;
  readonly connectFailures: IndexedCounter;
  readonly queueBytes: IndexedGauge;

  /** @param registrar where the series are registered; none (tests): not registered */
  constructor(registrar?: MetricRegistrar) {
    this.messages = new IndexedCounter(
      POSE_MQTT_MESSAGES_TOTAL,
      MQTT_TOPIC_KINDS.flatMap((topic_kind) =>
        MQTT_OUTCOMES.map((outcome) => ({ topic_kind, outcome }))
      ),
    );
    this.connected = new IndexedGauge(POSE_MQTT_CONNECTED, [{}]);
    this.connectFailures = new IndexedCounter(
      POSE_MQTT_CONNECT_FAILURES_TOTAL,
      MQTT_CONNECT_FAILURE_REASONS.map((reason) => ({ reason })),
    );
    this.queueBytes = new IndexedGauge(POSE_MQTT_QUEUE_BYTES, [{}]);
    for (const m of [this.messages, this.connected, this.connectFailures, this.queueBytes]) {
      registrar?.register(m);
    }
  }

  /**
   * Counts `n` messages of `kind` that ended as `outcome`.
   *
   * @param kind the topic kind
   * @param outcome sent, dropped or failed
   * @param n how many @default {1}
   */
  count(kind: MqttTopicKind, outcome: MqttOutcome, n = 1): void {
    this.messages.inc(
      MQTT_TOPIC_KINDS.indexOf(kind) * MQTT_OUTCOMES.length + MQTT_OUTCOMES.indexOf(outcome),
      n,
    );
  }

  /**
   * The count of `kind` messages that ended as `outcome`.
   *
   * @param kind the topic kind
   * @param outcome sent, dropped or failed
   * @returns the count
   */
  value(kind: MqttTopicKind, outcome: MqttOutcome): number {
    return this.messages.value(
      MQTT_TOPIC_KINDS.indexOf(kind) * MQTT_OUTCOMES.length + MQTT_OUTCOMES.indexOf(outcome),
    );
  }

  /**
   * Counts one failed connection attempt.
   *
   * @param reason why it failed
   */
  connectFailed(reason: MqttConnectFailureReason): void {
    this.connectFailures.inc(MQTT_CONNECT_FAILURE_REASONS.indexOf(reason));
  }
}
