// The HTTP handler: /metrics (Prometheus text or OpenMetrics), /healthz and /readyz.

import client from "prom-client";
import type { Logger } from "../log.ts";
import type { IndexedMetric } from "./indexed_metrics.ts";

/** Options of {@linkcode createMetricsHandler}. */
export interface MetricsHandlerOptions {
  /** Whether the exporter is ready (model loaded and frames flowing). @default {() => true} */
  isReady?: () => boolean;
  /** Logs failed renders. */
  log?: Logger;
}

/** Renders a registry in either exposition format, one render at a time. */
export class MetricsRenderer {
  #registry: client.Registry;
  #queue: Promise<unknown> = Promise.resolve();

  constructor(registry: client.Registry) {
    this.#registry = registry;
  }

  /**
   * Renders every metric, one render at a time: the exporter's indexed metrics through
   * their own renderText, prom-client's (default and GPU metrics) through prom-client.
   */
  render(openMetrics: boolean): Promise<string> {
    const result = this.#queue.then(async () => {
      const registry = this.#registry;
      // prom-client types setContentType for the text format only; it accepts both.
      registry.setContentType(
        (openMetrics ? client.Registry.OPENMETRICS_CONTENT_TYPE : client.Registry
          .PROMETHEUS_CONTENT_TYPE) as typeof client.Registry.PROMETHEUS_CONTENT_TYPE,
      );
      try {
        const families = await Promise.all(
          registry.getMetricsAsArray().map((metric) => {
            const indexed = metric as unknown as Partial<IndexedMetric>;
            if (typeof indexed.renderText === "function") return indexed.renderText(openMetrics);
            return this.#renderPromClient(metric, openMetrics);
          }),
        );
        return openMetrics ? `${families.join("\n")}\n# EOF\n` : `${families.join("\n\n")}\n`;
      } finally {
        registry.setContentType(client.Registry.PROMETHEUS_CONTENT_TYPE);
      }
    });
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

/**
 * Builds the exporter's HTTP handler: `GET /metrics`, `GET /healthz`, `GET /readyz`;
 * other paths answer 404 and other methods 405.
 *
 * @example
 * ```ts
 * const handler = createMetricsHandler(registry, { isReady: () => true });
 * const res = await handler(new Request("http://x/metrics"));
 * ```
 */
export function createMetricsHandler(
  registry: client.Registry,
  options: MetricsHandlerOptions = {},
): (request: Request) => Promise<Response> {
  const renderer = new MetricsRenderer(registry);
  const isReady = options.isReady ?? (() => true);
  const routes = new Set(["/metrics", "/healthz", "/readyz", "/"]);
  return async (request: Request): Promise<Response> => {
    const { pathname } = new URL(request.url);
    if (!routes.has(pathname)) return new Response("not found\n", { status: 404 });
    if (request.method !== "GET" && request.method !== "HEAD") {
      return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
    }
    if (pathname === "/healthz") return new Response("ok\n");
    if (pathname === "/readyz") {
      return isReady() ? new Response("ready\n") : new Response("not ready\n", { status: 503 });
    }
    if (pathname === "/") {
      return new Response(
        `<html><head><title>pose-exporter</title></head><body><h1>pose-exporter</h1>` +
          `<p><a href="/metrics">Metrics</a> · <a href="/healthz">healthz</a> · ` +
          `<a href="/readyz">readyz</a></p></body></html>\n`,
        { headers: { "content-type": "text/html; charset=utf-8" } },
      );
    }
    const openMetrics = wantsOpenMetrics(request.headers.get("accept"));
    try {
      const body = await renderer.render(openMetrics);
      return new Response(request.method === "HEAD" ? null : body, {
        headers: {
          "content-type": openMetrics
            ? client.Registry.OPENMETRICS_CONTENT_TYPE
            : client.Registry.PROMETHEUS_CONTENT_TYPE,
        },
      });
    } catch (err) {
      options.log?.error("metrics render failed", { error: String(err) });
      return new Response("metrics render failed\n", { status: 500 });
    }
  };
}
