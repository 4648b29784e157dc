// Walks the path from the exporter to the Grafana panel, check by check, in the order the data flows.

import type { CheckResult } from "./check_result.ts";
import { skip } from "./check_result.ts";
import { checkExporter, checkListenAddress } from "./exporter_checks.ts";
import { checkGrafana, type GrafanaAuth } from "./grafana_checks.ts";
import { checkPrometheus } from "./prometheus_checks.ts";

/** Options of {@linkcode runDoctor}. */
export interface DoctorOptions {
  /** The exporter's base URL. */
  exporter: URL;
  /** Prometheus' URL. */
  prometheus: URL;
  /** Grafana's URL; Grafana is checked only when given. @default {null} */
  grafana?: URL | null;
  /** Grafana credentials. @default {anonymous} */
  grafanaAuth?: GrafanaAuth;
  /** Deadline of each request, ms. @default {3000} */
  timeoutMs?: number;
  /** Headers sent to the exporter (its basic auth login). @default {{}} */
  exporterHeaders?: Record<string, string>;
  /** The client that trusts the exporter's CA. @default {fetch's own} */
  exporterClient?: Deno.HttpClient;
  /** Grafana datasource uid. @default {"prometheus_ds"} */
  datasourceUid?: string;
  /** Grafana dashboard uid. @default {"pose-exporter"} */
  dashboardUid?: string;
  /** Where proc is mounted. @default {"/proc"} */
  procRoot?: string;
}

/**
 * Runs every check: the exporter (metrics, contract, ready), where it listens, Prometheus (up,
 * targets, series, rules), then Grafana when given (health, datasource, dashboard, panels).
 *
 * @example
 * ```ts
 * const results = await runDoctor({
 *   exporter: new URL("http://127.0.0.1:8000"),
 *   prometheus: new URL("http://127.0.0.1:9090"),
 * });
 * const failed = results.some((r) => r.status === "fail");
 * ```
 *
 * @param options the URLs and settings
 * @returns the results, in the order the data flows
 */
export async function runDoctor(options: DoctorOptions): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const exporter = await checkExporter(options.exporter, {
    timeoutMs,
    ...(options.procRoot ? { procRoot: options.procRoot } : {}),
    ...(options.exporterHeaders
      ? { headers: options.exporterHeaders, loggedIn: "authorization" in options.exporterHeaders }
      : {}),
    ...(options.exporterClient ? { client: options.exporterClient } : {}),
  });
  const prometheus = await checkPrometheus(options.prometheus, exporter.facts, {
    timeoutMs,
    ...(options.procRoot ? { procRoot: options.procRoot } : {}),
  });
  const targets = prometheus.facts.exporterTargets;
  const listen = checkListenAddress(
    exporter.facts,
    targets === null ? null : targets.filter((t) => t.port === exporter.facts.port).map((t) => ({
      host: t.host,
      port: t.port,
    })),
    prometheus.facts.unknownReason,
  );
  const results = [...exporter.results, listen, ...prometheus.results];
  if (!options.grafana) {
    results.push(skip("grafana", "not checked: no --grafana given"));
    return results;
  }
  results.push(
    ...await checkGrafana(options.grafana, {
      timeoutMs,
      ...(options.grafanaAuth ? { auth: options.grafanaAuth } : {}),
      ...(options.datasourceUid ? { datasourceUid: options.datasourceUid } : {}),
      ...(options.dashboardUid ? { dashboardUid: options.dashboardUid } : {}),
      readsGpu: exporter.facts.readsGpu,
      scrapeIntervalSeconds: prometheus.facts.scrapeIntervalSeconds,
      prometheusUrl: prometheus.facts.answered ? options.prometheus : null,
      seriesFound: prometheus.facts.seriesFound,
    }),
  );
  return results;
}
