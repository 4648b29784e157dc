// The exporter's HTTP server: Deno.serve answers on a private Unix socket, behind the front that
// holds the public port and bounds the clients.

import type { Logger } from "../log.ts";
import type { HttpMetrics } from "../metrics/http_metrics.ts";
import { HttpFront } from "./http_front.ts";

/** Options of {@linkcode startHttpServer}. */
export interface HttpServerOptions {
  hostname: string;
  port: number;
  maxConnections: number;
  headerTimeoutMs: number;
  idleTimeoutMs: number;
  log: Logger;
  metrics?: HttpMetrics;
}

/** The running server. */
export interface HttpServer {
  /** Where the front listens. */
  readonly addr: Deno.NetAddr;
  /** Stops accepting, closes the connections, and removes the socket. */
  shutdown(): Promise<void>;
}

/**
 * Starts Deno.serve with `handler` on a Unix socket in a private folder and the front on
 * `hostname:port`.
 *
 * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen`
 */
export function startHttpServer(
  options: HttpServerOptions,
  handler: Deno.ServeHandler,
): HttpServer {
  const dir = Deno.makeTempDirSync({ prefix: "pose-exporter-http-" });
  const path = `${dir}/http.sock`;
  let front: HttpFront;
  let backend: Deno.HttpServer;
  try {
    backend = Deno.serve({ path, onListen: () => {} }, handler);
    front = HttpFront.listen({ ...options, backendPath: path });
  } catch (err) {
    Deno.removeSync(dir, { recursive: true });
    throw err;
  }
  const { hostname, port } = front.addr;
  options.log.info("serving metrics", {
    url: `http://${hostname.includes(":") ? `[${hostname}]` : hostname}:${port}/metrics`,
  });
  return {
    addr: front.addr,
    async shutdown() {
      await front.close();
      await backend.shutdown();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
