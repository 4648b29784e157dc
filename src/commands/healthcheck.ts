// pose-exporter healthcheck: asks a running exporter's /healthz and exits 0 on a 2xx answer
// (the container image's HEALTHCHECK, which has no curl).

import { EXIT, parseSubcommandFlags, parseWholeNumber } from "./_args.ts";

/** The URL asked when --url is not given: the exporter's default listen port, on loopback. */
export const DEFAULT_HEALTH_URL = "http://127.0.0.1:8000/healthz";
/** Milliseconds to wait for the answer when --timeout-ms is not given. */
export const DEFAULT_HEALTH_TIMEOUT_MS = 2000;

const USAGE = `Usage: pose-exporter healthcheck [--url URL] [--timeout-ms N]

Asks a running exporter whether it is alive: exit 0 when the URL answers 2xx, else exit 1
with one line saying what was seen (connection refused, the status code, a timeout).

  --url URL         the health URL (default ${DEFAULT_HEALTH_URL})
  --timeout-ms N    give up after N milliseconds (default ${DEFAULT_HEALTH_TIMEOUT_MS})
  -h, --help        this text`;

/** What one probe saw. */
export interface HealthResult {
  /** Whether the URL answered 2xx. */
  ok: boolean;
  /** One line saying what was seen. */
  line: string;
}

/** The reason in a fetch error, short: "connection refused" rather than the whole chain. */
function describeFetchError(err: unknown): string {
  // Deno's fetch says "fetch failed"; the reason is in its cause.
  let message = err instanceof Error ? err.message : String(err);
  const cause = err instanceof Error ? err.cause : undefined;
  if (cause instanceof Error) message = `${message}: ${cause.message}`;
  if (/connection refused/i.test(message)) return "connection refused";
  if (/dns error|failed to lookup|name or service not known/i.test(message)) {
    return "the host name does not resolve";
  }
  if (/connection reset/i.test(message)) return "connection reset";
  return (cause instanceof Error ? cause.message : message).split("\n")[0]!;
}

/**
 * Fetches `url` once.
 *
 * @param url the health URL
 * @param timeoutMs how long to wait for the status line
 * @returns ok for a 2xx answer, and one line saying what was seen
 * @example
 * ```ts ignore
 * const { ok, line } = await probeHealth("http://127.0.0.1:8000/healthz", 2000);
 * ```
 */
export async function probeHealth(url: string, timeoutMs: number): Promise<HealthResult> {
  let response: Response;
  try {
    response = await fetch(url, { signal: AbortSignal.timeout(timeoutMs), redirect: "manual" });
  } catch (err) {
    if (err instanceof DOMException && err.name === "TimeoutError") {
      return { ok: false, line: `${url}: no answer within ${timeoutMs} ms` };
    }
    return { ok: false, line: `${url}: ${describeFetchError(err)}` };
  }
  await response.body?.cancel();
  const status = `${response.status}${response.statusText ? ` ${response.statusText}` : ""}`;
  return response.ok
    ? { ok: true, line: `${url}: ${status}` }
    : { ok: false, line: `${url}: answered ${status}` };
}

/**
 * `pose-exporter healthcheck [--url URL] [--timeout-ms N]`.
 *
 * @param args the arguments after `healthcheck`
 * @returns 0 when the URL answered 2xx, 1 when not, 2 for bad flags
 */
export async function healthcheckCommand(args: string[]): Promise<number> {
  const parsed = parseSubcommandFlags("healthcheck", args, {
    flags: {
      url: { type: "string", default: DEFAULT_HEALTH_URL },
      "timeout-ms": { type: "string", default: String(DEFAULT_HEALTH_TIMEOUT_MS) },
    },
    usage: USAGE,
  }, (values) => {
    const url = String(values.url);
    if (!URL.canParse(url) || !/^https?:$/.test(new URL(url).protocol)) {
      throw new RangeError(`Invalid --url: ${JSON.stringify(url)} (an http:// or https:// URL)`);
    }
    return { url, timeoutMs: parseWholeNumber("--timeout-ms", String(values["timeout-ms"]), 1) };
  });
  if ("exitCode" in parsed) return parsed.exitCode;
  const { url, timeoutMs } = parsed.settings;
  const { ok, line } = await probeHealth(url, timeoutMs);
  if (ok) {
    console.log(`healthcheck: ${line}`);
    return EXIT.ok;
  }
  console.error(`pose-exporter healthcheck: ${line}`);
  return EXIT.failure;
}
