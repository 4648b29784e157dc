// The guard in front of every endpoint: the web config's rate limit, the Host check for browsers
// and the live view, basic auth, and the web config's extra headers on every answer.

import type { Logger } from "../log.ts";
import type { HttpRejectReason } from "../metrics/definitions.ts";
import { BasicAuth } from "./basic_auth.ts";
import { HostCheck, isBrowserRequest } from "./host_check.ts";
import type { RateLimit, WebSettings } from "./web_config.ts";

/** Options of {@linkcode guardHandler}. */
export interface WebGuardOptions {
  /** The web configuration in force now (read per request: a reload takes effect at once). */
  settings: () => WebSettings;
  /** Which Host a browser may send. */
  hosts: HostCheck;
  /** Paths checked for their Host whoever asks (the live view's). @default {"/" and "/live/..."} */
  hostCheckedPath?: (path: string) => boolean;
  /** Checks logins. @default {a new BasicAuth} */
  auth?: BasicAuth;
  /** Counts what the guard refuses. */
  onReject?: (reason: HttpRejectReason) => void;
  log?: Logger;
  /** Clock in milliseconds, for the rate limit. @default {performance.now} */
  now?: () => number;
}

/** The realm a browser's login dialog names. */
export const REALM = "pose-exporter";

/** The live view's paths: the page and everything under /live/. */
function isLiveViewPath(path: string): boolean {
  return path === "/" || path.startsWith("/live/");
}

/** A token bucket: `burst` tokens, one back every `intervalMs`. */
class TokenBucket {
  readonly limit: RateLimit;
  #tokens: number;
  #at: number;

  constructor(limit: RateLimit, now: number) {
    this.limit = limit;
    this.#tokens = limit.burst;
    this.#at = now;
  }

  take(now: number): boolean {
    const { intervalMs, burst } = this.limit;
    this.#tokens = Math.min(burst, this.#tokens + (now - this.#at) / intervalMs);
    this.#at = now;
    if (this.#tokens < 1) return false;
    this.#tokens -= 1;
    return true;
  }
}

function plain(status: number, text: string, headers: Record<string, string> = {}): Response {
  return new Response(`${text}\n`, {
    status,
    headers: { "content-type": "text/plain; charset=utf-8", ...headers },
  });
}

/** `response` with `headers` added (a copy when its own headers cannot be changed). */
function withHeaders(response: Response, headers: Readonly<Record<string, string>>): Response {
  const names = Object.keys(headers);
  if (names.length === 0) return response;
  try {
    for (const name of names) response.headers.set(name, headers[name]!);
    return response;
  } catch {
    const copy = new Response(response.body, response);
    for (const name of names) copy.headers.set(name, headers[name]!);
    return copy;
  }
}

/**
 * Wraps `handler` so that every request passes the guard first:
 * 1. the web config's `rate_limit` (429 past it);
 * 2. a request from a browser (it carries `Origin` or `Sec-Fetch-*`) or to the live view must
 *    send a Host (and an Origin, when it sends one) that names this exporter, else 403: a page
 *    that rebinds its domain to this machine reads nothing;
 * 3. with `basic_auth_users`, a login, else 401 with `WWW-Authenticate` (paths in
 *    `basic_auth_excluded_paths` excepted);
 * and every answer, the guard's own included, carries the web config's extra headers.
 *
 * @example
 * ```ts ignore
 * const guarded = guardHandler(handler, {
 *   settings: () => watch.settings,
 *   hosts: new HostCheck({ listenHostname: "0.0.0.0" }),
 * });
 * ```
 *
 * @param handler the endpoints
 * @param options where the settings come from, the Host check, counting
 * @returns the guarded handler
 */
export function guardHandler(
  handler: (request: Request) => Response | Promise<Response>,
  options: WebGuardOptions,
): (request: Request) => Promise<Response> {
  const auth = options.auth ?? new BasicAuth();
  const now = options.now ?? (() => performance.now());
  const checked = options.hostCheckedPath ?? isLiveViewPath;
  let bucket: TokenBucket | null = null;
  const reject = (reason: HttpRejectReason) => options.onReject?.(reason);
  return async (request: Request): Promise<Response> => {
    const settings = options.settings();
    const extra = settings.headers;
    const limit = settings.rateLimit;
    if (limit === null) {
      bucket = null;
    } else {
      if (
        bucket === null || bucket.limit.intervalMs !== limit.intervalMs ||
        bucket.limit.burst !== limit.burst
      ) bucket = new TokenBucket(limit, now());
      if (!bucket.take(now())) {
        reject("rate_limited");
        return withHeaders(plain(429, "too many requests"), extra);
      }
    }
    const path = new URL(request.url).pathname;
    if (isBrowserRequest(request.headers) || checked(path)) {
      const host = request.headers.get("host");
      const origin = request.headers.get("origin");
      let refused: string | null = null;
      if (!options.hosts.allows(host)) {
        refused = `Host ${JSON.stringify(host ?? "")}`;
      } else if (origin !== null) {
        let originHost: string | null = null;
        try {
          originHost = origin === "null" ? null : new URL(origin).host;
        } catch {
          originHost = null;
        }
        if (!options.hosts.allows(originHost)) refused = `Origin ${JSON.stringify(origin)}`;
      }
      if (refused !== null) {
        reject("host_not_allowed");
        options.log?.debug("request refused: foreign host", { path, refused });
        return withHeaders(
          plain(
            403,
            `${refused} does not name this exporter (a guard against DNS rebinding): open it ` +
              "by this machine's name or address, or add the name with --web-allowed-hosts",
          ),
          extra,
        );
      }
    }
    if (settings.users.size > 0 && !settings.excludedPaths.has(path)) {
      const outcome = await auth.check(request.headers.get("authorization"), settings.users);
      if (outcome === "busy") {
        reject("rate_limited");
        return withHeaders(
          plain(429, "too many logins being checked", { "retry-after": "1" }),
          extra,
        );
      }
      if (outcome === "denied") {
        reject("unauthorized");
        return withHeaders(
          plain(401, "unauthorized", {
            "www-authenticate": `Basic realm="${REALM}", charset="UTF-8"`,
          }),
          extra,
        );
      }
    }
    return withHeaders(await handler(request), extra);
  };
}
