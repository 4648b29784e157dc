// The monitoring stack's files, checked with the real tools (no Docker engine here).

import { adminPassword } from "../scripts/stack.ts";
import { parse as parseYaml } from "yaml";
import { assert, assertEquals } from "./_assert.ts";
import { ROOT } from "./_helpers.ts";
import { buildDashboard, DATASOURCE } from "../scripts/gen_dashboard.ts";

const root = ROOT.pathname;

async function run(cmd: string, args: string[]): Promise<{ code: number; output: string }> {
  const out = await new Deno.Command(cmd, { args, cwd: root, stdout: "piped", stderr: "piped" })
    .output();
  return {
    code: out.code,
    output: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
  };
}

// deno-lint-ignore no-explicit-any -- parsed YAML and JSON documents are walked by key
type Doc = any;

Deno.test("monitoring - promtool accepts the Prometheus config and the alert rules", async () => {
  const config = await run("promtool", ["check", "config", "config/prometheus.yml"]);
  assertEquals(config.code, 0, config.output);
  assert(config.output.includes("SUCCESS: 1 rule files found"), config.output);
  const rules = await run("promtool", ["check", "rules", "config/alerts.yml"]);
  assertEquals(rules.code, 0, rules.output);
});

Deno.test("monitoring - promtool rule unit tests: every alert fires and stays quiet as intended", async () => {
  const tests = await run("promtool", [
    "test",
    "rules",
    "tests/fixtures/prometheus/alerts_test.yml",
  ]);
  assertEquals(tests.code, 0, tests.output);
  const alerts: Doc = parseYaml(await Deno.readTextFile(`${root}config/alerts.yml`));
  const tested: Doc = parseYaml(
    await Deno.readTextFile(`${root}tests/fixtures/prometheus/alerts_test.yml`),
  );
  const names = alerts.groups.flatMap((g: Doc) =>
    g.rules.filter((r: Doc) => r.alert).map((r: Doc) => r.alert)
  );
  const testedNames = new Set(
    tested.tests.flatMap((t: Doc) => t.alert_rule_test.map((a: Doc) => a.alertname)),
  );
  for (const name of names) assert(testedNames.has(name), `alert ${name} has no unit test`);
  for (const rule of alerts.groups.flatMap((g: Doc) => g.rules).filter((r: Doc) => r.alert)) {
    assert(["critical", "warning"].includes(rule.labels?.severity), `${rule.alert} has a severity`);
    assert(rule.annotations?.summary, `${rule.alert} has a summary`);
  }
});

/** A compose value with each `${VAR:-default}` replaced by its default. */
function withDefaults(value: string): string {
  return value.replaceAll(/\$\{[A-Z_]+:-([^}]*)\}/g, (_, fallback: string) => fallback);
}

Deno.test("monitoring - the compose file mounts what exists, on the ports and tags the stack promises", async () => {
  const compose: Doc = parseYaml(await Deno.readTextFile(`${root}docker-compose.monitoring.yml`));
  const { prometheus, grafana } = compose.services;
  assert(
    /^prom\/prometheus:v2\.\d+\.\d+$/.test(prometheus.image),
    `pinned Prometheus 2.x: ${prometheus.image}`,
  );
  assert(
    /^grafana\/grafana:\d+\.\d+\.\d+$/.test(grafana.image),
    `pinned Grafana: ${grafana.image}`,
  );
  // Safe defaults: loopback only unless STACK_BIND_ADDRESS opens it.
  assertEquals(prometheus.ports.map(withDefaults), ["127.0.0.1:9090:9090"]);
  assertEquals(grafana.ports.map(withDefaults), ["127.0.0.1:7000:3000"]);
  for (const service of [prometheus, grafana]) {
    assert(service.extra_hosts.includes("host.docker.internal:host-gateway"));
    for (const volume of service.volumes as string[]) {
      const [source] = volume.split(":");
      if (!source!.startsWith("./")) {
        assert(source! in compose.volumes, `named volume ${source} is declared`);
        continue;
      }
      await Deno.stat(`${root}${source!.slice(2)}`); // throws when the mounted path is missing
    }
  }
  assert(prometheus.command.includes("--config.file=/etc/pose-exporter/config/prometheus.yml"));
  assert(
    prometheus.volumes.includes("./config:/etc/pose-exporter/config:ro"),
    "config/ mounted whole",
  );
  for (const [key, value] of Object.entries(grafana.environment)) {
    if (key.includes("PASSWORD")) {
      assert(String(value).startsWith("${"), `${key} comes from the environment`);
    }
  }
  assertEquals(withDefaults(grafana.environment.GF_AUTH_ANONYMOUS_ENABLED), "false");
  // The lifecycle API is off unless asked for, with a flag Prometheus itself accepts.
  const lifecycle = prometheus.command.map(withDefaults).filter((f: string) =>
    f.includes("web.enable-lifecycle")
  );
  assertEquals(lifecycle, ["--no-web.enable-lifecycle"]);
  const accepted = await new Deno.Command("prometheus", {
    args: [lifecycle[0], "--version"],
    stdout: "null",
    stderr: "null",
  }).output();
  assert(accepted.success, "prometheus accepts --no-web.enable-lifecycle");

  const prom: Doc = parseYaml(await Deno.readTextFile(`${root}config/prometheus.yml`));
  const job = prom.scrape_configs.find((j: Doc) => j.job_name === "pose-exporter");
  assertEquals(job.static_configs[0].targets, ["host.docker.internal:8000"]);
  assertEquals(prom.rule_files, ["alerts.yml"]);
  assert(prom.scrape_configs.some((j: Doc) => j.job_name === "prometheus"));
});

Deno.test("monitoring - Grafana provisioning points at the dashboard, whose datasource variable defaults to prometheus_ds", async () => {
  const ds: Doc = parseYaml(
    await Deno.readTextFile(`${root}config/grafana/provisioning/datasources/prometheus.yml`),
  );
  assertEquals(ds.datasources[0].uid, "prometheus_ds");
  assertEquals(ds.datasources[0].url, "http://prometheus:9090");
  assert(ds.datasources[0].isDefault);
  const provider: Doc = parseYaml(
    await Deno.readTextFile(`${root}config/grafana/provisioning/dashboards/provider.yml`),
  );
  const compose: Doc = parseYaml(await Deno.readTextFile(`${root}docker-compose.monitoring.yml`));
  const mounted = (compose.services.grafana.volumes as string[]).find((v) =>
    v.startsWith("./config/grafana_dashboard.json:")
  );
  assert(
    (mounted ?? "").split(":")[1]?.startsWith(provider.providers[0].options.path + "/"),
    "the provider reads the mounted dashboard",
  );

  const dashboard: Doc = JSON.parse(
    await Deno.readTextFile(`${root}config/grafana_dashboard.json`),
  );
  assertEquals(
    dashboard,
    JSON.parse(JSON.stringify(buildDashboard())),
    "dashboard is stale: run deno task gen-dashboard",
  );
  const uids: string[] = [];
  const walk = (node: Doc) => {
    if (Array.isArray(node)) node.forEach(walk);
    else if (node && typeof node === "object") {
      if (node.datasource) uids.push(node.datasource.uid);
      Object.values(node).forEach(walk);
    }
  };
  walk(dashboard);
  assert(uids.length > 20);
  // Every reference goes through the datasource variable, whose default is the provisioned uid.
  assertEquals([...new Set(uids)], ["${datasource}"]);
  const dsVariable = dashboard.templating.list.find((v: Doc) => v.type === "datasource");
  assertEquals([dsVariable.name, dsVariable.current.value], ["datasource", DATASOURCE.uid]);
  for (const panel of dashboard.panels.filter((p: Doc) => p.type !== "row")) {
    assert(panel.description, `${panel.title} has a description`);
    assert(panel.fieldConfig.defaults.unit, `${panel.title} has a unit`);
    for (const t of panel.targets) {
      assert(!/or\s+vector\(0\)/.test(t.expr), `${panel.title} hides absence`);
    }
  }
  assertEquals(dashboard.templating.list.map((v: Doc) => [v.name, v.multi, v.includeAll]), [
    ["datasource", undefined, undefined],
    ["job", true, true],
    ["instance", true, true],
    ["stream", true, true],
    ["device", true, true],
  ]);
});

Deno.test("monitoring - deno task stack without a Docker engine says so in one line and fails", async () => {
  const out = await run(Deno.execPath(), [
    "run",
    "--allow-run",
    "--allow-env",
    "--allow-net",
    "--allow-read",
    "scripts/stack.ts",
  ]);
  if (out.code === 0) return; // A host with Docker ran the stack.
  const lines = out.output.trim().split("\n");
  assertEquals(lines.length, 1, out.output);
  assert(
    /^pose-exporter stack: (docker is not installed|no Docker engine is reachable|docker compose is missing)/
      .test(lines[0]!),
    lines[0],
  );
});

Deno.test("stack - a generated Grafana password is kept owner-only and reused", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/password`;
  const first = await adminPassword(path, undefined);
  assertEquals(first.source, "generated");
  assertEquals((await Deno.stat(path)).mode! & 0o777, 0o600);
  const again = await adminPassword(path, undefined);
  assertEquals(again, { password: first.password, source: "kept" });
  assertEquals(await adminPassword(path, "from-env"), {
    password: "from-env",
    source: "environment",
  });
  await Deno.remove(dir, { recursive: true });
});

Deno.test("monitoring - the commented scrape settings for a protected exporter pass promtool once uncommented", async () => {
  const text = await Deno.readTextFile(`${root}config/prometheus.yml`);
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === "# scheme: https");
  assert(start > 0, "no commented scheme: https");
  let end = start;
  while (end < lines.length && lines[end]!.trim().startsWith("#")) end++;
  const uncommented = lines.map((l, i) =>
    i >= start && i < end && !/^\s*#\s*$/.test(l) ? l.replace(/^(\s*)# /, "$1") : l
  );
  const dir = await Deno.makeTempDir({ prefix: "pose_protected_prometheus_" });
  try {
    await Deno.copyFile(`${root}config/alerts.yml`, `${dir}/alerts.yml`);
    await Deno.writeTextFile(`${dir}/prometheus.yml`, uncommented.join("\n"));
    const config: Doc = parseYaml(uncommented.join("\n"));
    const job = config.scrape_configs.find((j: Doc) => j.job_name === "pose-exporter");
    assertEquals(job.scheme, "https");
    assertEquals(job.basic_auth.username, "prometheus");
    await Deno.writeTextFile(`${dir}/${job.basic_auth.password_file}`, "secret\n");
    await Deno.writeTextFile(`${dir}/${job.tls_config.ca_file}`, "");
    const check = await run("promtool", ["check", "config", `${dir}/prometheus.yml`]);
    assertEquals(check.code, 0, check.output);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
