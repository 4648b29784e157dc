// pose-exporter doctor: its parsers on literals, the Grafana checks against a fake that serves
// Grafana's documented API, and the whole walk against a real exporter and a real Prometheus.

import { stringify as stringifyYaml } from "yaml";
import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { freePort, pollUntil, ROOT, spawnPrometheus, startExporter } from "./_helpers.ts";
import { FakeGrafana } from "./fakes/fake_grafana.ts";
import { buildDashboard, DATASOURCE } from "../scripts/gen_dashboard.ts";
import type { CheckResult } from "../src/doctor/check_result.ts";
import {
  dashboardVariables,
  DatasourceVariableError,
  expandDashboardQuery,
  panelQueries,
  resolveDatasource,
} from "../src/doctor/dashboard_queries.ts";
import { checkExporter, checkListenAddress } from "../src/doctor/exporter_checks.ts";
import type { ExporterFacts } from "../src/doctor/exporter_checks.ts";
import {
  checkGrafana,
  DEFAULT_DASHBOARD_UID,
  DEFAULT_DATASOURCE_UID,
  grafanaAuthFromEnv,
} from "../src/doctor/grafana_checks.ts";
import { parseProcNetTcp } from "../src/doctor/listen_sockets.ts";
import { renderJson, renderText } from "../src/doctor/report.ts";
import {
  parseFibTrieLocal,
  parseIfInet6,
  scrapesExporter,
  type ThisHost,
} from "../src/doctor/this_host.ts";
import { classifyScrapeError } from "../src/doctor/scrape_error.ts";
import { queryPrometheus } from "../src/doctor/prometheus_checks.ts";

// deno-lint-ignore no-explicit-any -- parsed YAML and JSON documents are walked by key
type Doc = any;

/** The permissions the doctor runs with: deno task doctor's, plus cat to read /proc/net/tcp. */
const DOCTOR_PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-run=cat"];

/** No Grafana credentials from the environment of whoever runs the tests. */
const NO_CREDENTIALS = { GRAFANA_TOKEN: "", GRAFANA_ADMIN_USER: "", GRAFANA_ADMIN_PASSWORD: "" };

/** Runs `pose-exporter doctor` (main.ts, as `deno task doctor` does) to completion. */
async function runDoctorCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", ...DOCTOR_PERMISSIONS, "main.ts", "doctor", ...args],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", ...NO_CREDENTIALS, ...env },
  }).output();
  const decoder = new TextDecoder();
  return {
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  };
}

function line(stdout: string, prefix: string): string {
  return stdout.split("\n").find((l) => l.startsWith(prefix)) ?? "";
}

function byCheck(results: CheckResult[], check: string): CheckResult {
  const found = results.find((r) => r.check === check);
  assert(found, `no check "${check}" in ${JSON.stringify(results, null, 1)}`);
  return found;
}

async function hostResolves(name: string): Promise<boolean> {
  const out = await new Deno.Command("getent", {
    args: ["hosts", name],
    stdout: "null",
    stderr: "null",
  }).output();
  return out.success;
}

Deno.test("parseProcNetTcp() reads listening IPv4 and IPv6 sockets and skips connected ones", () => {
  const tcp = [
    "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode",
    "   0: 0100007F:1F40 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1 1 0",
    "   1: 00000000:2382 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2 1 0",
    "   2: 0100007F:1F40 0100007F:A2C4 01 00000000:00000000 00:00000000 00000000     0        0 3 1 0",
    "   3: 0200007F:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 4 1 0",
  ].join("\n");
  assertEquals(parseProcNetTcp(tcp, false), [
    { address: "127.0.0.1", port: 8000 },
    { address: "0.0.0.0", port: 9090 },
    { address: "127.0.0.2", port: 80 },
  ]);
  const tcp6 = [
    "  sl  local_address                         remote_address                        st",
    "   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 0",
    "   1: 00000000000000000000000001000000:1F41 00000000000000000000000000000000:0000 0A 0",
    "   2: 0000000000000000FFFF00000100007F:1F42 00000000000000000000000000000000:0000 0A 0",
    "   3: B80D0120000000000000000001000000:1F43 00000000000000000000000000000000:0000 0A 0",
  ].join("\n");
  assertEquals(parseProcNetTcp(tcp6, true), [
    { address: "::", port: 8000 },
    { address: "::1", port: 8001 },
    { address: "::ffff:127.0.0.1", port: 8002 },
    { address: "2001:db8::1", port: 8003 },
  ]);
});

Deno.test("scrapesExporter() matches host:port, or the port on a name of this host, never the job", () => {
  const local: ThisHost = {
    names: new Set(["gpu-box"]),
    addresses: new Set(["192.0.2.2", "fd00:0:0:0:0:0:0:2"]),
  };
  const exporter = { host: "127.0.0.1", port: 18133 };
  const at = (host: string, port = 18133) => scrapesExporter({ host, port }, exporter, local);
  for (
    const host of [
      "127.0.0.1",
      "127.0.0.2",
      "localhost",
      "0.0.0.0",
      "::1",
      "host.docker.internal",
      "gpu-box",
      "GPU-BOX",
      "192.0.2.2",
      "fd00::2",
    ]
  ) {
    assert(at(host), host);
  }
  assert(!at("127.0.0.1", 18130), "another port is another exporter");
  assert(!at("198.51.100.7"), "another host's address");
  assert(!at("other-box"), "another host's name");
  const remote = { host: "198.51.100.7", port: 8000 };
  assert(scrapesExporter({ host: "198.51.100.7", port: 8000 }, remote, local));
  assert(
    !scrapesExporter({ host: "127.0.0.1", port: 8000 }, remote, local),
    "this host's loopback is not a remote exporter",
  );
  assertEquals(
    parseFibTrieLocal([
      "Local:",
      "  +-- 0.0.0.0/0 3 0 5",
      "     |-- 127.0.0.1",
      "        /32 host LOCAL",
      "     |-- 127.255.255.255",
      "        /32 link BROADCAST",
      "     |-- 192.0.2.2",
      "        /32 host LOCAL",
    ].join("\n")),
    ["127.0.0.1", "192.0.2.2"],
  );
  assertEquals(
    parseIfInet6(
      "00000000000000000000000000000001 01 80 10 80       lo\n" +
        "fd000000000000000000000000000002 02 40 00 80     eth0\n",
    ),
    ["0:0:0:0:0:0:0:1", "fd00:0:0:0:0:0:0:2"],
  );
});

Deno.test("classifyScrapeError() tells refused, unresolvable host, timeout and wrong path apart", () => {
  const cases: [string, string, string][] = [
    [
      'Get "http://127.0.0.1:1/metrics": dial tcp 127.0.0.1:1: connect: connection refused',
      "refused",
      "connection refused",
    ],
    [
      'Get "http://host.docker.internal:8000/metrics": dial tcp: lookup host.docker.internal on 127.0.0.11:53: no such host',
      "no_such_host",
      "cannot resolve host.docker.internal (no such host)",
    ],
    [
      'Get "http://gpu-1:8000/metrics": dial tcp: lookup gpu-1 on [::1]:53: server misbehaving',
      "no_such_host",
      "cannot resolve gpu-1 (server misbehaving)",
    ],
    [
      'Get "http://10.0.0.5:8000/metrics": context deadline exceeded',
      "timeout",
      "timeout (no answer within scrape_timeout)",
    ],
    ["server returned HTTP status 404 Not Found", "not_found", "HTTP 404 Not Found"],
    [
      "server returned HTTP status 503 Service Unavailable",
      "http_status",
      "HTTP 503 Service Unavailable",
    ],
  ];
  for (const [error, kind, cause] of cases) {
    assertEquals(classifyScrapeError(error), { kind, cause } as Doc, error);
  }
});

Deno.test("expandDashboardQuery() leaves no variable in any query of the provisioned dashboard", () => {
  const dashboard: Doc = buildDashboard();
  const variables = dashboard.templating.list;
  const queries = panelQueries(dashboard);
  assert(queries.length >= 20, `${queries.length} queries`);
  for (const q of queries) {
    const expanded = expandDashboardQuery(q.expr, variables, { rateInterval: "20s" });
    assert(!expanded.includes("$"), `${q.panel}: ${expanded}`);
  }
  assertEquals(
    expandDashboardQuery(
      'rate(x{instance=~"$instance", s=~"${stream}", d=~"[[device]]"}[$__rate_interval])',
      variables,
      { rateInterval: "20s" },
    ),
    'rate(x{instance=~".+", s=~".*", d=~".*"}[20s])',
  );
  assertEquals(
    expandDashboardQuery("$instances", [{ name: "instance" }]),
    "$instances",
    "a longer name is not a variable",
  );
  // job and instance are "All" as the linter wants them (.+); every query names both.
  const people = queries.find((q) => q.panel === "People now")!;
  assertEquals(
    expandDashboardQuery(people.expr, dashboardVariables(dashboard)),
    'sum(pose_tracks_active{job=~".+", instance=~".+", stream_id=~".*"})',
  );
});

Deno.test("resolveDatasource() reads ${datasource} as the checked uid, a fixed uid as itself", () => {
  const dashboard: Doc = buildDashboard();
  const variables = dashboardVariables(dashboard);
  assertEquals(variables.find((v) => v.name === "datasource"), {
    name: "datasource",
    allValue: null,
    type: "datasource",
    current: "prometheus_ds",
  });
  const queries = panelQueries(dashboard);
  assert(queries.every((q) => q.datasourceVariable === "datasource" && q.datasourceUid === null));
  assertEquals(resolveDatasource(queries[0]!, variables, "prometheus_ds"), "prometheus_ds");
  assertEquals(resolveDatasource(queries[0]!, variables, "other_uid"), "other_uid");
  const fixed = { panel: "p", expr: "up", datasourceUid: "fixed", datasourceVariable: null };
  assertEquals(resolveDatasource(fixed, variables, "prometheus_ds"), "fixed");
  const unknown = { ...fixed, datasourceUid: null, datasourceVariable: "ds" };
  assertThrows(
    () => resolveDatasource(unknown, variables, "prometheus_ds"),
    DatasourceVariableError,
  );
  // The target's own datasource comes first, then the panel's; $x, ${x} and [[x]] all name x.
  const panel = (target: Doc) => ({
    panels: [{
      title: "t",
      datasource: { uid: "[[panel_ds]]" },
      targets: [{ expr: "up", ...target }],
    }],
  });
  assertEquals(panelQueries(panel({ datasource: { uid: "$own" } }))[0]!.datasourceVariable, "own");
  assertEquals(panelQueries(panel({}))[0]!.datasourceVariable, "panel_ds");
  assertEquals(panelQueries(panel({ datasource: { uid: "abc" } }))[0]!.datasourceUid, "abc");
});

function facts(addresses: string[], port = 8000): ExporterFacts {
  return {
    url: new URL(`http://127.0.0.1:${port}/`),
    port,
    answered: true,
    readsGpu: false,
    sockets: addresses.map((address) => ({ address, port })),
    socketsNote: "",
    metricsMs: 5,
  };
}

Deno.test("checkListenAddress() fails loopback only when Prometheus scrapes another address", () => {
  const everywhere = checkListenAddress(facts(["0.0.0.0"]), [{
    host: "host.docker.internal",
    port: 8000,
  }]);
  assertEquals(everywhere.status, "ok");
  const same = checkListenAddress(facts(["127.0.0.1"]), [{ host: "127.0.0.1", port: 8000 }]);
  assertEquals(same.status, "ok", same.seen);
  const localhost = checkListenAddress(facts(["127.0.0.1"]), [{ host: "localhost", port: 8000 }]);
  assertEquals(localhost.status, "ok", localhost.seen);
  const other = checkListenAddress(facts(["127.0.0.1"]), [{ host: "127.0.0.2", port: 8000 }]);
  assertEquals(other.status, "fail");
  assert(other.seen.includes("127.0.0.2:8000"), other.seen);
  assertEquals(other.fix, "restart the exporter with --listen 0.0.0.0:8000 (every interface)");
  const docker = checkListenAddress(facts(["127.0.0.1"]), [{
    host: "host.docker.internal",
    port: 8000,
  }]);
  assertEquals(docker.status, "fail");
  const unknown = checkListenAddress(facts(["127.0.0.1"]), null, "Prometheus did not answer");
  assertEquals(unknown.status, "skip");
  assert(unknown.seen.includes("Prometheus did not answer"), unknown.seen);
  const notLocal = checkListenAddress({ ...facts([]), sockets: null, socketsNote: "not here" }, []);
  assertEquals(notLocal, {
    check: "exporter listen",
    status: "skip",
    seen: "cannot tell: not here",
  });
});

Deno.test("renderText() prints one line per check, a fix under each failure, and the first failure", () => {
  const results: CheckResult[] = [
    { check: "exporter metrics", status: "ok", seen: "answered" },
    {
      check: "prometheus target 127.0.0.1:1 (job pose-exporter)",
      status: "fail",
      seen: "down",
      fix: "start it",
    },
    { check: "prometheus series", status: "skip", seen: "no target of the exporter is up" },
  ];
  assertEquals(
    renderText(results),
    [
      "ok   exporter metrics: answered",
      "FAIL prometheus target 127.0.0.1:1 (job pose-exporter): down",
      "     fix: start it",
      "skip prometheus series: no target of the exporter is up",
      "",
      "doctor: 1 of 3 checks failed; start with the first: prometheus target 127.0.0.1:1 (job pose-exporter)",
      "",
    ].join("\n"),
  );
  assertEquals(JSON.parse(renderJson(results)), { ok: false, failed: 1, checks: results });
  assert(renderText([results[0]!]).endsWith("doctor: all 1 checks passed\n"));
});

Deno.test("doctor defaults name the provisioned dashboard's and datasource's uids", async () => {
  const dashboard = JSON.parse(
    await Deno.readTextFile(new URL("config/grafana_dashboard.json", ROOT)),
  );
  assertEquals(DEFAULT_DASHBOARD_UID, dashboard.uid);
  assertEquals(DEFAULT_DATASOURCE_UID, DATASOURCE.uid);
});

Deno.test("grafanaAuthFromEnv() prefers GRAFANA_TOKEN, then the admin password, then anonymous", () => {
  assertEquals(grafanaAuthFromEnv({ GRAFANA_TOKEN: "t", GRAFANA_ADMIN_PASSWORD: "p" }).headers, {
    authorization: "Bearer t",
  });
  assertEquals(grafanaAuthFromEnv({ GRAFANA_ADMIN_PASSWORD: "p" }).headers, {
    authorization: `Basic ${btoa("admin:p")}`,
  });
  assertEquals(
    grafanaAuthFromEnv({ GRAFANA_ADMIN_USER: "ops", GRAFANA_ADMIN_PASSWORD: "p" }).headers,
    {
      authorization: `Basic ${btoa("ops:p")}`,
    },
  );
  assertEquals(grafanaAuthFromEnv({}).description, "anonymously");
});

/** Serves a scripted /metrics and /readyz, as an exporter in trouble would. */
function fakeExporter(metrics: string, readyStatus: number): { url: URL; server: Deno.HttpServer } {
  const server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (req) => {
    const path = new URL(req.url).pathname;
    if (path === "/metrics") return new Response(metrics);
    if (path === "/readyz") return new Response("not ready\n", { status: readyStatus });
    return new Response("not found\n", { status: 404 });
  });
  return { url: new URL(`http://127.0.0.1:${(server.addr as Deno.NetAddr).port}/`), server };
}

Deno.test("checkExporter() says why /readyz is not ready and wants vram_* where a GPU is read", async () => {
  const { url, server } = fakeExporter(
    [
      "# TYPE pose_fps gauge",
      'pose_fps{stream_id="cam1"} 0',
      "# TYPE pose_latency_ms summary",
      'pose_latency_ms_count{stream_id="cam1"} 0',
      "# TYPE pose_stream_up gauge",
      'pose_stream_up{stream_id="cam1"} 0',
      "# TYPE pose_stream_failures_total counter",
      'pose_stream_failures_total{stream_id="cam1",reason="unreadable"} 3',
      "# TYPE gpu_info gauge",
      'gpu_info{device_id="0",uuid="GPU-1",name="NVIDIA H200"} 1',
      "# TYPE pose_exporter_info gauge",
      'pose_exporter_info{version="0.1.0",provider="cuda",model="yolo"} 1',
      "",
    ].join("\n"),
    503,
  );
  try {
    const { results, facts } = await checkExporter(url, { timeoutMs: 2000 });
    assertEquals(byCheck(results, "exporter metrics").status, "ok");
    const contract = byCheck(results, "exporter contract");
    assertEquals(contract.status, "fail");
    assert(
      contract.seen.includes("missing vram_usage_mb, vram_fragmentation_ratio"),
      contract.seen,
    );
    const ready = byCheck(results, "exporter ready");
    assertEquals(ready.status, "fail");
    assert(
      ready.seen.includes("no stream is up (cam1 down; failures: cam1 unreadable x3)"),
      ready.seen,
    );
    assertEquals(facts.readsGpu, true);
  } finally {
    await server.shutdown();
  }
});

Deno.test("checkExporter() names another program on the port, and a dead port with the start fix", async () => {
  const { url, server } = fakeExporter("# TYPE up gauge\nup 1\n", 200);
  try {
    const { results } = await checkExporter(url, { timeoutMs: 2000 });
    assert(byCheck(results, "exporter metrics").seen.includes("this is not pose-exporter"));
    assertEquals(byCheck(results, "exporter contract").status, "skip");
  } finally {
    await server.shutdown();
  }
  const dead = await checkExporter(new URL(`http://127.0.0.1:${freePort()}/`), { timeoutMs: 2000 });
  const metrics = byCheck(dead.results, "exporter metrics");
  assertEquals(metrics.status, "fail");
  assert(metrics.seen.endsWith("connection refused"), metrics.seen);
  assert(metrics.fix?.includes("start the exporter"), metrics.fix);
});

// Grafana, against a fake that answers as Grafana's HTTP API documents.

const PROVISIONED_DS = {
  uid: DEFAULT_DATASOURCE_UID,
  name: "Prometheus",
  type: "prometheus",
  jsonData: { timeInterval: "1s" },
};

Deno.test("checkGrafana() - a Grafana that does not answer fails with the start fix; its checks skip", async () => {
  const results = await checkGrafana(new URL(`http://127.0.0.1:${freePort()}/`), {
    timeoutMs: 2000,
  });
  assertEquals(results.map((r) => r.status), ["fail", "skip", "skip", "skip", "skip"]);
  assert(results[0]!.fix?.includes("deno task stack"));
  assertEquals(results[1]!.seen, "Grafana did not answer");
});

Deno.test("checkGrafana() - a failing database in /api/health is a failure", async () => {
  const grafana = FakeGrafana.start({ database: "failing" });
  try {
    const results = await checkGrafana(new URL(grafana.url), { timeoutMs: 2000 });
    assertEquals(results[0]!.status, "fail");
    assert(results[0]!.seen.includes("HTTP 503, database failing"), results[0]!.seen);
  } finally {
    await grafana.close();
  }
});

Deno.test("checkGrafana() - anonymous access off: 401 Unauthorized asks for the stack's credentials", async () => {
  const deadProm = `http://127.0.0.1:${freePort()}`;
  const grafana = FakeGrafana.start({
    anonymous: false,
    datasources: [{ ...PROVISIONED_DS, url: deadProm }],
  });
  try {
    const anonymous = await checkGrafana(new URL(grafana.url), { timeoutMs: 2000 });
    const ds = byCheck(anonymous, `grafana datasource ${DEFAULT_DATASOURCE_UID}`);
    assertEquals(ds.status, "fail");
    assertEquals(ds.seen, 'HTTP 401 "Unauthorized" anonymously');
    assert(ds.fix?.includes("GRAFANA_ADMIN_PASSWORD"), ds.fix);
    assertEquals(byCheck(anonymous, "grafana datasource health").status, "skip");
    for (
      const env of [
        { GRAFANA_ADMIN_PASSWORD: "secret" },
        { GRAFANA_TOKEN: "glsa_token" },
      ]
    ) {
      const results = await checkGrafana(new URL(grafana.url), {
        timeoutMs: 2000,
        auth: grafanaAuthFromEnv(env),
      });
      assertEquals(byCheck(results, `grafana datasource ${DEFAULT_DATASOURCE_UID}`).status, "ok");
    }
    const wrong = await checkGrafana(new URL(grafana.url), {
      timeoutMs: 2000,
      auth: grafanaAuthFromEnv({ GRAFANA_ADMIN_PASSWORD: "wrong" }),
    });
    assert(
      byCheck(wrong, `grafana datasource ${DEFAULT_DATASOURCE_UID}`).fix?.includes(
        "refused the credentials",
      ),
    );
  } finally {
    await grafana.close();
  }
});

Deno.test("checkGrafana() - a missing datasource is 404 Data source not found, with the provisioning fix", async () => {
  for (const auth of [grafanaAuthFromEnv({ GRAFANA_ADMIN_PASSWORD: "secret" }), undefined]) {
    const grafana = FakeGrafana.start({ datasources: [] });
    try {
      const results = await checkGrafana(new URL(grafana.url), {
        timeoutMs: 2000,
        ...(auth ? { auth } : {}),
      });
      const ds = byCheck(results, `grafana datasource ${DEFAULT_DATASOURCE_UID}`);
      assertEquals(ds.status, "fail", ds.seen);
      assertEquals(ds.seen, 'not found: HTTP 404 "Data source not found"');
      assert(ds.fix?.includes("config/grafana/provisioning"), ds.fix);
      assertEquals(byCheck(results, "grafana datasource health").status, "skip");
    } finally {
      await grafana.close();
    }
  }
});

Deno.test("checkGrafana() - datasource health ERROR names Grafana's message and the compose URL", async () => {
  const deadProm = `http://127.0.0.1:${freePort()}`;
  const grafana = FakeGrafana.start({ datasources: [{ ...PROVISIONED_DS, url: deadProm }] });
  try {
    const results = await checkGrafana(new URL(grafana.url), { timeoutMs: 2000 });
    const ds = byCheck(results, `grafana datasource ${DEFAULT_DATASOURCE_UID}`);
    assertEquals(ds.status, "ok", "anonymous viewers see that it exists");
    assert(ds.seen.includes("settings are hidden anonymously"), ds.seen);
    const health = byCheck(results, "grafana datasource health");
    assertEquals(health.status, "fail");
    assert(health.seen.startsWith(`ERROR: Post "${deadProm}/api/v1/query"`), health.seen);
    assert(health.fix?.includes("http://prometheus:9090"), health.fix);
  } finally {
    await grafana.close();
  }
});

Deno.test("checkGrafana() - a dashboard that is not provisioned is named; the panels skip", async () => {
  const grafana = FakeGrafana.start({
    datasources: [{ ...PROVISIONED_DS, url: `http://127.0.0.1:${freePort()}` }],
    dashboards: [{ uid: "other", title: "Node Exporter Full", panels: [] }],
  });
  try {
    const results = await checkGrafana(new URL(grafana.url), { timeoutMs: 2000 });
    const dashboard = byCheck(results, `grafana dashboard ${DEFAULT_DASHBOARD_UID}`);
    assertEquals(dashboard.status, "fail");
    assertEquals(
      dashboard.seen,
      'not among the 1 dashboards Grafana lists: "Node Exporter Full" (other)',
    );
    assert(dashboard.fix?.includes("config/grafana_dashboard.json"), dashboard.fix);
    assertEquals(byCheck(results, "grafana panels").status, "skip");
  } finally {
    await grafana.close();
  }
});

// The whole walk: a real exporter, Debian's Prometheus, and the fake Grafana proxying to it.

/** A Prometheus from Debian on a loopback port, its config rewritten and reloaded per case. */
class TestPrometheus {
  readonly url: string;
  #dir: string;
  #child: Deno.ChildProcess;

  private constructor(dir: string, port: number, child: Deno.ChildProcess) {
    this.#dir = dir;
    this.url = `http://127.0.0.1:${port}`;
    this.#child = child;
  }

  static async start(targets: string[], withRules: boolean): Promise<TestPrometheus> {
    const dir = await Deno.makeTempDir({ prefix: "pose_doctor_test_" });
    await Deno.copyFile(new URL("config/alerts.yml", ROOT), `${dir}/alerts.yml`);
    const port = freePort();
    await Deno.writeTextFile(`${dir}/prometheus.yml`, TestPrometheus.#config(targets, withRules));
    const child = spawnPrometheus(dir, port);
    const prometheus = new TestPrometheus(dir, port, child);
    await pollUntil(`${prometheus.url}/-/ready`, (_, status) => status === 200, 30_000);
    await prometheus.#waitForTargets(targets);
    return prometheus;
  }

  static #config(targets: string[], withRules: boolean): string {
    return stringifyYaml({
      global: { scrape_interval: "1s", scrape_timeout: "1s", evaluation_interval: "1s" },
      ...(withRules ? { rule_files: ["alerts.yml"] } : {}),
      scrape_configs: [{ job_name: "pose-exporter", static_configs: [{ targets }] }],
    });
  }

  /** Scrapes `targets` in job pose-exporter from now on, once each has been scraped. */
  async reload(targets: string[], withRules = true): Promise<void> {
    await Deno.writeTextFile(
      `${this.#dir}/prometheus.yml`,
      TestPrometheus.#config(targets, withRules),
    );
    this.#child.kill("SIGHUP");
    await this.#waitForTargets(targets);
  }

  async #waitForTargets(targets: string[]): Promise<void> {
    await pollUntil(`${this.url}/api/v1/targets?state=active`, (text) => {
      const active: Doc[] = JSON.parse(text).data?.activeTargets ?? [];
      const addresses = active.map((t) => t.labels.instance).sort();
      return JSON.stringify(addresses) === JSON.stringify([...targets].sort()) &&
        active.every((t) => t.health !== "unknown");
    }, 30_000);
  }

  async stop(): Promise<void> {
    this.#child.kill("SIGTERM");
    await this.#child.status;
    await Deno.remove(this.#dir, { recursive: true });
  }
}

const hostDockerInternalResolves = await hostResolves("host.docker.internal");

Deno.test("doctor - real exporter and Prometheus: exit 0 when scraped, the broken link named otherwise", async (t) => {
  const port = freePort();
  const exporter = startExporter([
    "--streams",
    "1",
    "--listen",
    `127.0.0.1:${port}`,
    "--provider",
    "cpu",
  ]);
  let prometheus: TestPrometheus | null = null;
  const exporterUrl = `http://127.0.0.1:${port}`;
  try {
    await pollUntil(`${exporterUrl}/readyz`, (_, status) => status === 200, 60_000);
    prometheus = await TestPrometheus.start([`127.0.0.1:${port}`], true);
    const prom = prometheus;
    const args = ["--exporter", exporterUrl, "--prometheus", prom.url];

    await t.step("healthy path: exit 0, every check ok", async () => {
      const out = await runDoctorCli(args);
      assertEquals(out.code, 0, out.stdout + out.stderr);
      assert(!out.stdout.includes("FAIL"), out.stdout);
      assert(
        line(out.stdout, "ok   exporter listen:").includes(
          `Prometheus scrapes 127.0.0.1:${port}, on loopback too`,
        ),
        out.stdout,
      );
      assert(
        line(out.stdout, `ok   prometheus target 127.0.0.1:${port} (job pose-exporter): up`),
        out.stdout,
      );
      assert(line(out.stdout, "ok   prometheus series:"), out.stdout);
      assert(line(out.stdout, "ok   prometheus rules:").includes("none in error"), out.stdout);
      assertEquals(
        line(out.stdout, "skip grafana:"),
        "skip grafana: not checked: no --grafana given",
      );
    });

    await t.step(
      "healthy path through Grafana: the datasource proxy returns data for every panel",
      async () => {
        // Enough samples for the rate windows ($__rate_interval is 4 x the 1 s interval).
        await pollUntil(
          `${prom.url}/api/v1/query?query=${encodeURIComponent("count_over_time(pose_fps[10s])")}`,
          (text) => Number(JSON.parse(text).data?.result?.[0]?.value?.[1] ?? 0) >= 6,
          30_000,
        );
        const dashboard = buildDashboard();
        const grafana = FakeGrafana.start({
          anonymous: false,
          datasources: [{ ...PROVISIONED_DS, url: prom.url }],
          dashboards: [dashboard],
        });
        try {
          const out = await runDoctorCli([...args, "--grafana", grafana.url], {
            GRAFANA_ADMIN_PASSWORD: "secret",
          });
          assertEquals(out.code, 0, out.stdout + out.stderr);
          assert(
            line(out.stdout, "ok   grafana datasource prometheus_ds:").includes("as admin"),
            out.stdout,
          );
          assert(
            line(out.stdout, "ok   grafana datasource health: Successfully queried"),
            out.stdout,
          );
          const panels = line(out.stdout, "ok   grafana panels: all ");
          assert(panels.includes("through Grafana's datasource proxy"), out.stdout);
          assert(panels.includes("${datasource} = prometheus_ds"), out.stdout);
          assert(panels.includes("GPU panel(s) empty as expected"), out.stdout);
          assert(
            grafana.requests.some((r) =>
              r.startsWith("GET /api/datasources/proxy/uid/prometheus_ds/api/v1/query?")
            ),
          );

          // One panel whose selector matches nothing is named.
          const broken: Doc = structuredClone(dashboard);
          const fps = broken.panels.find((p: Doc) => p.title === "FPS per stream");
          fps.targets[0].expr = 'pose_fps{stream_id="no-such-stream"}';
          const brokenGrafana = FakeGrafana.start({
            datasources: [{ ...PROVISIONED_DS, url: prom.url }],
            dashboards: [broken],
          });
          try {
            const results = await checkGrafana(new URL(brokenGrafana.url), {
              timeoutMs: 3000,
              readsGpu: false,
              seriesFound: true,
            });
            const check = byCheck(results, "grafana panels");
            assertEquals(check.status, "fail");
            assert(check.seen.startsWith("1 of "), check.seen);
            assert(check.seen.includes("panels without data: FPS per stream"), check.seen);
          } finally {
            await brokenGrafana.close();
          }

          // A panel naming a datasource variable the dashboard lacks is named, with the ones it has.
          const misnamed: Doc = structuredClone(dashboard);
          const people = misnamed.panels.find((p: Doc) => p.title === "People now");
          people.datasource = { type: "prometheus", uid: "${DS_PROMETHEUS}" };
          delete people.targets[0].datasource;
          const misnamedGrafana = FakeGrafana.start({
            datasources: [{ ...PROVISIONED_DS, url: prom.url }],
            dashboards: [misnamed],
          });
          try {
            const results = await checkGrafana(new URL(misnamedGrafana.url), {
              timeoutMs: 3000,
              readsGpu: false,
              seriesFound: true,
            });
            const check = byCheck(results, "grafana panels");
            assertEquals(check.status, "fail");
            assert(
              check.seen.includes(
                "People now: names datasource ${DS_PROMETHEUS}, which is no datasource variable " +
                  "of the dashboard (it has ${datasource})",
              ),
              check.seen,
            );
          } finally {
            await misnamedGrafana.close();
          }
        } finally {
          await grafana.close();
        }
      },
    );

    await t.step(
      "Prometheus scraping a dead port: FAIL naming the target and connection refused",
      async () => {
        const dead = freePort();
        await prom.reload([`127.0.0.1:${dead}`]);
        const out = await runDoctorCli(args);
        assertEquals(out.code, 1, out.stdout + out.stderr);
        const target = line(
          out.stdout,
          `FAIL prometheus target 127.0.0.1:${dead} (job pose-exporter):`,
        );
        assert(target.includes("down: connection refused"), out.stdout);
        assert(
          out.stdout.includes(
            `fix: nothing listens on 127.0.0.1:${dead}: the exporter answers at 127.0.0.1:${port}`,
          ),
        );
        assertEquals(
          line(out.stdout, "skip prometheus series:"),
          "skip prometheus series: no target of the exporter is up",
        );
        assert(
          out.stdout.includes(`start with the first: prometheus target 127.0.0.1:${dead}`),
          out.stdout,
        );
      },
    );

    await t.step({
      name: "a target host that does not resolve: FAIL with the extra_hosts fix",
      ignore: hostDockerInternalResolves,
      fn: async () => {
        await prom.reload([`host.docker.internal:${port}`]);
        const out = await runDoctorCli(args);
        assertEquals(out.code, 1, out.stdout + out.stderr);
        const target = line(out.stdout, `FAIL prometheus target host.docker.internal:${port}`);
        assert(target.includes("cannot resolve host.docker.internal"), out.stdout);
        assert(
          out.stdout.includes(
            'add `extra_hosts: ["host.docker.internal:host-gateway"]` to the prometheus service',
          ),
          out.stdout,
        );
        // A container scraping host.docker.internal cannot reach a loopback-only exporter either.
        assert(
          line(out.stdout, "FAIL exporter listen:").includes(`host.docker.internal:${port}`),
          out.stdout,
        );
      },
    });

    await t.step(
      "exporter on 127.0.0.1 while Prometheus scrapes 127.0.0.2: FAIL with --listen 0.0.0.0",
      async () => {
        await prom.reload([`127.0.0.2:${port}`], false);
        const out = await runDoctorCli([...args, "--json"]);
        assertEquals(out.code, 1, out.stdout + out.stderr);
        const doc = JSON.parse(out.stdout);
        assertEquals(doc.ok, false);
        const listen = doc.checks.find((c: Doc) => c.check === "exporter listen");
        assertEquals(listen.status, "fail");
        assertEquals(
          listen.seen,
          `listens on 127.0.0.1:${port} (loopback only), while Prometheus scrapes 127.0.0.2:${port}: ` +
            "a loopback-only socket does not accept on another address (a container scraping host.docker.internal cannot reach it)",
        );
        assertEquals(
          listen.fix,
          `restart the exporter with --listen 0.0.0.0:${port} (every interface)`,
        );
        const target = doc.checks.find((c: Doc) =>
          c.check === `prometheus target 127.0.0.2:${port} (job pose-exporter)`
        );
        assert(target.seen.startsWith("down: connection refused"), target.seen);
        const rules = doc.checks.find((c: Doc) => c.check === "prometheus rules");
        assertEquals(rules, {
          check: "prometheus rules",
          status: "skip",
          seen: "no alert rules configured (no rule_files)",
        });
      },
    );

    await t.step(
      "Prometheus scraping another exporter: FAIL for the one checked, its series skip",
      async () => {
        // The exporter checked answers as pose-exporter, but Prometheus scrapes only the real one.
        const other = fakeExporter(
          [
            "# TYPE pose_fps gauge",
            'pose_fps{stream_id="cam9"} 30',
            "# TYPE pose_latency_ms summary",
            'pose_latency_ms_count{stream_id="cam9"} 10',
            "# TYPE pose_exporter_info gauge",
            'pose_exporter_info{version="0.1.0",provider="cpu",model="yolo"} 1',
            "",
          ].join("\n"),
          200,
        );
        try {
          await prom.reload([`127.0.0.1:${port}`]);
          const otherPort = (other.server.addr as Deno.NetAddr).port;
          const out = await runDoctorCli([
            "--exporter",
            `http://127.0.0.1:${otherPort}`,
            "--prometheus",
            prom.url,
          ]);
          assertEquals(out.code, 1, out.stdout + out.stderr);
          assert(line(out.stdout, "ok   exporter metrics:"), out.stdout);
          assertEquals(
            line(out.stdout, "FAIL prometheus target:"),
            `FAIL prometheus target: no target scrapes http://127.0.0.1:${otherPort} ` +
              `(Prometheus scrapes 127.0.0.1:${port} in job pose-exporter)`,
          );
          const fix = out.stdout.split("\n")[
            out.stdout.split("\n").indexOf(line(out.stdout, "FAIL prometheus target:")) + 1
          ]!;
          assert(fix.startsWith(`     fix: add 127.0.0.1:${otherPort} `), fix);
          assert(fix.includes("to the targets of job pose-exporter"), fix);
          assert(
            fix.endsWith(
              `or point --exporter at the exporter it scrapes (http://127.0.0.1:${port})`,
            ),
            fix,
          );
          assert(!out.stdout.includes("ok   prometheus target"), out.stdout);
          assertEquals(
            line(out.stdout, "skip prometheus series:"),
            `skip prometheus series: no target scrapes http://127.0.0.1:${otherPort}, ` +
              "so Prometheus holds none of its series",
          );
          assert(out.stdout.includes("start with the first: prometheus target\n"), out.stdout);

          // The exporter Prometheus scrapes still passes, through localhost as well.
          for (const host of ["127.0.0.1", "localhost"]) {
            const scraped = await runDoctorCli([
              "--exporter",
              `http://${host}:${port}`,
              "--prometheus",
              prom.url,
            ]);
            assertEquals(scraped.code, 0, scraped.stdout + scraped.stderr);
            assert(
              line(scraped.stdout, `ok   prometheus target 127.0.0.1:${port} (job pose-exporter)`),
              scraped.stdout,
            );
          }
        } finally {
          await other.server.shutdown();
        }
      },
    );

    await t.step(
      "Prometheus that does not answer: FAIL with its fix, its checks skip",
      async () => {
        const out = await runDoctorCli([
          "--exporter",
          exporterUrl,
          "--prometheus",
          `http://127.0.0.1:${freePort()}`,
          "--timeout-ms",
          "2000",
        ]);
        assertEquals(out.code, 1);
        assert(line(out.stdout, "FAIL prometheus: ").endsWith("connection refused"), out.stdout);
        assertEquals(
          line(out.stdout, "skip prometheus target:"),
          "skip prometheus target: Prometheus did not answer",
        );
        assert(
          line(out.stdout, "skip exporter listen:").includes("Prometheus did not answer"),
          out.stdout,
        );
      },
    );

    await t.step("bad flags exit 2, naming flag and value", async () => {
      const out = await runDoctorCli(["--timeout-ms", "soon", "--exporter", "ftp://x"]);
      assertEquals(out.code, 2);
      assertEquals(out.stderr.split("\n"), [
        'pose-exporter doctor: Invalid --exporter: "ftp://x" is not an http(s) URL',
        'pose-exporter doctor: Invalid --timeout-ms: "soon" is not an integer in 1..600000',
        "Run with --help for the flags.",
        "",
      ]);
    });

    await t.step(
      "POSE_EXPORTER_LISTEN places the exporter checked, as it places the exporter",
      async () => {
        const out = await runDoctorCli(
          ["--prometheus", `http://127.0.0.1:${freePort()}`, "--timeout-ms", "2000"],
          { POSE_EXPORTER_LISTEN: `0.0.0.0:${new URL(exporterUrl).port}` },
        );
        assertEquals(out.code, 1, out.stderr);
        assert(
          line(out.stdout, "ok   exporter metrics: ").includes(`${exporterUrl}/metrics answered`),
          out.stdout,
        );
      },
    );
  } finally {
    await prometheus?.stop();
    exporter.child.kill("SIGTERM");
    const { code } = await exporter.done;
    assertEquals(code, 0);
  }
});

Deno.test("queryPrometheus() names an answer that is not JSON instead of calling it HTTP 200", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    () => new Response("<html><body>Login required</body></html>", { status: 200 }),
  );
  try {
    const base = new URL(`http://127.0.0.1:${server.addr.port}/`);
    const answer = await queryPrometheus(base, "up", 2000);
    assertEquals(answer.result, null);
    assert(answer.error!.includes("not JSON") && answer.error!.includes("<html>"), answer.error!);
  } finally {
    await server.shutdown();
  }
});

Deno.test("classifyScrapeError() tells a 401, an untrusted certificate and an http scrape of a TLS port apart", () => {
  assertEquals(
    classifyScrapeError("server returned HTTP status 401 Unauthorized"),
    { kind: "unauthorized", cause: "HTTP 401 Unauthorized" },
  );
  assertEquals(
    classifyScrapeError(
      'Get "https://10.0.0.5:8000/metrics": tls: failed to verify certificate: x509: certificate signed by unknown authority',
    ).kind,
    "tls_untrusted",
  );
  assertEquals(
    classifyScrapeError(
      'Get "http://127.0.0.1:8000/metrics": net/http: HTTP/1.x transport connection broken: malformed HTTP response "\\x15\\x03\\x03\\x00\\x02\\x022"',
    ).kind,
    "tls",
  );
  assertEquals(
    classifyScrapeError(
      'Get "https://h:8000/metrics": http: server gave HTTP response to HTTPS client',
    ).kind,
    "tls",
  );
});

Deno.test("checkExporter() reports a 401 as a failed check whose fix is the login flags", async () => {
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    (req) =>
      req.headers.get("authorization") === `Basic ${btoa("u:p")}`
        ? new Response("# nothing\n")
        : new Response("unauthorized\n", { status: 401 }),
  );
  try {
    const url = new URL(`http://127.0.0.1:${server.addr.port}/`);
    const anonymous = await checkExporter(url, { timeoutMs: 2000 });
    const first = anonymous.results[0]!;
    assertEquals(first.status, "fail");
    assert(first.seen.includes("answered HTTP 401: the exporter asks for a login"), first.seen);
    assert(first.fix!.includes("--exporter-user and --exporter-password-file"), first.fix);
    const wrong = await checkExporter(url, {
      timeoutMs: 2000,
      headers: { authorization: `Basic ${btoa("u:x")}` },
      loggedIn: true,
    });
    assert(
      wrong.results[0]!.seen.includes("the user or password given is wrong"),
      wrong.results[0]!.seen,
    );
    const right = await checkExporter(url, {
      timeoutMs: 2000,
      headers: { authorization: `Basic ${btoa("u:p")}` },
      loggedIn: true,
    });
    assert(right.results[0]!.seen.includes("this is not pose-exporter"), "past the login");
  } finally {
    await server.shutdown();
  }
});
