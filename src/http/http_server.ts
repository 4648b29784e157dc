// The exporter's HTTP server: Deno.serve answers on a private Unix socket, behind the front that
// holds the public port (plain or TLS) and bounds the clients; every request passes the web guard
// (rate limit, Host check, basic auth, extra headers) set by --web-config-file.

import type { Logger } from "../log.ts";
import type { HttpMetrics } from "../metrics/http_metrics.ts";
import { HttpFront } from "./http_front.ts";
import { HostCheck } from "./host_check.ts";
import { BasicAuth } from "./basic_auth.ts";
import { guardHandler } from "./web_guard.ts";
import { describeSettings, WebConfigWatch } from "./web_config_watch.ts";
import type { WebSettings } from "./web_config.ts";
import type { WebMetrics } from "./web_metrics.ts";

/** Options of {@linkcode startHttpServer}. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  log: Logger;
  /** The live view's page is served at `/`: the start line names its address too. */
  liveView?: boolean;
  metrics?: HttpMetrics;
  /** The web configuration file (TLS, basic auth, headers); null: plain HTTP, open. @default {null} */
  webConfigFile?: string | null;
  /** Host names browsers may use besides this machine's (--web-allowed-hosts). @default {[]} */
  allowedHosts?: readonly string[];
  webMetrics?: WebMetrics;
  /** Quiet time after a change of the web config file before it is read, ms. @default {500} */
  webConfigQuietMs?: number;
}

/** The running server. */
export interface HttpServer {
  /** Where the front listens. */
  readonly addr: Deno.NetAddr;
  /** The web configuration in force now. */
  readonly web: WebSettings;
  /** Stops accepting, closes the connections, stops watching the web config, removes the socket. */
  shutdown(): Promise<void>;
}

/** `http(s)://host:port`, IPv6 in brackets. */
function origin(addr: Deno.NetAddr, tls: boolean): string {
  const { hostname, port } = addr;
  return `${tls ? "https" : "http"}://${
    hostname.includes(":") ? `[${hostname}]` : hostname
  }:${port}`;
}

/**
 * Starts Deno.serve with `handler`, guarded, on a Unix socket in a private folder, and the front
 * on `hostname:port`; with a web config file, HTTPS and logins as it says, and a new certificate
 * is put in force by reopening the front's listener (the port is closed for about a millisecond,
 * logged; connections held stay).
 *
 * @throws {WebConfigError} when the web config file cannot be used
 * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen`
 */
export function startHttpServer(
  options: HttpServerOptions,
  handler: (request: Request) => Response | Promise<Response>,
): HttpServer {
  const log = options.log;
  let front: HttpFront | null = null;
  const watch = WebConfigWatch.open(options.webConfigFile ?? null, {
    log,
    ...(options.webMetrics ? { metrics: options.webMetrics } : {}),
    ...(options.webConfigQuietMs !== undefined ? { quietMs: options.webConfigQuietMs } : {}),
    onTlsChange: async (next) => {
      if (front === null) return;
      const closedMs = await front.restart(next.tls);
      log.info("listener reopened for the new TLS settings", {
        url: origin(front.addr, front.tls),
        port_closed_ms: Math.round(closedMs * 1000) / 1000,
        ...describeSettings(next),
      });
    },
  });
  const hosts = new HostCheck({
    listenHostname: options.hostname,
    allowedHosts: options.allowedHosts ?? [],
  });
  const guarded = guardHandler(handler, {
    settings: () => watch.settings,
    hosts,
    auth: new BasicAuth(),
    ...(options.webMetrics ? { onReject: (r) => options.webMetrics!.rejected(r) } : {}),
    log,
  });
  const dir = Deno.makeTempDirSync({ prefix: "pose-exporter-http-" });
  const path = `${dir}/http.sock`;
  let backend: Deno.HttpServer;
  try {
    backend = Deno.serve({ path, onListen: () => {} }, guarded);
    front = HttpFront.listen({ ...options, backendPath: path, tls: watch.settings.tls });
  } catch (err) {
    watch.stop();
    Deno.removeSync(dir, { recursive: true });
    throw err;
  }
  const listening = front;
  const web = watch.settings;
  log.info("serving metrics", {
    url: `${origin(listening.addr, listening.tls)}/metrics`,
    ...(options.liveView ? { live_view: `${origin(listening.addr, listening.tls)}/` } : {}),
    ...(web.path !== null ? { web_config: web.path, ...describeSettings(web) } : {}),
  });
  if (web.http2Requested) {
    log.warn(
      "web config: http2 is on, but this server speaks HTTP/1.1 only; clients fall back to it " +
        "(set http2: false to silence this)",
      { file: web.path ?? "" },
    );
  }
  return {
    addr: listening.addr,
    get web() {
      return watch.settings;
    },
    async shutdown() {
      watch.stop();
      await listening.close();
      await backend.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
