// The dashboard against the rules of Grafana's dashboard linter (grafana/dashboard-linter), so it
// imports into any Grafana as the community's dashboards do: a `datasource` variable that every
// panel, target, variable and annotation names, `job` and `instance` variables in every selector,
// `$__rate_interval` in every rate, a title, a description and a known unit on every panel.

import { assert, assertEquals } from "./_assert.ts";
import { buildDashboard, DATASOURCE } from "../scripts/gen_dashboard.ts";

// deno-lint-ignore no-explicit-any -- dashboard JSON is walked by key
type Doc = any;

/** Units the linter knows (its panel-units-rule list), those a pose dashboard might use. */
const KNOWN_UNITS = new Set([
  "none",
  "short",
  "percent",
  "percentunit",
  "bytes",
  "decbytes",
  "mbytes",
  "s",
  "ms",
  "µs",
  "ns",
  "m",
  "h",
  "dtdurations",
  "cps",
  "cpm",
  "ops",
  "hertz",
]);

/** Panel types whose units and datasource the linter checks. */
const DATA_PANELS = new Set([
  "stat",
  "singlestat",
  "graph",
  "table",
  "timeseries",
  "gauge",
  "heatmap",
]);

const dashboard: Doc = buildDashboard();
const panels: Doc[] = dashboard.panels.filter((p: Doc) => p.type !== "row");
const variables: Doc[] = dashboard.templating.list;
const isVariableRef = (uid: string) => uid === "$datasource" || uid === "${datasource}";

/**
 * Each metric selector of a PromQL expression with the text of its matchers (`{...}`, or "" when
 * it has none). Every family of this exporter starts with `pose_` or `vram_`; strings and the
 * matchers themselves are skipped so that a label value is never read as a metric.
 */
function selectors(expr: string): { metric: string; matchers: string }[] {
  const out: { metric: string; matchers: string }[] = [];
  let i = 0;
  while (i < expr.length) {
    const c = expr[i]!;
    if (c === '"') {
      i = expr.indexOf('"', i + 1) + 1;
      continue;
    }
    const m = /^(?:pose_|vram_)[a-zA-Z0-9_:]*/.exec(expr.slice(i));
    if (m && (i === 0 || !/[a-zA-Z0-9_:]/.test(expr[i - 1]!))) {
      const metric = m[0];
      i += metric.length;
      let matchers = "";
      if (expr[i] === "{") {
        const end = expr.indexOf("}", i);
        matchers = expr.slice(i + 1, end);
        i = end + 1;
      }
      out.push({ metric, matchers });
      continue;
    }
    i++;
  }
  return out;
}

/** Every PromQL expression of the dashboard: targets, variables and annotations, with where. */
function expressions(): { where: string; expr: string }[] {
  return [
    ...panels.flatMap((p) => p.targets.map((t: Doc) => ({ where: p.title, expr: t.expr }))),
    ...variables.filter((v) => v.type === "query").map((v) => ({
      where: `variable ${v.name}`,
      expr: v.query.query,
    })),
    ...dashboard.annotations.list.map((a: Doc) => ({ where: a.name, expr: a.expr })),
  ];
}

Deno.test("dashboard lint - template-datasource-rule: one datasource variable, defaulting to the provisioned uid", () => {
  const ds = variables.filter((v) => v.type === "datasource");
  assertEquals(ds.length, 1);
  assertEquals([ds[0].name, ds[0].label, ds[0].query], ["datasource", "Data source", "prometheus"]);
  assertEquals(ds[0].current.value, DATASOURCE.uid, "the provisioned Prometheus is the default");
  assertEquals(variables[0].name, "datasource", "first, as the others query through it");
});

Deno.test("dashboard lint - template-job-rule and template-instance-rule", () => {
  for (const [name, label] of [["job", "Job"], ["instance", "Instance"]]) {
    const v = variables.find((x) => x.name === name);
    assert(v, `a ${name} variable`);
    assertEquals(v.type, "query", `${name} is a Prometheus query`);
    assert(isVariableRef(v.datasource.uid), `${name} queries through $datasource`);
    assertEquals(v.label, label);
    assert(v.multi && v.includeAll, `${name} is a multi-select with All`);
    assertEquals(v.allValue, ".+", `${name}'s All is .+`);
  }
  // The instance list follows the job chosen; both come from the info metric every exporter has.
  assert(variables.find((x) => x.name === "instance").query.query.includes('job=~"$job"'));
});

Deno.test("dashboard lint - panel-datasource-rule: every panel, target, variable and annotation uses $datasource", () => {
  const refs: string[] = [];
  const walk = (node: Doc, where: string) => {
    if (Array.isArray(node)) node.forEach((n) => walk(n, where));
    else if (node && typeof node === "object") {
      if (node.datasource) refs.push(`${where}: ${node.datasource.uid}`);
      for (const [k, v] of Object.entries(node)) walk(v, node.title ?? node.name ?? where ?? k);
    }
  };
  walk(dashboard, "dashboard");
  assert(refs.length > 40, `${refs.length} datasource references`);
  const fixed = refs.filter((r) => !isVariableRef(r.slice(r.lastIndexOf(": ") + 2)));
  assertEquals(fixed, [], "datasources named by uid instead of the variable");
  for (const p of panels) {
    if (DATA_PANELS.has(p.type)) assertEquals(p.datasource.type, "prometheus", p.title);
  }
});

Deno.test("dashboard lint - panel-title-description-rule and panel-units-rule", () => {
  assert(panels.length >= 25, `${panels.length} panels`);
  for (const p of panels) {
    assert(p.title && p.description, `panel ${p.id} has a title and a description`);
    assert(DATA_PANELS.has(p.type), `${p.title}: a ${p.type} panel`);
    const unit = p.fieldConfig.defaults.unit;
    assert(
      KNOWN_UNITS.has(unit),
      `${p.title}: unit ${JSON.stringify(unit)} is one the linter knows`,
    );
    if (p.type === "heatmap") assertEquals(p.options.yAxis.unit, unit, `${p.title}: axis unit`);
    assert(p.targets.length > 0, `${p.title}: panel-no-targets-rule`);
  }
});

Deno.test("dashboard lint - target-rate-interval-rule: every range in a query is $__rate_interval", () => {
  let ranges = 0;
  // The annotation (not a target: the linter reads none) marks rebuilds by changes() over 1m.
  for (const { where, expr } of expressions().filter((e) => e.where !== "Solver rebuilds")) {
    for (const m of expr.matchAll(/\[([^\]]*)\]/g)) {
      ranges++;
      assertEquals(m[1], "$__rate_interval", `${where}: ${expr}`);
    }
  }
  assert(ranges >= 10, `${ranges} range selectors`);
});

Deno.test("dashboard lint - target-job-rule and target-instance-rule: every selector has both matchers", () => {
  let count = 0;
  for (const { where, expr } of expressions()) {
    if (where === "variable job") continue; // the job variable lists the jobs themselves
    const found = selectors(expr);
    assert(found.length > 0, `${where}: ${expr} selects a metric of this exporter`);
    for (const s of found) {
      count++;
      const matchers = s.matchers.split(",").map((m) => m.trim());
      assert(matchers.includes('job=~"$job"'), `${where}: ${s.metric} lacks job=~"$job": ${expr}`);
      if (where === "variable instance") continue;
      assert(
        matchers.includes('instance=~"$instance"'),
        `${where}: ${s.metric} lacks instance=~"$instance": ${expr}`,
      );
    }
  }
  assert(count >= 30, `${count} selectors`);
});

Deno.test("dashboard lint - the checks above see what they look for", () => {
  assertEquals(
    selectors('sum(rate(pose_a{job=~"$job", x="pose_b"}[1m])) / vram_c + pose_d_total'),
    [
      { metric: "pose_a", matchers: 'job=~"$job", x="pose_b"' },
      { metric: "vram_c", matchers: "" },
      { metric: "pose_d_total", matchers: "" },
    ],
  );
  const titles = panels.map((p) => p.title);
  for (
    const t of ["People now", "People in view per stream", "Time in view", "Time in view (heatmap)"]
  ) {
    assert(titles.includes(t), `the tracking panel ${t}`);
  }
  const reads = (title: string) => panels.find((p) => p.title === title).targets[0].expr;
  assert(reads("People now").includes("pose_tracks_active"));
  assert(reads("Time in view").includes("pose_track_duration_seconds_bucket"));
  assertEquals(panels.find((p) => p.title === "Time in view (heatmap)").type, "heatmap");
});
