// The HTTP handler: /metrics (Prometheus text or OpenMetrics, gzipped when asked), /healthz,
// /readyz, /-/reload.

import client from "prom-client";
import type { Logger } from "../log.ts";
import { POSE_SCRAPE_COLLECT_ERRORS_TOTAL } from "./definitions.ts";
import type { IndexedMetric } from "./indexed_metrics.ts";
import { acceptsGzip, GzipCache } from "./compression.ts";

/** Whether the exporter is ready, and why not when it is not. */
export interface Readiness {
  ready: boolean;
  /** Why it is not ready (e.g. "no stream is up"); empty when ready. */
  reason: string;
}

/** Options of {@linkcode createMetricsHandler}. */
export interface MetricsHandlerOptions {
  /** Whether the exporter is ready (model loaded and frames flowing). @default {always ready} */
  readiness?: () => Readiness;
  /** Logs failed renders. */
  log?: Logger;
  /** Answers `POST /-/reload` (only given with --web-enable-lifecycle); absent: 404. */
  reload?: () => Promise<{ ok: boolean; message: string; status?: number }>;
  /** Routes consulted first (the live view); null from it means "not mine". */
  routes?: (request: Request) => Promise<Response | null>;
}

/**
 * Renders a registry in either exposition format, one render at a time. Scrapes that arrive
 * while a render of their format waits its turn share that render: it starts after they
 * arrived, so none of them is answered with values older than its request, and a burst of
 * scrapes costs at most two renders per format.
 */
export class MetricsRenderer {
  #registry: client.Registry;
  #queue: Promise<unknown> = Promise.resolve();
  /** The render of each format (text, OpenMetrics) queued and not started yet. */
  #waiting: [Promise<string> | null, Promise<string> | null] = [null, null];
  #collectErrors: client.Counter;
  #log: Logger | undefined;

  constructor(registry: client.Registry, log?: Logger) {
    this.#registry = registry;
    this.#log = log;
    const existing = registry.getSingleMetric(POSE_SCRAPE_COLLECT_ERRORS_TOTAL.name);
    this.#collectErrors = (existing as client.Counter | undefined) ?? new client.Counter({
      name: POSE_SCRAPE_COLLECT_ERRORS_TOTAL.name,
      help: POSE_SCRAPE_COLLECT_ERRORS_TOTAL.help,
      labelNames: POSE_SCRAPE_COLLECT_ERRORS_TOTAL.labels,
      registers: [registry],
    });
  }

  /**
   * Renders every metric, one render at a time: the exporter's indexed metrics through
   * their own renderText, prom-client's (default and GPU metrics) through prom-client.
   */
  render(openMetrics: boolean): Promise<string> {
    const slot = openMetrics ? 1 : 0;
    const waiting = this.#waiting[slot];
    if (waiting) return waiting;
    const result = this.#queue.then(async () => {
      this.#waiting[slot] = null;
      const registry = this.#registry;
      // prom-client types setContentType for the text format only; it accepts both.
      registry.setContentType(
        (openMetrics ? client.Registry.OPENMETRICS_CONTENT_TYPE : client.Registry
          .PROMETHEUS_CONTENT_TYPE) as typeof client.Registry.PROMETHEUS_CONTENT_TYPE,
      );
      try {
        // One family that fails to collect costs that family, not the scrape (as node_exporter).
        const rendered = await Promise.all(
          registry.getMetricsAsArray().map(async (metric) => {
            try {
              const indexed = metric as unknown as Partial<IndexedMetric>;
              if (typeof indexed.renderText === "function") return indexed.renderText(openMetrics);
              return await this.#renderPromClient(metric, openMetrics);
            } catch (err) {
              const family = (metric as unknown as { name: string }).name;
              this.#collectErrors.inc({ family });
              this.#log?.warn("metric family left out of the scrape", {
                family,
                error: (err as Error).message ?? String(err),
              });
              return null;
            }
          }),
        );
        const families = rendered.filter((f): f is string => f !== null);
        return openMetrics ? `${families.join("\n")}\n# EOF\n` : `${families.join("\n\n")}\n`;
      } finally {
        registry.setContentType(client.Registry.PROMETHEUS_CONTENT_TYPE);
      }
    });
    this.#waiting[slot] = result;
    this.#queue = result.catch(() => undefined);
    return result;
  }

  /**
   * One prom-client metric. For OpenMetrics prom-client renders a counter under its name
   * without `_total` and (in Registry.metrics) leaves the name so; here it is put back.
   */
  async #renderPromClient(metric: unknown, openMetrics: boolean): Promise<string> {
    const named = metric as unknown as { name: string; type?: string };
    const name = named.name;
    if (openMetrics && named.type === "counter") named.name = name.replace(/_total$/, "");
    try {
      // Registry.getMetricsAsString renders one family; prom-client leaves it out of its types.
      const registry = this.#registry as unknown as {
        getMetricsAsString(metric: unknown): Promise<string>;
      };
      return await registry.getMetricsAsString(metric);
    } finally {
      named.name = name;
    }
  }
}

/** Whether an Accept header asks for OpenMetrics. */
export function wantsOpenMetrics(accept: string | null): boolean {
  return accept !== null && accept.includes("application/openmetrics-text");
}

const INDEX_PAGE = `<!doctype html><html><head><title>pose-exporter</title></head><body>` +
  `<h1>pose-exporter</h1><p><a href="/metrics">Metrics</a> · <a href="/healthz">healthz</a> · ` +
  `<a href="/readyz">readyz</a></p></body></html>\n`;

/**
 * Builds the exporter's HTTP handler: `GET /metrics`, `GET /healthz`, `GET /readyz`, `GET /`,
 * `POST /-/reload` when `options.reload` is given, and `options.routes` first; other paths
 * answer 404 and other methods 405. `/metrics` is gzipped (`Content-Encoding: gzip`) when the
 * request's `Accept-Encoding` allows it, as Prometheus' always does, and says `Vary:
 * Accept-Encoding` either way.
 *
 * @example
 * ```ts
 * const handler = createMetricsHandler(registry, { readiness: () => ({ ready: true, reason: "" }) });
 * const res = await handler(new Request("http://x/metrics"));
 * ```
 */
export function createMetricsHandler(
  registry: client.Registry,
  options: MetricsHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const renderer = new MetricsRenderer(registry, options.log);
  const gzip = new GzipCache();
  const readiness = options.readiness ?? (() => ({ ready: true, reason: "" }));
  const routes = new Set(["/metrics", "/healthz", "/readyz", "/"]);
  return async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (options.routes) {
      const routed = await options.routes(request);
      if (routed !== null) return routed;
    }
    if (pathname === "/-/reload" && options.reload) {
      if (request.method !== "POST" && request.method !== "PUT") {
        return new Response("method not allowed\n", {
          status: 405,
          headers: { allow: "POST, PUT" },
        });
      }
      const outcome = await options.reload();
      return new Response(outcome.message + "\n", {
        status: outcome.status ?? (outcome.ok ? 200 : 500),
      });
    }
    if (!routes.has(pathname)) return new Response("not found\n", { status: 404 });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (pathname === "/healthz") return new Response("ok\n");
    if (pathname === "/readyz") {
      const { ready, reason } = readiness();
      return ready
        ? new Response("ready\n")
        : new Response(`not ready: ${reason}\n`, { status: 503 });
    }
    if (pathname === "/") {
      return new Response(INDEX_PAGE, { headers: { "content-type": "text/html; charset=utf-8" } });
    }
    const openMetrics = wantsOpenMetrics(request.headers.get("accept"));
    try {
      const body = await renderer.render(openMetrics);
      const headers: Record<string, string> = {
        "content-type": openMetrics
          ? client.Registry.OPENMETRICS_CONTENT_TYPE
          : client.Registry.PROMETHEUS_CONTENT_TYPE,
        "vary": "Accept-Encoding",
      };
      // For HEAD too: the server sends the headers (content-length included) without the body.
      if (!acceptsGzip(request.headers.get("accept-encoding"))) {
        return new Response(body, { headers });
      }
      headers["content-encoding"] = "gzip";
      return new Response(gzip.gzip(body), { headers });
    } catch (err) {
      options.log?.error("metrics render failed", { error: String(err) });
      return new Response("metrics render failed\n", { status: 500 });
    }
  };
}
