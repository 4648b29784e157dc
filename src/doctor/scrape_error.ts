// Prometheus' lastError for a target, put in words (refused, no such host, timeout, wrong path).

/** The kinds of scrape failure the doctor tells apart. */
export type ScrapeErrorKind =
  | "refused"
  | "no_such_host"
  | "timeout"
  | "not_found"
  | "unauthorized"
  | "http_status"
  | "tls"
  | "tls_untrusted"
  | "other";

/** A scrape error, classified. */
export interface ScrapeError {
  readonly kind: ScrapeErrorKind;
  /** A few words: "connection refused", "no such host host.docker.internal", ... */
  readonly cause: string;
}

/**
 * Classifies a target's `lastError` as Prometheus (Go) writes it.
 *
 * @example
 * ```ts
 * classifyScrapeError('Get "http://h:8000/metrics": dial tcp: lookup h on 127.0.0.53:53: no such host');
 * // { kind: "no_such_host", cause: "cannot resolve h (no such host)" }
 * ```
 *
 * @param lastError the target's lastError
 * @returns its kind and a short cause
 */
export function classifyScrapeError(lastError: string): ScrapeError {
  const lookup = /lookup ([^\s:]+)(?: on \S+)?: (.*)$/.exec(lastError);
  if (lookup) {
    return { kind: "no_such_host", cause: `cannot resolve ${lookup[1]} (${lookup[2]})` };
  }
  if (/connection refused/i.test(lastError)) {
    return { kind: "refused", cause: "connection refused" };
  }
  if (/context deadline exceeded|i\/o timeout|Client\.Timeout|timeout/i.test(lastError)) {
    return { kind: "timeout", cause: "timeout (no answer within scrape_timeout)" };
  }
  const status = /server returned HTTP status (\d+)(?: ([^\n]*))?/.exec(lastError);
  if (status) {
    const kind = status[1] === "404"
      ? "not_found"
      : status[1] === "401"
      ? "unauthorized"
      : "http_status";
    return { kind, cause: `HTTP ${status[1]}${status[2] ? ` ${status[2]}` : ""}` };
  }
  if (/x509:|certificate signed by unknown authority|certificate is valid for/i.test(lastError)) {
    return {
      kind: "tls_untrusted",
      cause:
        "TLS: the exporter's certificate is not trusted (unknown CA, or not valid for the name scraped)",
    };
  }
  if (
    /HTTP response to HTTPS client|tls:|malformed HTTP response/i.test(lastError)
  ) {
    return {
      kind: "tls",
      cause: "TLS mismatch (https scrape of an http server, or http scrape of the TLS port)",
    };
  }
  return { kind: "other", cause: lastError.split("\n")[0] ?? lastError };
}
