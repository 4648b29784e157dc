// Checks 1 and 2: the exporter answers /metrics with the contract families and is ready; where it listens.

import {
  GPU_INFO,
  POSE_EXPORTER_INFO,
  POSE_FPS,
  POSE_FRAMES_TOTAL,
  POSE_LATENCY_MS,
  POSE_STREAM_FAILURES_TOTAL,
  POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS,
  POSE_STREAM_UP,
  VRAM_FRAGMENTATION_RATIO,
  VRAM_USAGE_MB,
} from "../metrics/definitions.ts";
import { type CheckResult, fail, ok, skip } from "./check_result.ts";
import { type Exposition, familySamples, parseExposition } from "./exposition.ts";
import { probe } from "./http_probe.ts";
import {
  isLoopbackAddress,
  isLoopbackHost,
  isWildcardAddress,
  type ListenSocket,
  readListenSockets,
} from "./listen_sockets.ts";

/** What the exporter checks learned, for the checks that follow. */
export interface ExporterFacts {
  /** The exporter's base URL (no path). */
  readonly url: URL;
  /** The exporter's port (from the URL, 80/443 by default). */
  readonly port: number;
  /** Whether /metrics answered 200 as pose-exporter. */
  readonly answered: boolean;
  /** Whether it reads a GPU (serves gpu_info); null when it did not answer. */
  readonly readsGpu: boolean | null;
  /** The sockets listening on its port on this host; null when they cannot be read. */
  readonly sockets: readonly ListenSocket[] | null;
  /** Why `sockets` is null or empty. */
  readonly socketsNote: string;
  /** How long /metrics took, ms. */
  readonly metricsMs: number | null;
}

/** Options of {@linkcode checkExporter}. */
export interface ExporterCheckOptions {
  /** Deadline of each request. @default {3000} */
  timeoutMs?: number;
  /** Headers sent to the exporter (its basic auth login). @default {{}} */
  headers?: Record<string, string>;
  /** The client that trusts the exporter's CA. @default {fetch's own} */
  client?: Deno.HttpClient;
  /** Whether doctor was given a login (for the fix of a 401). @default {false} */
  loggedIn?: boolean;
  /** Where proc is mounted (tests point it at fixtures). @default {"/proc"} */
  procRoot?: string;
}

/**
 * The port a URL names, or its scheme's default.
 *
 * @param url a URL
 * @returns its port
 */
export function urlPort(url: URL): number {
  return url.port !== "" ? Number(url.port) : url.protocol === "https:" ? 443 : 80;
}

/**
 * Writes `host:port`, with an IPv6 address in brackets.
 *
 * @param host a host name or address (bracketed or not)
 * @param port a port
 * @returns `host:port`
 */
export function hostPort(host: string, port: number): string {
  const bare = host.replace(/^\[|\]$/g, "");
  return bare.includes(":") ? `[${bare}]:${port}` : `${bare}:${port}`;
}

function streamsOf(exposition: Exposition): string[] {
  return [
    ...new Set(familySamples(exposition, POSE_FPS.name).map((s) => s.labels.stream_id ?? "")),
  ];
}

/** Says why /readyz is not ready, from the exporter's own series. */
function whyNotReady(exposition: Exposition): string {
  const up = familySamples(exposition, POSE_STREAM_UP.name);
  if (up.length === 0) return "no stream is configured";
  if (up.every((s) => s.value === 0)) {
    const failures = familySamples(exposition, POSE_STREAM_FAILURES_TOTAL.name)
      .filter((s) => s.value > 0)
      .map((s) => `${s.labels.stream_id} ${s.labels.reason} x${s.value}`);
    return `no stream is up (${up.map((s) => `${s.labels.stream_id} down`).join(", ")}${
      failures.length > 0 ? `; failures: ${failures.join(", ")}` : ""
    })`;
  }
  const frames = familySamples(exposition, POSE_FRAMES_TOTAL.name).reduce((n, s) => n + s.value, 0);
  if (frames === 0) return "no frame has been decoded yet (model loading, or the first batch)";
  const last = Math.max(
    ...familySamples(exposition, POSE_STREAM_LAST_FRAME_TIMESTAMP_SECONDS.name).map((s) => s.value),
  );
  if (Number.isFinite(last) && last > 0) {
    return `no frame decoded recently (the last one ${Math.round(Date.now() / 1000 - last)} s ago)`;
  }
  return "no frame decoded recently";
}

async function localSockets(
  url: URL,
  port: number,
  procRoot: string | undefined,
): Promise<{ sockets: ListenSocket[] | null; note: string }> {
  if (!isLoopbackHost(url.hostname)) {
    return {
      sockets: null,
      note: `${url.hostname} is not this host's loopback, so its sockets cannot be read here`,
    };
  }
  const all = await readListenSockets(procRoot);
  if (all.sockets === null) return { sockets: null, note: all.reason };
  const sockets = all.sockets.filter((s) => s.port === port);
  return {
    sockets,
    note: sockets.length === 0
      ? `no socket on this host listens on port ${port} (the exporter runs in another network namespace, or behind a forwarded port)`
      : "",
  };
}

/**
 * Check 1: the exporter answers /metrics as pose-exporter, serves the contract families (vram_*
 * only where it reads a GPU) and /readyz is ready, with the reason when it is not. Also reads the
 * sockets listening on its port, for {@linkcode checkListenAddress}.
 *
 * @param url the exporter's base URL
 * @param options deadline and proc root
 * @returns the results and what was learned
 */
export async function checkExporter(
  url: URL,
  options: ExporterCheckOptions = {},
): Promise<{ results: CheckResult[]; facts: ExporterFacts }> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const port = urlPort(url);
  const { sockets, note } = await localSockets(url, port, options.procRoot);
  const base = { url, port, sockets, socketsNote: note };
  const metricsUrl = new URL("metrics", url).href;
  const results: CheckResult[] = [];
  const notAnswered = (reason: string) => ({
    results: [
      ...results,
      skip("exporter contract", reason),
      skip("exporter ready", reason),
    ],
    facts: { ...base, answered: false, readsGpu: null, metricsMs: null },
  });

  const send = {
    timeoutMs,
    headers: options.headers ?? {},
    ...(options.client ? { client: options.client } : {}),
  };
  const res = await probe(metricsUrl, send);
  if (res.kind === "error") {
    const listening = sockets !== null && sockets.length > 0 && !res.reason.startsWith("TLS")
      ? ` (a socket listens on ${
        sockets.map((s) => hostPort(s.address, s.port)).join(", ")
      }, but did not answer)`
      : "";
    results.push(fail(
      "exporter metrics",
      `${metricsUrl}: ${res.reason}${listening}`,
      res.reason === "connection refused" || res.reason === "host not found"
        ? `start the exporter (deno task start, or ./pose-exporter --listen 0.0.0.0:${port}), or give --exporter the address it listens on`
        : res.reason.startsWith("TLS mismatch")
        ? url.protocol === "https:"
          ? `the exporter serves plain HTTP: give --exporter as http://${url.host}`
          : `the exporter serves HTTPS (--web-config-file with tls_server_config): give --exporter as https://${url.host} and --exporter-ca-file`
        : res.reason.startsWith("TLS")
        ? "give --exporter-ca-file the CA that signed the exporter's certificate, and --exporter a host name the certificate names"
        : `the exporter does not answer in ${timeoutMs} ms: see its log; a busy host may need a larger --timeout-ms`,
    ));
    return notAnswered("the exporter did not answer");
  }
  if (res.status === 401) {
    results.push(fail(
      "exporter metrics",
      `${metricsUrl} answered HTTP 401: the exporter asks for a login (basic_auth_users in its --web-config-file)` +
        (options.loggedIn ? ", and the user or password given is wrong" : ""),
      options.loggedIn
        ? "check --exporter-user and the password in --exporter-password-file against the web config's basic_auth_users"
        : "give doctor --exporter-user and --exporter-password-file (and --exporter-ca-file for https)",
    ));
    return notAnswered("/metrics asks for a login");
  }
  if (res.status !== 200) {
    results.push(fail(
      "exporter metrics",
      `${metricsUrl} answered HTTP ${res.status}`,
      "pose-exporter serves /metrics at the root of its --listen address: give --exporter as http://HOST:PORT",
    ));
    return notAnswered(`/metrics answered HTTP ${res.status}`);
  }
  const exposition = parseExposition(res.text);
  const info = familySamples(exposition, POSE_EXPORTER_INFO.name)[0];
  if (info === undefined) {
    results.push(fail(
      "exporter metrics",
      `${metricsUrl} answers, but without ${POSE_EXPORTER_INFO.name}: this is not pose-exporter`,
      `give --exporter the address pose-exporter listens on (its --listen); port ${port} belongs to another program`,
    ));
    return notAnswered("the address is not pose-exporter");
  }
  results.push(ok(
    "exporter metrics",
    `${metricsUrl} answered in ${Math.round(res.ms)} ms: ${exposition.families.size} families, ` +
      `version ${info.labels.version}, provider ${info.labels.provider}, model ${info.labels.model}`,
  ));

  const readsGpu = familySamples(exposition, GPU_INFO.name).length > 0;
  const contract = [
    POSE_FPS,
    POSE_LATENCY_MS,
    ...(readsGpu ? [VRAM_USAGE_MB, VRAM_FRAGMENTATION_RATIO] : []),
  ]
    .map((d) => d.name);
  const missing = contract.filter((name) => !exposition.families.has(name));
  const streams = streamsOf(exposition);
  if (missing.length > 0) {
    results.push(fail(
      "exporter contract",
      `missing ${missing.join(", ")}${readsGpu ? " (it reads a GPU: gpu_info is served)" : ""}`,
      readsGpu && missing.every((m) => m.startsWith("vram_"))
        ? "the GPU is seen but its memory is not read: see pose_gpu_poll_errors_total and the exporter log (nvidia-smi)"
        : "run a pose-exporter that serves the metric contract (deno task start from this repository)",
    ));
  } else if (streams.length === 0) {
    results.push(fail(
      "exporter contract",
      `${POSE_FPS.name} has no series: no stream is configured`,
      "give the exporter its streams (--streams N for synthetic ones, or --source URI)",
    ));
  } else {
    const gpus = familySamples(exposition, VRAM_USAGE_MB.name).map((s) => s.labels.device_id);
    results.push(ok(
      "exporter contract",
      `${contract.join(", ")} present for ${streams.length} stream(s) (${streams.join(", ")})` +
        (readsGpu ? ` and GPU(s) ${gpus.join(", ")}` : "; vram_* not expected: it reads no GPU"),
    ));
  }

  const ready = await probe(new URL("readyz", url).href, send);
  if (ready.kind === "answer" && ready.status === 200) {
    results.push(ok("exporter ready", "/readyz answered ready"));
  } else if (ready.kind === "answer" && ready.status === 503) {
    results.push(fail(
      "exporter ready",
      `/readyz answered not ready: ${whyNotReady(exposition)}`,
      "check the sources the exporter reads (the exporter log names each failure; pose_stream_failures_total counts them by reason)",
    ));
  } else {
    results.push(fail(
      "exporter ready",
      `/readyz: ${ready.kind === "error" ? ready.reason : `HTTP ${ready.status}`}`,
      "see the exporter log",
    ));
  }
  return { results, facts: { ...base, answered: true, readsGpu, metricsMs: res.ms } };
}

/** A host and port Prometheus scrapes the exporter at. */
export interface ScrapedAddress {
  readonly host: string;
  readonly port: number;
}

function sameAddress(socket: string, host: string): boolean {
  const norm = (a: string) => a.replace(/^\[|\]$/g, "").replace(/^::ffff:/i, "").toLowerCase();
  return norm(socket) === norm(host);
}

/**
 * Check 2: where the exporter listens, against where Prometheus scrapes it. Loopback only is a
 * failure when Prometheus' target names another address (a container scraping
 * host.docker.internal cannot reach it); every interface, or a target on the same loopback, is ok.
 *
 * @param facts what the exporter checks learned
 * @param scraped the addresses Prometheus scrapes on the exporter's port; null when unknown
 * @param unknownReason why `scraped` is null
 * @returns the result
 */
export function checkListenAddress(
  facts: ExporterFacts,
  scraped: readonly ScrapedAddress[] | null,
  unknownReason = "",
): CheckResult {
  const name = "exporter listen";
  if (facts.sockets === null) return skip(name, `cannot tell: ${facts.socketsNote}`);
  if (facts.sockets.length === 0) return skip(name, `cannot tell: ${facts.socketsNote}`);
  const addresses = [...new Set(facts.sockets.map((s) => s.address))];
  const shown = addresses.map((a) => hostPort(a, facts.port)).join(", ");
  if (addresses.some(isWildcardAddress)) return ok(name, `listens on ${shown} (every interface)`);
  const loopbackOnly = addresses.every(isLoopbackAddress);
  const kind = loopbackOnly ? "loopback only" : "this address only";
  if (scraped === null || scraped.length === 0) {
    const why = scraped === null ? unknownReason : "no Prometheus target names this port";
    return loopbackOnly
      ? skip(name, `listens on ${shown} (${kind}); cannot compare with Prometheus' target: ${why}`)
      : ok(name, `listens on ${shown} (${kind})`);
  }
  const reaches = (a: ScrapedAddress) =>
    addresses.some((s) => sameAddress(s, a.host)) ||
    (a.host.toLowerCase() === "localhost" && addresses.some(isLoopbackAddress));
  const unreachable = scraped.filter((a) => !reaches(a));
  const targets = (list: readonly ScrapedAddress[]) =>
    list.map((a) => hostPort(a.host, a.port)).join(", ");
  if (unreachable.length === 0) {
    return ok(
      name,
      `listens on ${shown} (${kind}); Prometheus scrapes ${targets(scraped)}, ${
        loopbackOnly ? "on loopback too" : "the same address"
      }`,
    );
  }
  return fail(
    name,
    `listens on ${shown} (${kind}), while Prometheus scrapes ${targets(unreachable)}: ` +
      (loopbackOnly
        ? "a loopback-only socket does not accept on another address (a container scraping host.docker.internal cannot reach it)"
        : "that address does not reach this socket"),
    `restart the exporter with --listen 0.0.0.0:${facts.port} (every interface)`,
  );
}
