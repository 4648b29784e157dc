// The web guard's and the web config's series: requests refused by reason, whether the last read
// of --web-config-file held, its failures, and when the served certificate expires.

import type client from "prom-client";
import {
  HTTP_REJECT_REASONS,
  type HttpRejectReason,
  POSE_HTTP_REQUESTS_REJECTED_TOTAL,
  POSE_HTTP_TLS_CERTIFICATE_EXPIRY_TIMESTAMP_SECONDS,
  POSE_WEB_CONFIG_RELOAD_FAILURES_TOTAL,
  POSE_WEB_CONFIG_RELOAD_SUCCESS,
} from "../metrics/definitions.ts";
import { IndexedCounter, IndexedGauge } from "../metrics/indexed_metrics.ts";

/** The series, each at its starting value from the start (the certificate's only with TLS). */
export class WebMetrics {
  readonly rejectedRequests: IndexedCounter;
  readonly configReloadSuccess: IndexedGauge;
  readonly configReloadFailures: IndexedCounter;
  readonly certificateExpiry: IndexedGauge;

  constructor(registry: client.Registry) {
    this.rejectedRequests = new IndexedCounter(
      POSE_HTTP_REQUESTS_REJECTED_TOTAL,
      HTTP_REJECT_REASONS.map((reason) => ({ reason })),
    );
    this.configReloadSuccess = new IndexedGauge(POSE_WEB_CONFIG_RELOAD_SUCCESS, [{}]);
    this.configReloadSuccess.set(0, 1);
    this.configReloadFailures = new IndexedCounter(POSE_WEB_CONFIG_RELOAD_FAILURES_TOTAL, [{}]);
    this.certificateExpiry = new IndexedGauge(
      POSE_HTTP_TLS_CERTIFICATE_EXPIRY_TIMESTAMP_SECONDS,
      [],
    );
    for (
      const metric of [
        this.rejectedRequests,
        this.configReloadSuccess,
        this.configReloadFailures,
        this.certificateExpiry,
      ]
    ) {
      // prom-client types registerMetric for its own Metric class; ours implements the part it reads.
      registry.registerMetric(metric as unknown as client.Metric);
    }
  }

  /** The guard answered a request itself. */
  rejected(reason: HttpRejectReason): void {
    this.rejectedRequests.inc(HTTP_REJECT_REASONS.indexOf(reason));
  }

  /** A read of the web config file held (true) or was refused (false). */
  reloaded(ok: boolean): void {
    this.configReloadSuccess.set(0, ok ? 1 : 0);
    if (!ok) this.configReloadFailures.inc(0);
  }

  /** The certificate served now expires at `notAfter` (ms since the epoch); null: no TLS. */
  certificate(notAfter: number | null): void {
    if (notAfter === null || !Number.isFinite(notAfter)) {
      this.certificateExpiry.setSeries(0, null);
      return;
    }
    this.certificateExpiry.setSeries(0, {});
    this.certificateExpiry.set(0, Math.round(notAfter / 1000));
  }
}
