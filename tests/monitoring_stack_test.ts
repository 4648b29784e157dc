// The real loop: the exporter (synthetic streams, fake nvidia-smi), a real Prometheus from Debian scraping
// it with a config made from config/prometheus.yml, and every dashboard query run through Prometheus's API.

import { parse as parseYaml, stringify as stringifyYaml } from "yaml";
import { assert, assertEquals } from "./_assert.ts";
import { freePort, pollUntil, ROOT, startExporter } from "./_helpers.ts";
import { FAKE_NVIDIA_SMI, FakeGpuState, h200 } from "./fakes/fake_gpu.ts";
import { buildDashboard } from "../scripts/gen_dashboard.ts";
import { expandDashboardQuery } from "../src/doctor/dashboard_queries.ts";

// deno-lint-ignore no-explicit-any -- parsed YAML and JSON documents are walked by key
type Doc = any;

async function query(base: string, expr: string): Promise<Doc> {
  const res = await fetch(`${base}/api/v1/query?query=${encodeURIComponent(expr)}`);
  return await res.json();
}

Deno.test("monitoring - every dashboard panel returns data from a real Prometheus scraping the exporter", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_prom_test_" });
  const gpu = await FakeGpuState.create({
    gpus: [h200(0, 1337)],
    apps: [{ pid: "parent", gpu_uuid: h200(0, 0).uuid, used: 1000 }],
  });
  const exporterPort = freePort();
  const promPort = freePort();
  const exporter = startExporter([
    "--streams",
    "2",
    "--listen",
    `127.0.0.1:${exporterPort}`,
    "--provider",
    "cpu",
    "--nvidia-smi",
    FAKE_NVIDIA_SMI,
    "--gpu-poll-ms",
    "500",
  ], gpu.env);
  // The repository's config, with the target pointed at the test's exporter and a short interval.
  const config: Doc = parseYaml(await Deno.readTextFile(new URL("config/prometheus.yml", ROOT)));
  config.global.scrape_interval = "1s";
  config.global.evaluation_interval = "1s";
  const job = config.scrape_configs.find((j: Doc) => j.job_name === "pose-exporter");
  job.scrape_interval = "1s";
  job.scrape_timeout = "1s";
  job.static_configs = [{ targets: [`127.0.0.1:${exporterPort}`] }];
  config.scrape_configs.find((j: Doc) => j.job_name === "prometheus").static_configs = [{
    targets: [`127.0.0.1:${promPort}`],
  }];
  await Deno.copyFile(new URL("config/alerts.yml", ROOT), `${dir}/alerts.yml`);
  await Deno.writeTextFile(`${dir}/prometheus.yml`, stringifyYaml(config));
  const prometheus = new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${promPort}`,
      "--log.level=warn",
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).spawn();
  const base = `http://127.0.0.1:${promPort}`;
  try {
    await pollUntil(`${base}/-/ready`, (_, status) => status === 200, 30_000);
    await pollUntil(`${base}/api/v1/targets`, (t) => {
      const active = JSON.parse(t).data?.activeTargets ?? [];
      return active.some((a: Doc) => a.labels.job === "pose-exporter" && a.health === "up");
    }, 60_000);
    // Enough samples for the 10 s rate windows and the GPU series.
    await pollUntil(
      `${base}/api/v1/query?query=${encodeURIComponent("count_over_time(pose_fps[15s])")}`,
      (t) => {
        const r = JSON.parse(t).data?.result ?? [];
        return r.length > 0 && Number(r[0].value[1]) >= 10;
      },
      60_000,
    );

    const dashboard: Doc = buildDashboard();
    // The dashboard's variables as Grafana's "All", $__rate_interval as 10 s.
    const expand = (expr: string) =>
      expandDashboardQuery(expr, dashboard.templating.list, { rateInterval: "10s" });
    const empty: string[] = [];
    let checked = 0;
    for (const panel of dashboard.panels.filter((p: Doc) => p.type !== "row")) {
      for (const target of panel.targets) {
        const answer = await query(base, expand(target.expr));
        assertEquals(
          answer.status,
          "success",
          `${panel.title}: ${target.expr}: ${JSON.stringify(answer)}`,
        );
        const result = answer.data.result.filter((r: Doc) => r.value[1] !== "NaN");
        if (result.length === 0) empty.push(`${panel.title}: ${target.expr}`);
        checked++;
      }
    }
    assertEquals(empty, [], "panels without data");
    assert(checked >= 20, `${checked} queries`);
    for (const variable of dashboard.templating.list.filter((v: Doc) => v.type === "query")) {
      const m = /^label_values\((.*), (\w+)\)$/.exec(variable.query.query)!;
      const res = await fetch(`${base}/api/v1/series?match[]=${encodeURIComponent(expand(m[1]!))}`);
      const series = (await res.json()).data as Doc[];
      assert(series.some((s) => s[m[2]!] !== undefined), `variable ${variable.name} has values`);
    }
    for (const annotation of dashboard.annotations.list) {
      assertEquals((await query(base, expand(annotation.expr))).status, "success", annotation.name);
    }
    const rules = await (await fetch(`${base}/api/v1/rules`)).json();
    const loaded = rules.data.groups.flatMap((g: Doc) => g.rules.map((r: Doc) => r.name));
    assert(
      loaded.includes("PoseExporterDown") && loaded.includes("GpuFragmentationHigh"),
      "alert rules loaded",
    );
  } finally {
    prometheus.kill("SIGTERM");
    const status = await prometheus.status;
    await prometheus.stderr.cancel().catch(() => {});
    assert(
      status.code === 0 || status.signal === "SIGTERM" || status.code === 143,
      `prometheus exit ${status.code}`,
    );
    exporter.child.kill("SIGTERM");
    const { code } = await exporter.done;
    assertEquals(code, 0);
    await gpu.remove();
    await Deno.remove(dir, { recursive: true });
  }
});
