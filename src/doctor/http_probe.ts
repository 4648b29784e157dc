// One HTTP GET with a deadline, its failure put in a few words (refused, host not found, timeout).

import type { Json } from "./json.ts";

/** Options of {@linkcode probe}. */
export interface ProbeOptions {
  /** Gives up after this long, body included. @default {3000} */
  timeoutMs?: number;
  /** Request headers (credentials). @default {{}} */
  headers?: Record<string, string>;
  /** The client to send with (one that trusts a CA file). @default {fetch's own} */
  client?: Deno.HttpClient;
}

/** What a GET brought: an answer with any status, or a failure to get one. */
export type ProbeResult =
  | { readonly kind: "answer"; readonly status: number; readonly text: string; readonly ms: number }
  | { readonly kind: "error"; readonly reason: string; readonly ms: number };

/**
 * Puts a fetch failure in a few words: "connection refused", "host not found",
 * "no answer within 3000 ms", else the error's first line.
 *
 * @param err what fetch threw
 * @param timeoutMs the deadline that applied
 * @returns the words
 */
export function describeFetchError(err: unknown, timeoutMs: number): string {
  if (err instanceof DOMException && (err.name === "AbortError" || err.name === "TimeoutError")) {
    return `no answer within ${timeoutMs} ms`;
  }
  // Deno says "fetch failed" and puts what happened in the cause.
  const messages: string[] = [];
  for (let e: unknown = err; e !== undefined && messages.length < 4; e = (e as Error).cause) {
    messages.push(e instanceof Error ? e.message : String(e));
    if (!(e instanceof Error)) break;
  }
  const message = messages.join(": ");
  if (/connection refused/i.test(message)) return "connection refused";
  if (/dns error|failed to lookup address|name or service not known|no such host/i.test(message)) {
    return "host not found";
  }
  if (/no route to host/i.test(message)) return "no route to host";
  if (/network is unreachable/i.test(message)) return "network unreachable";
  if (/connection reset/i.test(message)) return "connection reset";
  if (/invalid peer certificate|UnknownIssuer|NotValidForName|certificate/i.test(message)) {
    const why = /invalid peer certificate: (\w+)/.exec(message)?.[1];
    return `TLS: the certificate is not accepted${why ? ` (${why})` : ""}`;
  }
  if (/HTTP\/0\.9|invalid HTTP version|InvalidContentType|corrupt message/i.test(message)) {
    return "TLS mismatch (https asked of a plain HTTP server, or http of a TLS one)";
  }
  const last = messages[messages.length - 1] ?? message;
  return last.split("\n")[0] ?? last;
}

/**
 * GETs `url` within a deadline and reads the whole body.
 *
 * @example
 * ```ts
 * const res = await probe("http://127.0.0.1:8000/metrics", { timeoutMs: 3000 });
 * if (res.kind === "answer" && res.status === 200) console.log(res.text.length);
 * ```
 *
 * @param url what to GET
 * @param options deadline and headers
 * @returns the answer, or why there was none
 */
export async function probe(url: string, options: ProbeOptions = {}): Promise<ProbeResult> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const controller = new AbortController();
  const timer = setTimeout(
    () => controller.abort(new DOMException("deadline", "TimeoutError")),
    timeoutMs,
  );
  const start = performance.now();
  try {
    const res = await fetch(url, {
      headers: options.headers ?? {},
      signal: controller.signal,
      redirect: "manual",
      ...(options.client ? { client: options.client } : {}),
    });
    const text = await res.text();
    return { kind: "answer", status: res.status, text, ms: performance.now() - start };
  } catch (err) {
    const reason = controller.signal.aborted
      ? `no answer within ${timeoutMs} ms`
      : describeFetchError(err, timeoutMs);
    return { kind: "error", reason, ms: performance.now() - start };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Parses an answer's body as JSON, or returns undefined.
 *
 * @param text the body
 * @returns the document, or undefined when it is not JSON
 */
export function parseJson(text: string): Json {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}
