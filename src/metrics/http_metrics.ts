// The HTTP front's metrics: connections held, closed on the front's own initiative, failed accepts.

import type client from "prom-client";
import {
  HTTP_CLOSE_REASONS,
  type HttpCloseReason,
  POSE_HTTP_ACCEPT_ERRORS_TOTAL,
  POSE_HTTP_CONNECTIONS_CLOSED_TOTAL,
  POSE_HTTP_CONNECTIONS_OPEN,
} from "./definitions.ts";
import { IndexedCounter, IndexedGauge } from "./indexed_metrics.ts";

/** The HTTP front's series, each at zero from the start. */
export class HttpMetrics {
  readonly openConnections: IndexedGauge;
  readonly closedConnections: IndexedCounter;
  readonly acceptErrors: IndexedCounter;

  constructor(registry: client.Registry) {
    this.openConnections = new IndexedGauge(POSE_HTTP_CONNECTIONS_OPEN, [{}]);
    this.closedConnections = new IndexedCounter(
      POSE_HTTP_CONNECTIONS_CLOSED_TOTAL,
      HTTP_CLOSE_REASONS.map((reason) => ({ reason })),
    );
    this.acceptErrors = new IndexedCounter(POSE_HTTP_ACCEPT_ERRORS_TOTAL, [{}]);
    for (const metric of [this.openConnections, this.closedConnections, this.acceptErrors]) {
      // prom-client types registerMetric for its own Metric class; ours implements the part it reads.
      registry.registerMetric(metric as unknown as client.Metric);
    }
  }

  open(count: number): void {
    this.openConnections.set(0, count);
  }

  closed(reason: HttpCloseReason): void {
    this.closedConnections.inc(HTTP_CLOSE_REASONS.indexOf(reason));
  }

  acceptError(): void {
    this.acceptErrors.inc(0);
  }
}
