// Check 5: Grafana answers, its datasource exists and is healthy, the dashboard is provisioned, and
// each panel's query returns data (through Grafana's datasource proxy, else straight to Prometheus).

import { METRIC_DEFINITIONS } from "../metrics/definitions.ts";
import { type CheckResult, fail, ok, skip } from "./check_result.ts";
import {
  dashboardVariables,
  DatasourceVariableError,
  expandDashboardQuery,
  formatDuration,
  panelQueries,
  type PanelQuery,
  parseDurationSeconds,
  queryReads,
  resolveDatasource,
} from "./dashboard_queries.ts";
import { parseJson, probe, type ProbeResult } from "./http_probe.ts";
import { type Json, jsonArray, jsonAt, jsonString } from "./json.ts";

/** The uid of the datasource every panel names (config/grafana/provisioning/datasources). */
export const DEFAULT_DATASOURCE_UID = "prometheus_ds";

/** The uid of the provisioned dashboard (config/grafana_dashboard.json). */
export const DEFAULT_DASHBOARD_UID = "pose-exporter";

/** How the doctor authenticates to Grafana, from the stack's environment variables. */
export interface GrafanaAuth {
  /** Request headers to send. */
  readonly headers: Record<string, string>;
  /** In words: "anonymously", "as admin (GRAFANA_ADMIN_PASSWORD)", "with GRAFANA_TOKEN". */
  readonly description: string;
}

/**
 * Grafana credentials from the environment the stack uses: GRAFANA_TOKEN (a bearer token) first,
 * else GRAFANA_ADMIN_USER (default admin) with GRAFANA_ADMIN_PASSWORD, else anonymous.
 *
 * @param env the environment
 * @returns the headers and their description
 */
export function grafanaAuthFromEnv(env: Readonly<Record<string, string | undefined>>): GrafanaAuth {
  const token = env.GRAFANA_TOKEN;
  if (token) {
    return { headers: { authorization: `Bearer ${token}` }, description: "with GRAFANA_TOKEN" };
  }
  const password = env.GRAFANA_ADMIN_PASSWORD;
  if (password) {
    const user = env.GRAFANA_ADMIN_USER || "admin";
    return {
      headers: { authorization: `Basic ${btoa(`${user}:${password}`)}` },
      description: `as ${user} (GRAFANA_ADMIN_PASSWORD)`,
    };
  }
  return { headers: {}, description: "anonymously" };
}

/** Options of {@linkcode checkGrafana}. */
export interface GrafanaCheckOptions {
  /** Credentials. @default {anonymous} */
  auth?: GrafanaAuth;
  /** Deadline of each request. @default {3000} */
  timeoutMs?: number;
  /** @default {"prometheus_ds"} */
  datasourceUid?: string;
  /** @default {"pose-exporter"} */
  dashboardUid?: string;
  /** Whether the exporter reads a GPU (GPU panels may be empty when false). @default {null} */
  readsGpu?: boolean | null;
  /** Prometheus' scrape interval of the exporter, for `$__rate_interval`. @default {null} */
  scrapeIntervalSeconds?: number | null;
  /** Prometheus, for panel queries when Grafana's proxy cannot run them. @default {null} */
  prometheusUrl?: URL | null;
  /** Whether the Prometheus checks found the contract series. @default {null} */
  seriesFound?: boolean | null;
}

function message(res: ProbeResult): string {
  if (res.kind === "error") return res.reason;
  const said = jsonString(jsonAt(parseJson(res.text), "message"));
  const text = said !== undefined ? ` "${said}"` : "";
  return `HTTP ${res.status}${text}`;
}

function authFix(auth: GrafanaAuth): string {
  return auth.description === "anonymously"
    ? "anonymous access is off or too narrow: set GRAFANA_ADMIN_PASSWORD (and GRAFANA_ADMIN_USER when not admin) as `deno task stack` printed it, or GRAFANA_TOKEN (a service account token)"
    : `Grafana refused the credentials sent ${auth.description}: check GRAFANA_ADMIN_USER/GRAFANA_ADMIN_PASSWORD or GRAFANA_TOKEN`;
}

/** The GPU families: those labelled by device_id. */
const GPU_FAMILIES = METRIC_DEFINITIONS.filter((d) => d.labels.includes("device_id")).map((d) =>
  d.name
);

/**
 * Check 5: Grafana's /api/health; the datasource (by uid) and its health check; the dashboard (by
 * uid, found through /api/search); each panel's queries with the dashboard's variables expanded
 * as "All", run through Grafana's datasource proxy (else straight to Prometheus). Panels without
 * data are named; GPU panels may be empty when the exporter reads no GPU.
 *
 * @param base Grafana's URL
 * @param options credentials, uids and what the earlier checks learned
 * @returns the results
 */
export async function checkGrafana(
  base: URL,
  options: GrafanaCheckOptions = {},
): Promise<CheckResult[]> {
  const timeoutMs = options.timeoutMs ?? 3000;
  const auth = options.auth ?? { headers: {}, description: "anonymously" };
  const dsUid = options.datasourceUid ?? DEFAULT_DATASOURCE_UID;
  const dashUid = options.dashboardUid ?? DEFAULT_DASHBOARD_UID;
  // Relative to base, so that a Grafana served from a sub path works.
  const get = (path: string) =>
    probe(new URL(path.replace(/^\//, ""), base).href, { timeoutMs, headers: auth.headers });
  const results: CheckResult[] = [];
  const dsName = `grafana datasource ${dsUid}`;
  const healthName = "grafana datasource health";
  const dashName = `grafana dashboard ${dashUid}`;
  const panelsName = "grafana panels";

  const health = await get("/api/health");
  const healthBody = health.kind === "answer" ? parseJson(health.text) : undefined;
  if (health.kind === "error") {
    results.push(fail(
      "grafana",
      `${base.href}: ${health.reason}`,
      "start Grafana (deno task stack), or give --grafana its URL (the stack's is http://localhost:7000)",
    ));
    for (const name of [dsName, healthName, dashName, panelsName]) {
      results.push(skip(name, "Grafana did not answer"));
    }
    return results;
  }
  if (health.status !== 200 || jsonAt(healthBody, "database") !== "ok") {
    results.push(fail(
      "grafana",
      `/api/health: HTTP ${health.status}, database ${jsonAt(healthBody, "database") ?? "?"}`,
      "Grafana cannot use its database: see its log (docker compose -f docker-compose.monitoring.yml logs grafana); check the grafana-data volume and free disk",
    ));
    for (const name of [dsName, healthName, dashName, panelsName]) {
      results.push(skip(name, "Grafana is not healthy"));
    }
    return results;
  }
  results.push(
    ok("grafana", `${base.href} answered: version ${jsonAt(healthBody, "version")}, database ok`),
  );

  // The datasource. A viewer may not read its settings (403); its health check still tells
  // whether it exists.
  const ds = await get(`/api/datasources/uid/${encodeURIComponent(dsUid)}`);
  const dsHealth = await get(`/api/datasources/uid/${encodeURIComponent(dsUid)}/health`);
  let dsExists = false;
  let timeInterval: number | null = null;
  const dsMissingFix =
    `provision it: mount config/grafana/provisioning at /etc/grafana/provisioning (docker-compose.monitoring.yml does), whose datasources/prometheus.yml creates uid ${dsUid}, and restart Grafana; every panel names this uid`;
  const unauthorized = ds.kind === "answer" && ds.status === 401;
  if (ds.kind === "answer" && ds.status === 200) {
    const body = parseJson(ds.text);
    dsExists = true;
    timeInterval = parseDurationSeconds(String(jsonAt(body, "jsonData", "timeInterval") ?? ""));
    const type = jsonAt(body, "type");
    if (type !== "prometheus") {
      results.push(fail(
        dsName,
        `is a ${type} datasource, not prometheus`,
        `give uid ${dsUid} to the Prometheus datasource (config/grafana/provisioning/datasources/prometheus.yml)`,
      ));
    } else {
      results.push(ok(
        dsName,
        `"${jsonAt(body, "name")}" (${type}, ${jsonAt(body, "url")}, access ${
          jsonAt(body, "access")
        }) read ${auth.description}`,
      ));
    }
  } else if (ds.kind === "answer" && ds.status === 404) {
    results.push(fail(dsName, `not found: ${message(ds)}`, dsMissingFix));
  } else if (unauthorized) {
    results.push(fail(dsName, `${message(ds)} ${auth.description}`, authFix(auth)));
  } else if (
    ds.kind === "answer" && ds.status === 403 && dsHealth.kind === "answer" &&
    dsHealth.status !== 404
  ) {
    dsExists = true;
    results.push(ok(
      dsName,
      `exists (its settings are hidden ${auth.description}: ${
        message(ds)
      }; set GRAFANA_ADMIN_PASSWORD to read them)`,
    ));
  } else if (ds.kind === "answer" && ds.status === 403) {
    results.push(fail(dsName, `not found: ${message(dsHealth)}`, dsMissingFix));
  } else {
    results.push(fail(dsName, message(ds), "see Grafana's log"));
  }

  if (unauthorized) {
    results.push(skip(healthName, "Grafana refused the credentials"));
  } else if (!dsExists) {
    results.push(skip(healthName, `no datasource ${dsUid}`));
  } else {
    const body = dsHealth.kind === "answer" ? parseJson(dsHealth.text) : undefined;
    const status = jsonAt(body, "status");
    if (dsHealth.kind === "answer" && dsHealth.status === 200 && status === "OK") {
      results.push(ok(healthName, String(jsonAt(body, "message") ?? "OK")));
    } else {
      results.push(fail(
        healthName,
        status === "ERROR" ? `ERROR: ${jsonAt(body, "message")}` : message(dsHealth),
        "Grafana cannot query Prometheus at the datasource's url: in docker-compose.monitoring.yml that is http://prometheus:9090 " +
          "(both services on the compose network); start Prometheus, or correct url in config/grafana/provisioning/datasources/prometheus.yml",
      ));
    }
  }

  // The dashboard, found the way Grafana's search lists it.
  let dashboard: Json = null;
  const search = await get("/api/search?type=dash-db");
  const found = search.kind === "answer" && search.status === 200 ? parseJson(search.text) : null;
  const hits: readonly Json[] | null = Array.isArray(found) ? found : null;
  const dashMissingFix =
    "provision it: mount config/grafana_dashboard.json at /etc/grafana/dashboards/pose-exporter.json and " +
    "config/grafana/provisioning (dashboards/provider.yml reads that folder), as docker-compose.monitoring.yml does, and restart Grafana";
  if (search.kind === "answer" && search.status === 401) {
    results.push(
      fail(dashName, `/api/search: ${message(search)} ${auth.description}`, authFix(auth)),
    );
  } else if (hits === null) {
    results.push(fail(dashName, `/api/search: ${message(search)}`, "see Grafana's log"));
  } else if (!hits.some((h) => jsonAt(h, "uid") === dashUid)) {
    const titles = hits.map((h) => `"${jsonAt(h, "title")}" (${jsonAt(h, "uid")})`).join(", ");
    results.push(fail(
      dashName,
      `not among the ${hits.length} dashboards Grafana lists${titles ? `: ${titles}` : ""}`,
      dashMissingFix,
    ));
  } else {
    const got = await get(`/api/dashboards/uid/${encodeURIComponent(dashUid)}`);
    const body = got.kind === "answer" && got.status === 200 ? parseJson(got.text) : null;
    if (jsonAt(body, "dashboard")) {
      dashboard = jsonAt(body, "dashboard");
      const hit = hits.find((h) => jsonAt(h, "uid") === dashUid);
      const folder = jsonAt(hit, "folderTitle");
      results.push(ok(
        dashName,
        `"${jsonAt(dashboard, "title")}"${folder ? ` in folder ${folder}` : ""} at ${
          jsonAt(hit, "url") ?? jsonAt(body, "meta", "url") ?? "?"
        }${jsonAt(body, "meta", "provisioned") ? ", provisioned" : ""}`,
      ));
    } else {
      results.push(fail(
        dashName,
        `/api/dashboards/uid/${dashUid}: ${message(got)}`,
        got.kind === "answer" && got.status === 404 ? dashMissingFix : "see Grafana's log",
      ));
    }
  }

  if (dashboard === null) {
    results.push(skip(panelsName, "no dashboard to read the panels from"));
    return results;
  }
  results.push(
    await checkPanels(dashboard, {
      get,
      dsUid,
      dsExists,
      timeoutMs,
      prometheusUrl: options.prometheusUrl ?? null,
      readsGpu: options.readsGpu ?? null,
      seriesFound: options.seriesFound ?? null,
      scrapeIntervalSeconds: timeInterval ?? options.scrapeIntervalSeconds ?? null,
    }),
  );
  return results;
}

interface PanelContext {
  get: (path: string) => Promise<ProbeResult>;
  dsUid: string;
  dsExists: boolean;
  timeoutMs: number;
  prometheusUrl: URL | null;
  readsGpu: boolean | null;
  seriesFound: boolean | null;
  scrapeIntervalSeconds: number | null;
}

type QueryOutcome = { route: "grafana" | "prometheus"; data: boolean } | { error: string };

function hasData(body: Json): boolean {
  const result = jsonAt(body, "data", "result");
  if (jsonAt(body, "data", "resultType") === "scalar") {
    return Array.isArray(result) && jsonAt(result, 1) !== "NaN";
  }
  return jsonArray(result).some((r) => {
    const value = jsonAt(r, "value");
    return (Boolean(value) && jsonAt(value, 1) !== "NaN") ||
      jsonArray(jsonAt(r, "values")).length > 0;
  });
}

async function runQuery(expr: string, uid: string, ctx: PanelContext): Promise<QueryOutcome> {
  const params = new URLSearchParams({ query: expr }).toString();
  let proxyWhy = `no datasource ${uid}`;
  if (ctx.dsExists || uid !== ctx.dsUid) {
    const res = await ctx.get(
      `/api/datasources/proxy/uid/${encodeURIComponent(uid)}/api/v1/query?${params}`,
    );
    const body = res.kind === "answer" ? parseJson(res.text) : undefined;
    if (res.kind === "answer" && jsonAt(body, "status") === "success") {
      return { route: "grafana", data: hasData(body) };
    }
    if (res.kind === "answer" && jsonAt(body, "status") === "error") {
      return { error: `${jsonAt(body, "errorType")}: ${jsonAt(body, "error")}` };
    }
    proxyWhy = message(res);
  }
  if (ctx.prometheusUrl === null) return { error: `Grafana's proxy: ${proxyWhy}` };
  const url = new URL("api/v1/query", ctx.prometheusUrl);
  url.search = params;
  const res = await probe(url.href, { timeoutMs: ctx.timeoutMs });
  const body = res.kind === "answer" ? parseJson(res.text) : undefined;
  if (res.kind === "answer" && jsonAt(body, "status") === "success") {
    return { route: "prometheus", data: hasData(body) };
  }
  return { error: jsonString(jsonAt(body, "error")) ?? message(res) };
}

async function checkPanels(dashboard: Json, ctx: PanelContext): Promise<CheckResult> {
  const name = "grafana panels";
  const every = ctx.scrapeIntervalSeconds ?? 15;
  const options = { rateInterval: formatDuration(4 * every), interval: formatDuration(every) };
  const variables = dashboardVariables(dashboard);
  const queries = panelQueries(dashboard);
  if (queries.length === 0) return skip(name, "the dashboard has no PromQL queries");
  // `${datasource}` is the datasource checked here (by default the provisioned uid, also the
  // variable's default); job, instance and the other variables are "All".
  const resolve = (q: PanelQuery): QueryOutcome | string => {
    try {
      return resolveDatasource(q, variables, ctx.dsUid);
    } catch (err) {
      if (err instanceof DatasourceVariableError) return { error: err.message };
      throw err;
    }
  };
  const outcomes = await Promise.all(queries.map(async (q) => {
    const uid = resolve(q);
    return {
      query: q,
      outcome: typeof uid === "string"
        ? await runQuery(expandDashboardQuery(q.expr, variables, options), uid, ctx)
        : uid,
    };
  }));
  const viaVariables = [...new Set(queries.flatMap((q) => q.datasourceVariable ?? []))];
  const panels = [...new Set(queries.map((q) => q.panel))];
  const routes = new Set(outcomes.flatMap((o) => "route" in o.outcome ? [o.outcome.route] : []));
  const errors = outcomes.flatMap((o) =>
    "error" in o.outcome ? [`${o.query.panel}: ${o.outcome.error}`] : []
  );
  const withData = new Set(
    outcomes.filter((o) => "data" in o.outcome && o.outcome.data).map((o) => o.query.panel),
  );
  const empty = panels.filter((p) => !withData.has(p));
  const isGpuPanel = (p: string) =>
    queries.filter((q) => q.panel === p).every((q) => queryReads(q.expr, GPU_FAMILIES));
  const expectedEmpty = ctx.readsGpu === false ? empty.filter(isGpuPanel) : [];
  const unexpected = empty.filter((p) => !expectedEmpty.includes(p));
  const via = [...routes].map((r) =>
    r === "grafana" ? "through Grafana's datasource proxy" : "straight to Prometheus"
  )
    .join(" and ");
  const note = expectedEmpty.length > 0
    ? `; ${expectedEmpty.length} GPU panel(s) empty as expected, the exporter reads no GPU (${
      expectedEmpty.join(", ")
    })`
    : "";
  if (errors.length > 0 && routes.size === 0) {
    return fail(
      name,
      `no query ran: ${errors[0]}`,
      "fix the datasource (see above), then run doctor again",
    );
  }
  if (unexpected.length > 0 || errors.length > 0) {
    return fail(
      name,
      `${unexpected.length} of ${panels.length} panels without data${
        unexpected.length ? `: ${unexpected.join(", ")}` : ""
      }${errors.length ? `; query errors: ${errors.join("; ")}` : ""} (queried ${via})${note}`,
      ctx.seriesFound === false || ctx.seriesFound === null
        ? "the panels read the exporter's series in Prometheus: fix the first FAIL above, then run doctor again"
        : "Prometheus holds the series but these queries select nothing: compare their label matchers (instance, stream_id, device_id) with the series, e.g. in Grafana's Explore",
    );
  }
  const resolved = viaVariables.map((v) => `\${${v}} = ${ctx.dsUid}`).join(", ");
  return ok(
    name,
    `all ${panels.length - expectedEmpty.length} panels return data (queried ${via}${
      resolved ? `, ${resolved}` : ""
    })${note}`,
  );
}
