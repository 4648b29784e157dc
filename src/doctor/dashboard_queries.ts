// A Grafana dashboard's panel queries with its variables expanded as Grafana does with "All" selected.

import { type Json, jsonArray, jsonAt, jsonString } from "./json.ts";

/** A dashboard variable as the dashboard JSON holds it (only what expansion needs). */
export interface DashboardVariable {
  readonly name: string;
  /** What "All" stands for. @default {".*"} */
  readonly allValue?: string | null;
  /** `query`, `datasource`, `custom`, ...; unknown when absent. */
  readonly type?: string | null;
  /** A datasource variable's default: the uid it selects (`current.value`). */
  readonly current?: string | null;
}

/** Options of {@linkcode expandDashboardQuery}. */
export interface ExpandOptions {
  /** The value of `$__rate_interval` (Grafana: 4 x the scrape interval at least). @default {"1m"} */
  rateInterval?: string;
  /** The value of `$__interval`. @default {"15s"} */
  interval?: string;
  /** The value of `$__range`. @default {"5m"} */
  range?: string;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/**
 * Expands a panel query's variables as Grafana does with "All" selected: each dashboard variable
 * becomes its `allValue` (`.*` when unset), `$__rate_interval`, `$__interval` and `$__range` the
 * given durations. `$name`, `${name}` and `[[name]]` are all recognised.
 *
 * @example
 * ```ts
 * expandDashboardQuery('rate(x{instance=~"$instance"}[$__rate_interval])', [{ name: "instance" }], {
 *   rateInterval: "20s",
 * });
 * // 'rate(x{instance=~".*"}[20s])'
 * ```
 *
 * @param expr the panel's PromQL
 * @param variables the dashboard's `templating.list`
 * @param options the built-in intervals
 * @returns the PromQL Prometheus can run
 */
export function expandDashboardQuery(
  expr: string,
  variables: readonly DashboardVariable[],
  options: ExpandOptions = {},
): string {
  const values = new Map<string, string>([
    ["__rate_interval", options.rateInterval ?? "1m"],
    ["__interval", options.interval ?? "15s"],
    ["__range", options.range ?? "5m"],
  ]);
  for (const v of variables) {
    values.set(v.name, v.type === "datasource" ? v.current ?? "" : v.allValue ?? ".*");
  }
  // Longest names first, so $instance is not read as $inst + "ance".
  const names = [...values.keys()].sort((a, b) => b.length - a.length).map(escapeRegExp);
  const pattern = new RegExp(
    `\\$\\{(${names.join("|")})(?::[^}]*)?\\}|\\[\\[(${names.join("|")})\\]\\]|\\$(${
      names.join("|")
    })(?![a-zA-Z0-9_])`,
    "g",
  );
  return expr.replace(pattern, (_, a, b, c) => values.get(a ?? b ?? c)!);
}

/** One query of one panel. */
export interface PanelQuery {
  readonly panel: string;
  readonly expr: string;
  /** The datasource uid the target or panel names, when it names a fixed one. */
  readonly datasourceUid: string | null;
  /**
   * The variable the target or panel names as its datasource (`${datasource}`: `"datasource"`),
   * to resolve with {@linkcode resolveDatasource}; null when it names a fixed uid or none.
   */
  readonly datasourceVariable: string | null;
}

function uidOf(datasource: Json): string | undefined {
  return typeof datasource === "string" ? undefined : jsonString(jsonAt(datasource, "uid"));
}

function fixedUid(datasource: Json): string | null {
  const uid = uidOf(datasource);
  return uid !== undefined && !uid.includes("$") ? uid : null;
}

/** The variable name of `$name`, `${name}` or `[[name]]` as a whole uid, else null. */
function variableOf(datasource: Json): string | null {
  const uid = uidOf(datasource);
  const m = uid === undefined ? null : /^(?:\$\{(\w+)\}|\$(\w+)|\[\[(\w+)\]\])$/.exec(uid);
  return m ? (m[1] ?? m[2] ?? m[3])! : null;
}

/** A panel's datasource that names no datasource variable of its dashboard. */
export class DatasourceVariableError extends Error {
  /**
   * @param variable the name the panel gives
   * @param known the dashboard's datasource variables
   */
  constructor(readonly variable: string, readonly known: readonly string[]) {
    super(
      `names datasource \${${variable}}, which is no datasource variable of the dashboard${
        known.length ? ` (it has ${known.map((k) => `\${${k}}`).join(", ")})` : " (it has none)"
      }`,
    );
    this.name = "DatasourceVariableError";
  }
}

/**
 * The uid a query runs against: its fixed uid, or for `${datasource}` the uid the doctor checks
 * (`--datasource-uid`, by default the provisioned `prometheus_ds`, the variable's default too),
 * as a user viewing the dashboard with that datasource selected would see it.
 *
 * @param query the panel query
 * @param variables the dashboard's variables
 * @param checked the datasource uid the doctor checks
 * @returns the uid
 * @throws {DatasourceVariableError} when it names a variable that is not a datasource variable
 */
export function resolveDatasource(
  query: PanelQuery,
  variables: readonly DashboardVariable[],
  checked: string,
): string {
  if (query.datasourceUid !== null) return query.datasourceUid;
  if (query.datasourceVariable === null) return checked;
  const known = variables.filter((v) => v.type === "datasource").map((v) => v.name);
  if (!known.includes(query.datasourceVariable)) {
    throw new DatasourceVariableError(query.datasourceVariable, known);
  }
  return checked;
}

/**
 * Every PromQL query of a dashboard's panels, rows' nested panels included.
 *
 * @param dashboard the dashboard JSON (the `dashboard` field of Grafana's answer)
 * @returns each panel's queries, in order
 */
export function panelQueries(dashboard: Json): PanelQuery[] {
  const queries: PanelQuery[] = [];
  const visit = (panels: readonly Json[]) => {
    for (const panel of panels) {
      visit(jsonArray(jsonAt(panel, "panels")));
      for (const target of jsonArray(jsonAt(panel, "targets"))) {
        const expr = jsonString(jsonAt(target, "expr"));
        if (expr === undefined || expr.trim() === "" || jsonAt(target, "hide")) continue;
        // The target's datasource, else the panel's (Grafana's order).
        const own = jsonAt(target, "datasource");
        const ds = uidOf(own) !== undefined ? own : jsonAt(panel, "datasource");
        queries.push({
          panel: String(jsonAt(panel, "title") ?? `panel ${jsonAt(panel, "id")}`),
          expr,
          datasourceUid: fixedUid(ds),
          datasourceVariable: variableOf(ds),
        });
      }
    }
  };
  visit(jsonArray(jsonAt(dashboard, "panels")));
  return queries;
}

/**
 * The dashboard's variables, from `templating.list`.
 *
 * @param dashboard the dashboard JSON
 * @returns its variables
 */
export function dashboardVariables(dashboard: Json): DashboardVariable[] {
  return jsonArray(jsonAt(dashboard, "templating", "list")).flatMap((v) => {
    const name = jsonString(jsonAt(v, "name"));
    if (name === undefined) return [];
    const current = jsonAt(v, "current", "value");
    return [{
      name,
      allValue: jsonString(jsonAt(v, "allValue")) ?? null,
      type: jsonString(jsonAt(v, "type")) ?? null,
      current: typeof current === "string" ? current : null,
    }];
  });
}

/**
 * Whether a query reads any of the metric families named.
 *
 * @param expr PromQL
 * @param families metric names
 * @returns true when one of them appears as a whole name (or with a histogram suffix)
 */
export function queryReads(expr: string, families: readonly string[]): boolean {
  return families.some((f) =>
    new RegExp(`(^|[^a-zA-Z0-9_:])${escapeRegExp(f)}(_bucket|_sum|_count)?($|[^a-zA-Z0-9_:])`)
      .test(expr)
  );
}

/**
 * Parses a Prometheus duration ("1s", "1m30s", "500ms") into seconds.
 *
 * @param text the duration
 * @returns seconds, or null when it is not a duration
 */
export function parseDurationSeconds(text: string): number | null {
  const units: Record<string, number> = {
    ms: 0.001,
    s: 1,
    m: 60,
    h: 3600,
    d: 86400,
    w: 604800,
    y: 31536000,
  };
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|s|m|h|d|w|y)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join("") !== text) return null;
  return parts.reduce((sum, p) => sum + Number(p[1]) * units[p[2]!]!, 0);
}

/**
 * Writes seconds as a Prometheus duration ("20s", "1m", "1m30s").
 *
 * @param seconds a whole number of seconds or more
 * @returns the duration
 */
export function formatDuration(seconds: number): string {
  const s = Math.max(1, Math.round(seconds));
  if (s % 60 !== 0) return s > 60 ? `${Math.floor(s / 60)}m${s % 60}s` : `${s}s`;
  return `${s / 60}m`;
}
