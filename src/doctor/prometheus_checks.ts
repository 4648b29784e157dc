// Checks 3 and 4: Prometheus is up, scrapes the exporter (health, lastError, age), holds the contract
// series, and its alert rules are loaded without errors.

import { parse as parseYaml } from "yaml";
import {
  POSE_EXPORTER_INFO,
  POSE_FPS,
  POSE_LATENCY_MS,
  VRAM_FRAGMENTATION_RATIO,
  VRAM_USAGE_MB,
} from "../metrics/definitions.ts";
import { type CheckResult, fail, ok, skip } from "./check_result.ts";
import { parseDurationSeconds } from "./dashboard_queries.ts";
import { type ExporterFacts, hostPort, urlPort } from "./exporter_checks.ts";
import { isLoopbackAddress, isWildcardAddress } from "./listen_sockets.ts";
import { parseJson, probe } from "./http_probe.ts";
import { type Json, jsonArray, jsonAt } from "./json.ts";
import { classifyScrapeError } from "./scrape_error.ts";
import { readThisHost, scrapesExporter, type ThisHost } from "./this_host.ts";

/** One of Prometheus' active targets, as /api/v1/targets gives it. */
export interface ActiveTarget {
  readonly job: string;
  readonly instance: string;
  readonly scrapeUrl: string;
  readonly host: string;
  readonly port: number;
  readonly health: string;
  readonly lastError: string;
  readonly lastScrape: string;
  readonly lastScrapeDuration: number;
  readonly scrapeIntervalSeconds: number | null;
  readonly scrapeTimeoutSeconds: number | null;
}

/** What the Prometheus checks learned, for the listen and Grafana checks. */
export interface PrometheusFacts {
  readonly answered: boolean;
  /**
   * The targets that scrape the exporter checked (its host:port, or its port on a name of this
   * host); null when Prometheus did not tell.
   */
  readonly exporterTargets: readonly ActiveTarget[] | null;
  /** Why exporterTargets is null. */
  readonly unknownReason: string;
  /** The exporter targets' scrape interval, seconds. */
  readonly scrapeIntervalSeconds: number | null;
  /** Whether the contract series were found; null when not checked. */
  readonly seriesFound: boolean | null;
}

/** Options of {@linkcode checkPrometheus}. */
export interface PrometheusCheckOptions {
  /** Deadline of each request. @default {3000} */
  timeoutMs?: number;
  /** The clock, for the last scrape's age. @default {Date.now} */
  now?: () => number;
  /** This host's names and addresses. @default {read from the system} */
  thisHost?: ThisHost;
  /** Where proc is mounted, to read this host's names and addresses. @default {"/proc"} */
  procRoot?: string;
}

/**
 * Reads /api/v1/targets' active targets.
 *
 * @param data the answer's `data`
 * @returns the targets
 */
export function parseActiveTargets(data: Json): ActiveTarget[] {
  return jsonArray(jsonAt(data, "activeTargets")).map((t) => {
    let host = "", port = 0;
    try {
      const u = new URL(String(jsonAt(t, "scrapeUrl")));
      host = u.hostname.replace(/^\[|\]$/g, "");
      port = urlPort(u);
    } catch {
      // an unparsable scrapeUrl leaves host and port empty
    }
    return {
      job: String(jsonAt(t, "labels", "job") ?? jsonAt(t, "scrapePool") ?? ""),
      instance: String(jsonAt(t, "labels", "instance") ?? ""),
      scrapeUrl: String(jsonAt(t, "scrapeUrl") ?? ""),
      host,
      port,
      health: String(jsonAt(t, "health") ?? "unknown"),
      lastError: String(jsonAt(t, "lastError") ?? ""),
      lastScrape: String(jsonAt(t, "lastScrape") ?? ""),
      lastScrapeDuration: Number(jsonAt(t, "lastScrapeDuration") ?? 0),
      scrapeIntervalSeconds: parseDurationSeconds(String(jsonAt(t, "scrapeInterval") ?? "")),
      scrapeTimeoutSeconds: parseDurationSeconds(String(jsonAt(t, "scrapeTimeout") ?? "")),
    };
  });
}

/**
 * The targets that may be meant for the exporter: those on its port, those of a job whose name
 * says pose-exporter, and those of any job whose series include pose_exporter_info. They only name
 * candidates in the messages; {@linkcode scrapesExporter} tells which one is the exporter checked.
 *
 * @param targets every active target
 * @param exporterPort the exporter's port
 * @param contractJobs jobs that hold pose_exporter_info series
 * @returns the candidate targets
 */
export function findExporterTargets(
  targets: readonly ActiveTarget[],
  exporterPort: number,
  contractJobs: ReadonlySet<string>,
): ActiveTarget[] {
  return targets.filter((t) =>
    t.port === exporterPort || /pose/i.test(t.job) || contractJobs.has(t.job)
  );
}

function ageSeconds(lastScrape: string, now: number): number | null {
  const t = Date.parse(lastScrape);
  if (!Number.isFinite(t) || t <= 0 || lastScrape.startsWith("0001-")) return null;
  return (now - t) / 1000;
}

function interval(t: ActiveTarget): string {
  return t.scrapeIntervalSeconds === null ? "?" : `${t.scrapeIntervalSeconds}s`;
}

/** The fix for a target that is down, given what the exporter checks saw. */
function downFix(t: ActiveTarget, exporter: ExporterFacts, kind: string): string {
  const at = hostPort(t.host, t.port);
  const exporterAt = hostPort(exporter.url.hostname, exporter.port);
  switch (kind) {
    case "refused": {
      const listens = exporter.sockets ?? [];
      const loopbackOnly = listens.length > 0 &&
        listens.every((s) => isLoopbackAddress(s.address)) &&
        !listens.some((s) => isWildcardAddress(s.address));
      if (t.port === exporter.port && loopbackOnly && !isLoopbackAddress(t.host)) {
        return `the exporter listens on loopback only: restart it with --listen 0.0.0.0:${exporter.port}`;
      }
      if (t.port === exporter.port && loopbackOnly) {
        return `the exporter listens on ${
          listens.map((s) => s.address).join(", ")
        } only, not ${t.host}: restart it with --listen 0.0.0.0:${exporter.port}, or scrape ${
          hostPort(listens[0]!.address, exporter.port)
        }`;
      }
      if (t.port !== exporter.port && exporter.answered) {
        return `nothing listens on ${at}: the exporter answers at ${exporterAt}; point the job's target at it ` +
          `(from a Prometheus container on this host: host.docker.internal:${exporter.port}) and reload Prometheus`;
      }
      return `nothing listens on ${at} as Prometheus sees it: start the exporter there with --listen 0.0.0.0:${t.port}, ` +
        "or correct the target in prometheus.yml and reload Prometheus";
    }
    case "no_such_host":
      return t.host === "host.docker.internal"
        ? 'Docker on Linux defines host.docker.internal only with extra_hosts: add `extra_hosts: ["host.docker.internal:host-gateway"]` ' +
          "to the prometheus service (docker-compose.monitoring.yml has it) and recreate it; a Prometheus outside Docker scrapes " +
          `127.0.0.1:${t.port} instead`
        : `make ${t.host} resolvable where Prometheus runs (DNS, /etc/hosts, or extra_hosts in compose), or scrape an IP address`;
    case "timeout":
      return `${at} did not answer within scrape_timeout (${
        t.scrapeTimeoutSeconds ?? "?"
      }s): check that a firewall lets Prometheus reach port ${t.port} ` +
        "(from Docker: the bridge network), or raise scrape_timeout if /metrics is slow" +
        (exporter.metricsMs !== null
          ? ` (it answered here in ${Math.round(exporter.metricsMs)} ms)`
          : "");
    case "not_found":
      return `pose-exporter serves /metrics: set metrics_path: /metrics (or leave it out) in job ${t.job}`;
    case "tls":
      return t.scrapeUrl.startsWith("https:")
        ? `the exporter serves plain HTTP: set scheme: http in job ${t.job} (or give the exporter a --web-config-file with tls_server_config)`
        : `the exporter serves HTTPS (its --web-config-file has tls_server_config): set scheme: https and tls_config.ca_file in job ${t.job} (config/prometheus.yml shows them) and reload Prometheus`;
    case "tls_untrusted":
      return `set tls_config.ca_file in job ${t.job} to the CA that signed the exporter's certificate, and tls_config.server_name to a name the certificate holds when the target is an address, then reload Prometheus`;
    case "unauthorized":
      return `the exporter asks for a login (basic_auth_users in its --web-config-file): set basic_auth (username, password_file) in job ${t.job}'s scrape config (config/prometheus.yml shows it) and reload Prometheus`;
    case "http_status":
      return `${at} answers, but not as pose-exporter: check that the target names the exporter's address`;
    default:
      return `see the target on Prometheus' /targets page for the whole error`;
  }
}

function origin(t: ActiveTarget): string {
  try {
    return new URL(t.scrapeUrl).origin;
  } catch {
    return hostPort(t.host, t.port);
  }
}

/** The failure for an exporter that no target scrapes, while other targets may be meant for it. */
function elsewhereResult(
  candidates: readonly ActiveTarget[],
  exporter: ExporterFacts,
  checkedUrl: string,
): CheckResult {
  const jobs = [...new Set(candidates.map((t) => t.job))];
  const scraped = jobs.map((job) =>
    `${
      candidates.filter((t) => t.job === job).map((t) =>
        `${hostPort(t.host, t.port)}${t.health === "up" ? "" : ` (${t.health})`}`
      ).join(", ")
    } in job ${job}`
  ).join("; ");
  const address = hostPort(exporter.url.hostname, exporter.port);
  const other = candidates.find((t) => t.health === "up") ?? candidates[0]!;
  return fail(
    "prometheus target",
    `no target scrapes ${checkedUrl} (Prometheus scrapes ${scraped})`,
    `add ${address} (or the address Prometheus reaches it at; from a container on this host: ` +
      `host.docker.internal:${exporter.port}) to the targets of job ${other.job} and reload Prometheus, ` +
      `or point --exporter at the exporter it scrapes (${origin(other)})`,
  );
}

function targetResult(
  t: ActiveTarget,
  exporter: ExporterFacts,
  now: number,
): CheckResult {
  const name = `prometheus target ${hostPort(t.host, t.port)} (job ${t.job})`;
  if (t.health === "down") {
    const error = classifyScrapeError(t.lastError);
    return fail(name, `down: ${error.cause} (${t.lastError})`, downFix(t, exporter, error.kind));
  }
  if (t.health !== "up") {
    return skip(
      name,
      `not scraped yet (interval ${interval(t)}): run doctor again in a few seconds`,
    );
  }
  const age = ageSeconds(t.lastScrape, now);
  const every = t.scrapeIntervalSeconds;
  if (age !== null && every !== null && age > 2 * every + (t.scrapeTimeoutSeconds ?? every) + 5) {
    return fail(
      name,
      `up, but its last scrape was ${Math.round(age)} s ago against a ${every}s interval`,
      "Prometheus has stopped scraping it: see Prometheus' log (overload, a stuck scrape, or the clocks of this host and Prometheus' differ)",
    );
  }
  return ok(
    name,
    `up, last scrape ${age === null ? "?" : age.toFixed(1)} s ago (interval ${interval(t)}, took ${
      Math.round(t.lastScrapeDuration * 1000)
    } ms)`,
  );
}

async function getJson(
  url: string,
  timeoutMs: number,
): Promise<{ data: Json; error: null } | { data: null; error: string }> {
  const res = await probe(url, { timeoutMs });
  if (res.kind === "error") return { data: null, error: res.reason };
  const body = parseJson(res.text);
  if (body === undefined) {
    const start = res.text.slice(0, 60).replace(/\s+/g, " ");
    return {
      data: null,
      error: `HTTP ${res.status} with a body that is not JSON (${JSON.stringify(start)}): ` +
        "is this Prometheus' API?",
    };
  }
  if (res.status !== 200 || jsonAt(body, "status") !== "success") {
    const error = jsonAt(body, "error");
    return { data: null, error: `HTTP ${res.status}${error ? `: ${error}` : ""}` };
  }
  return { data: jsonAt(body, "data"), error: null };
}

/**
 * Runs an instant query.
 *
 * @param base Prometheus' URL
 * @param expr PromQL
 * @param timeoutMs deadline
 * @returns the result vector, or the error
 */
export async function queryPrometheus(
  base: URL,
  expr: string,
  timeoutMs: number,
): Promise<{ result: readonly Json[]; error: null } | { result: null; error: string }> {
  const url = new URL("api/v1/query", base);
  url.searchParams.set("query", expr);
  const answer = await getJson(url.href, timeoutMs);
  if (answer.error !== null) return { result: null, error: answer.error };
  return { result: jsonArray(jsonAt(answer.data, "result")), error: null };
}

async function checkSeries(
  base: URL,
  exporter: ExporterFacts,
  up: readonly ActiveTarget[],
  timeoutMs: number,
): Promise<CheckResult> {
  const name = "prometheus series";
  const families = [
    POSE_FPS,
    POSE_LATENCY_MS,
    ...(exporter.readsGpu ? [VRAM_USAGE_MB, VRAM_FRAGMENTATION_RATIO] : []),
  ].map((d) => d.name);
  const missing: string[] = [];
  for (const family of families) {
    const answer = await queryPrometheus(base, `count by (job, instance) (${family})`, timeoutMs);
    if (answer.error !== null) {
      return fail(name, `query of ${family}: ${answer.error}`, "see Prometheus' log");
    }
    for (const t of up) {
      const found = answer.result.find((r) =>
        jsonAt(r, "metric", "job") === t.job && jsonAt(r, "metric", "instance") === t.instance
      );
      if (found === undefined) missing.push(`${family} from ${t.instance}`);
    }
  }
  if (missing.length > 0) {
    return fail(
      name,
      `no samples for ${missing.join(", ")}`,
      "the target is up but these series are dropped: check metric_relabel_configs of its job, and that the exporter serves them (exporter contract)",
    );
  }
  return ok(
    name,
    `${families.join(", ")} return samples for ${up.map((t) => t.instance).join(", ")}${
      exporter.readsGpu === false ? "; vram_* not expected: no GPU" : ""
    }`,
  );
}

async function checkRules(base: URL, timeoutMs: number): Promise<CheckResult> {
  const name = "prometheus rules";
  const rules = await getJson(new URL("api/v1/rules", base).href, timeoutMs);
  if (rules.error !== null) {
    return fail(name, `/api/v1/rules: ${rules.error}`, "see Prometheus' log");
  }
  const groups = jsonArray(jsonAt(rules.data, "groups"));
  if (groups.length === 0) {
    const config = await getJson(new URL("api/v1/status/config", base).href, timeoutMs);
    let ruleFiles: string[] = [];
    try {
      const parsed: Json = parseYaml(String(jsonAt(config.data, "yaml") ?? ""));
      ruleFiles = jsonArray(jsonAt(parsed, "rule_files")).map(String);
    } catch {
      // an unreadable config leaves the list empty
    }
    if (ruleFiles.length === 0) return skip(name, "no alert rules configured (no rule_files)");
    return fail(
      name,
      `rule_files names ${ruleFiles.join(", ")}, but no rule group is loaded`,
      "the files are missing or empty where Prometheus runs: put alerts.yml next to prometheus.yml (the compose file mounts config/ whole) and reload Prometheus",
    );
  }
  const all = groups.flatMap((g) => jsonArray(jsonAt(g, "rules")));
  const broken = all.filter((r) => jsonAt(r, "health") === "err");
  if (broken.length > 0) {
    return fail(
      name,
      `${broken.length} of ${all.length} rules in error: ${
        broken.map((r) => `${jsonAt(r, "name")} (${jsonAt(r, "lastError")})`).join("; ")
      }`,
      "fix the expressions (promtool check rules config/alerts.yml; promtool test rules for the alerts) and reload Prometheus",
    );
  }
  const firing = all
    .filter((r) => jsonAt(r, "type") === "alerting" && jsonAt(r, "state") === "firing")
    .map((r) => jsonAt(r, "name"));
  return ok(
    name,
    `${all.length} rules in ${groups.length} groups loaded, none in error` +
      (firing.length > 0 ? `; firing: ${firing.join(", ")}` : ""),
  );
}

/**
 * Checks 3 and 4: Prometheus is ready; it has a target that scrapes the exporter checked (its
 * host:port, or its port on a name or address of this host), and a failure naming the targets
 * meant for it (its port, a pose-exporter job, a job holding pose_exporter_info) when none does;
 * each target's health, lastError put in words with its fix, and the
 * last scrape's age against the interval; the contract series return samples; the alert rules
 * are loaded and none is in error (no rules configured is a skip).
 *
 * @param base Prometheus' URL
 * @param exporter what the exporter checks learned
 * @param options deadline and clock
 * @returns the results and what was learned
 */
export async function checkPrometheus(
  base: URL,
  exporter: ExporterFacts,
  options: PrometheusCheckOptions = {},
): Promise<{ results: CheckResult[]; facts: PrometheusFacts }> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const now = (options.now ?? Date.now)();
  const results: CheckResult[] = [];
  const unknown = (reason: string, answered: boolean) => ({
    answered,
    exporterTargets: null,
    unknownReason: reason,
    scrapeIntervalSeconds: null,
    seriesFound: null,
  });

  const ready = await probe(new URL("-/ready", base).href, { timeoutMs });
  if (ready.kind === "error" || ready.status !== 200) {
    const seen = ready.kind === "error" ? ready.reason : `/-/ready answered HTTP ${ready.status}`;
    results.push(fail(
      "prometheus",
      `${base.href}: ${seen}`,
      ready.kind === "error"
        ? "start Prometheus (deno task stack), or give --prometheus its URL"
        : "Prometheus is starting (replaying its WAL) or failing: wait, then see its log",
    ));
    const reason = "Prometheus did not answer";
    for (const check of ["prometheus target", "prometheus series", "prometheus rules"]) {
      results.push(skip(check, reason));
    }
    return { results, facts: unknown(reason, false) };
  }
  const build = await getJson(new URL("api/v1/status/buildinfo", base).href, timeoutMs);
  const version = jsonAt(build.data, "version");
  results.push(ok(
    "prometheus",
    `${base.href} is ready${version ? ` (Prometheus ${version})` : ""}`,
  ));

  const answer = await getJson(new URL("api/v1/targets?state=active", base).href, timeoutMs);
  if (answer.error !== null) {
    results.push(
      fail("prometheus target", `/api/v1/targets: ${answer.error}`, "see Prometheus' log"),
    );
    results.push(skip("prometheus series", "no target list"));
    results.push(await checkRules(base, timeoutMs));
    return { results, facts: unknown("Prometheus' target list failed", true) };
  }
  const targets = parseActiveTargets(answer.data);
  const info = await queryPrometheus(
    base,
    `count by (job) (${POSE_EXPORTER_INFO.name})`,
    timeoutMs,
  );
  const contractJobs = new Set<string>(
    (info.result ?? []).map((r) => String(jsonAt(r, "metric", "job") ?? "")),
  );
  const candidates = findExporterTargets(targets, exporter.port, contractJobs);
  const local = options.thisHost ?? await readThisHost(options.procRoot);
  const exporterAt = { host: exporter.url.hostname, port: exporter.port };
  const mine = candidates.filter((t) => scrapesExporter(t, exporterAt, local));
  const checkedUrl = `${exporter.url.protocol}//${hostPort(exporter.url.hostname, exporter.port)}`;
  // Another exporter's target that is up must not pass for this one; one that is down already
  // names the broken link (its fix points at the exporter checked).
  const elsewhere = mine.length === 0 && candidates.some((t) => t.health !== "down");
  if (candidates.length === 0) {
    const seen = targets.map((t) => `${hostPort(t.host, t.port)} (job ${t.job})`).join(", ");
    results.push(fail(
      "prometheus target",
      `none of its ${targets.length} active targets is the exporter on port ${exporter.port}${
        seen ? `: ${seen}` : ""
      }`,
      `add a job to prometheus.yml: - job_name: pose-exporter / static_configs: [{targets: ["${
        hostPort(exporter.url.hostname, exporter.port)
      }"]}] (from a container: host.docker.internal:${exporter.port}) and reload Prometheus`,
    ));
  } else if (elsewhere) {
    results.push(elsewhereResult(candidates, exporter, checkedUrl));
  } else if (mine.length === 0) {
    for (const t of candidates) results.push(targetResult(t, exporter, now));
  }
  for (const t of mine) results.push(targetResult(t, exporter, now));

  const up = mine.filter((t) => t.health === "up");
  let seriesFound: boolean | null = null;
  if (elsewhere) {
    results.push(skip(
      "prometheus series",
      `no target scrapes ${checkedUrl}, so Prometheus holds none of its series`,
    ));
  } else if (up.length === 0) {
    results.push(skip("prometheus series", "no target of the exporter is up"));
  } else {
    const series = await checkSeries(base, exporter, up, timeoutMs);
    seriesFound = series.status === "ok";
    results.push(series);
  }
  results.push(await checkRules(base, timeoutMs));
  const interval = [...mine, ...candidates].find((t) => t.scrapeIntervalSeconds !== null)
    ?.scrapeIntervalSeconds ?? null;
  return {
    results,
    facts: {
      answered: true,
      exporterTargets: mine,
      unknownReason: "",
      scrapeIntervalSeconds: interval,
      seriesFound,
    },
  };
}
