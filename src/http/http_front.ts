// The exporter's public HTTP front: takes the TCP (or TLS) connections, bounds them (a limit,
// deadlines for handshakes, headers, bodies and idleness, an accept loop that survives running out
// of file descriptors) and relays each whole request to the exporter's Deno.serve server on a Unix
// socket. A new certificate is taken by reopening the listener; connections held stay.

import type { Logger } from "../log.ts";
import type { HttpCloseReason } from "../metrics/definitions.ts";
import { RequestFramer, RequestFramingError } from "./request_framing.ts";

/** What the front reports to the metrics. */
export interface HttpFrontMetrics {
  /** Connections held now. */
  open(count: number): void;
  /** A connection was closed by the front on its own. */
  closed(reason: HttpCloseReason): void;
  /** Accepting a connection failed (the loop goes on). */
  acceptError(): void;
}

/** A certificate chain and its key, PEM: the front serves HTTPS with them. */
export interface FrontTls {
  cert: string;
  key: string;
}

/** Options of {@linkcode HttpFront.listen}. */
export interface HttpFrontOptions {
  hostname: string;
  port: number;
  /** Serve HTTPS with this certificate; absent or null: plain HTTP. */
  tls?: FrontTls | null;
  /** The Unix socket of the server that answers the requests. */
  backendPath: string;
  /** Connections held at once; more are answered 503 and closed at once. */
  maxConnections: number;
  /** A request's head must arrive within this of its first byte (a new connection's, of the accept). */
  headerTimeoutMs: number;
  /** A connection with no byte either way for this long, between requests or not, is closed. */
  idleTimeoutMs: number;
  log: Logger;
  metrics?: HttpFrontMetrics;
  /** Clock in milliseconds. @default {performance.now} */
  now?: () => number;
}

/** How often the deadlines are checked. */
const SWEEP_MS = 250;

const encoder = new TextEncoder();
const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  408: "Request Timeout",
  411: "Length Required",
  413: "Content Too Large",
  431: "Request Header Fields Too Large",
  503: "Service Unavailable",
};

/** A minimal response the front writes itself before closing. */
function shortResponse(status: number, text: string): Uint8Array {
  const body = `${text}\n`;
  return encoder.encode(
    `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\nconnection: close\r\n` +
      `content-type: text/plain; charset=utf-8\r\ncontent-length: ${body.length}\r\n\r\n${body}`,
  );
}

/** Writes all of `bytes`. */
async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  let rest = bytes;
  while (rest.length > 0) rest = rest.subarray(await conn.write(rest));
}

/** One client connection and its deadline. */
class Relay {
  readonly client: Deno.Conn;
  backend: Deno.Conn | null = null;
  deadline: number;
  reason: HttpCloseReason = "header_timeout";
  closed = false;

  constructor(client: Deno.Conn, deadline: number) {
    this.client = client;
    this.deadline = deadline;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.client.close();
    } catch { /* already closed */ }
    try {
      this.backend?.close();
    } catch { /* already closed */ }
  }
}

/**
 * The public listener. A server must never die of its clients: connections beyond
 * `maxConnections` are refused cheaply, a head that takes longer than `headerTimeoutMs` (a
 * slowloris) is answered 408 and closed, an idle connection is closed after `idleTimeoutMs`,
 * and a failed accept (too many open files) is counted, logged at most every 10 s, and
 * retried after a short pause. Only whole request heads reach the server behind it.
 */
export class HttpFront {
  readonly addr: Deno.NetAddr;
  #listener: Deno.Listener;
  #tls: FrontTls | null;
  #options: HttpFrontOptions;
  #now: () => number;
  #relays = new Set<Relay>();
  #sweeper: ReturnType<typeof setInterval>;
  #accepting: Promise<void>;
  #closing = false;
  #lastAcceptLog = -Infinity;
  #restarting: Promise<unknown> = Promise.resolve();

  private constructor(listener: Deno.Listener, options: HttpFrontOptions) {
    this.#listener = listener;
    this.#tls = options.tls ?? null;
    this.addr = listener.addr as Deno.NetAddr;
    this.#options = options;
    this.#now = options.now ?? (() => performance.now());
    this.#sweeper = setInterval(() => this.#sweep(), SWEEP_MS);
    this.#accepting = this.#acceptLoop(listener);
  }

  /** Opens the listener: TLS when `tls` is given. */
  static #open(hostname: string, port: number, tls: FrontTls | null): Deno.Listener {
    return tls === null
      ? Deno.listen({ hostname, port })
      : Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key });
  }

  /**
   * Listens on `hostname:port`, over TLS when `options.tls` is given.
   *
   * @throws {Deno.errors.AddrInUse} and the other errors of `Deno.listen` and `Deno.listenTls`
   */
  static listen(options: HttpFrontOptions): HttpFront {
    return new HttpFront(
      HttpFront.#open(options.hostname, options.port, options.tls ?? null),
      options,
    );
  }

  /** Connections held now. */
  get connections(): number {
    return this.#relays.size;
  }

  /** Whether the listener serves TLS. */
  get tls(): boolean {
    return this.#tls !== null;
  }

  /**
   * Reopens the listener on the same address with another certificate (or none: plain HTTP),
   * without touching the connections held. The port is closed from the old listener's close to
   * the new one's bind. A new listener that cannot be opened leaves the old settings in place.
   *
   * @param tls the certificate and key to serve, or null for plain HTTP
   * @returns how long the port was closed, ms
   * @throws {Error} the new listener's error, once the old one is listening again
   */
  restart(tls: FrontTls | null): Promise<number> {
    const run = this.#restarting.then(() => this.#restart(tls));
    this.#restarting = run.catch(() => {});
    return run;
  }

  async #restart(tls: FrontTls | null): Promise<number> {
    if (this.#closing) return 0;
    const { hostname, port } = this.addr;
    const closedAt = performance.now();
    const old = this.#listener;
    try {
      old.close();
    } catch { /* already closed */ }
    // The accept in flight holds the socket until it has returned: only then is the port free.
    await this.#accepting;
    let listener: Deno.Listener;
    let failure: unknown = null;
    try {
      listener = await HttpFront.#bind(hostname, port, tls);
      this.#tls = tls;
    } catch (err) {
      failure = err;
      listener = await HttpFront.#bind(hostname, port, this.#tls);
    }
    const closedMs = performance.now() - closedAt;
    this.#listener = listener;
    this.#accepting = this.#acceptLoop(listener);
    if (failure !== null) throw failure;
    return closedMs;
  }

  /** Binds, retrying a moment while the old socket is still being released. */
  static async #bind(hostname: string, port: number, tls: FrontTls | null): Promise<Deno.Listener> {
    for (let attempt = 0;; attempt++) {
      try {
        return HttpFront.#open(hostname, port, tls);
      } catch (err) {
        if (!(err instanceof Deno.errors.AddrInUse) || attempt >= 200) throw err;
        await new Promise((r) => setTimeout(r, attempt < 20 ? 0 : 5));
      }
    }
  }

  async #acceptLoop(listener: Deno.Listener): Promise<void> {
    let pause = 10;
    while (!this.#closing && this.#listener === listener) {
      let conn: Deno.Conn;
      try {
        conn = await listener.accept();
        pause = 10;
      } catch (err) {
        if (this.#closing || this.#listener !== listener) return;
        if (err instanceof Deno.errors.BadResource) return;
        this.#acceptFailed(err);
        await new Promise((r) => setTimeout(r, pause));
        pause = Math.min(pause * 2, 1000);
        continue;
      }
      this.#take(conn);
    }
  }

  #acceptFailed(err: unknown): void {
    this.#options.metrics?.acceptError();
    const now = this.#now();
    if (now - this.#lastAcceptLog < 10_000) return;
    this.#lastAcceptLog = now;
    this.#options.log.warn("cannot accept an HTTP connection; accepting goes on", {
      error: (err as Error).message ?? String(err),
      open_connections: this.#relays.size,
    });
  }

  #take(conn: Deno.Conn): void {
    const o = this.#options;
    if (this.#relays.size >= o.maxConnections) {
      o.metrics?.closed("refused");
      const reply = shortResponse(503, "too many connections");
      const close = () => {
        clearTimeout(timer);
        try {
          conn.close();
        } catch { /* already closed */ }
      };
      // Over TLS the write waits for a handshake: a client that never makes one is cut off.
      const timer = setTimeout(close, 1000);
      conn.write(reply).catch(() => {}).finally(close);
      return;
    }
    const relay = new Relay(conn, this.#now() + o.headerTimeoutMs);
    this.#relays.add(relay);
    o.metrics?.open(this.#relays.size);
    void this.#relay(relay).catch((err) => {
      o.log.debug("HTTP connection failed", { error: (err as Error).message ?? String(err) });
    }).finally(() => {
      relay.close();
      this.#relays.delete(relay);
      o.metrics?.open(this.#relays.size);
    });
  }

  /** Closes every connection whose deadline has passed. */
  #sweep(): void {
    const now = this.#now();
    for (const relay of this.#relays) {
      if (relay.closed || now < relay.deadline) continue;
      this.#options.metrics?.closed(relay.reason);
      if (relay.reason === "header_timeout") {
        // Best effort: a client that does not read gets nothing.
        relay.client.write(shortResponse(408, "request head too slow")).catch(() => {});
      }
      setTimeout(() => relay.close(), 50);
      relay.deadline = Infinity;
    }
  }

  /** Reads the client's requests and passes each whole head, then its body, to the server. */
  async #relay(relay: Relay): Promise<void> {
    const o = this.#options;
    if ("handshake" in relay.client) {
      // Within the head's deadline, as the sweep enforces; plain HTTP on the TLS port ends here.
      try {
        await (relay.client as Deno.TlsConn).handshake();
      } catch {
        if (!relay.closed) o.metrics?.closed("tls_handshake");
        return;
      }
    }
    const framer = new RequestFramer();
    const buffer = new Uint8Array(16 * 1024);
    let pump: Promise<void> | null = null;
    while (!relay.closed) {
      let n: number | null;
      try {
        n = await relay.client.read(buffer);
      } catch {
        return;
      }
      if (n === null) {
        // The client will send no more; the answer may still be on its way.
        try {
          await relay.backend?.closeWrite();
        } catch { /* the server closed already */ }
        await pump;
        return;
      }
      const now = this.#now();
      const wasIdle = !framer.inHead && !framer.inBody;
      let parts;
      try {
        parts = framer.push(buffer.subarray(0, n));
      } catch (err) {
        if (!(err instanceof RequestFramingError)) throw err;
        o.metrics?.closed("bad_request");
        await writeAll(relay.client, shortResponse(err.status, err.message)).catch(() => {});
        return;
      }
      for (const part of parts) {
        if (relay.backend === null) {
          try {
            relay.backend = await Deno.connect({ transport: "unix", path: o.backendPath });
          } catch (err) {
            o.log.error("the HTTP front cannot reach its server", {
              error: (err as Error).message,
            });
            await writeAll(relay.client, shortResponse(503, "server unavailable")).catch(() => {});
            return;
          }
          pump = this.#pumpBack(relay);
        }
        try {
          await writeAll(relay.backend, part.bytes);
        } catch {
          return;
        }
      }
      // The deadline for what comes next.
      const completed = parts.some((p) => p.headDone || p.requestDone);
      if (framer.inHead) {
        if (wasIdle || completed) {
          relay.deadline = now + o.headerTimeoutMs;
          relay.reason = "header_timeout";
        }
      } else if (framer.inBody) {
        if (parts.some((p) => p.headDone)) {
          relay.deadline = now + o.headerTimeoutMs;
          relay.reason = "body_timeout";
        }
      } else {
        relay.deadline = now + o.idleTimeoutMs;
        relay.reason = "idle_timeout";
      }
    }
  }

  /** Passes the server's answers back to the client; keeps an idle deadline from firing early. */
  async #pumpBack(relay: Relay): Promise<void> {
    const buffer = new Uint8Array(64 * 1024);
    const idle = this.#options.idleTimeoutMs;
    try {
      while (true) {
        const n = await relay.backend!.read(buffer);
        if (n === null) break;
        await writeAll(relay.client, buffer.subarray(0, n));
        if (relay.reason === "idle_timeout") relay.deadline = this.#now() + idle;
      }
    } catch { /* either side closed */ }
    relay.close();
  }

  /** Stops accepting and closes every connection. */
  async close(): Promise<void> {
    if (this.#closing) return;
    this.#closing = true;
    clearInterval(this.#sweeper);
    await this.#restarting;
    try {
      this.#listener.close();
    } catch { /* already closed */ }
    for (const relay of this.#relays) relay.close();
    await this.#accepting;
  }
}
