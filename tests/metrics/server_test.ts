import { assert, assertEquals } from "../_assert.ts";
import { parseSamples, parseTypes } from "../_helpers.ts";
import { createMetricsHandler, MetricsRenderer } from "../../src/metrics/server.ts";
import client from "prom-client";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { DROP_REASONS, METRIC_DEFINITIONS, METRIC_NAMES } from "../../src/metrics/definitions.ts";

function setup(ready = true) {
  const metrics = new PoseMetrics(["cam1", "cam2"]);
  metrics.setInfo({ version: "t", provider: "cpu", model: "demo" });
  return {
    metrics,
    handler: createMetricsHandler(metrics.registry, {
      readiness: () => ({ ready, reason: ready ? "" : "no stream is up" }),
    }),
  };
}

Deno.test("definitions hold the contract's four names, types and labels", () => {
  const byName = new Map(METRIC_DEFINITIONS.map((d) => [d.name, d]));
  assertEquals(byName.get("pose_fps")?.type, "gauge");
  assertEquals(byName.get("pose_fps")?.labels, ["stream_id"]);
  assertEquals(byName.get("pose_latency_ms")?.type, "summary");
  assertEquals(byName.get("pose_latency_ms")?.labels, ["stream_id"]);
  assertEquals(byName.get("vram_usage_mb")?.type, "gauge");
  assertEquals(byName.get("vram_usage_mb")?.labels, ["device_id"]);
  assertEquals(byName.get("vram_fragmentation_ratio")?.type, "gauge");
  assertEquals(byName.get("vram_fragmentation_ratio")?.labels, ["device_id"]);
  assertEquals(new Set(METRIC_NAMES).size, METRIC_NAMES.length, "names are unique");
  for (const d of METRIC_DEFINITIONS) {
    if (d.type === "counter") assert(d.name.endsWith("_total"), d.name);
  }
});

Deno.test("GET /metrics serves every known series at zero before the first frame", async () => {
  const { handler } = setup();
  const res = await handler(new Request("http://x/metrics"));
  assertEquals(res.status, 200);
  assert(res.headers.get("content-type")!.startsWith("text/plain; version=0.0.4"));
  const text = await res.text();
  const samples = parseSamples(text);
  for (const stream of ["cam1", "cam2"]) {
    for (const reason of DROP_REASONS) {
      const s = samples.find((x) =>
        x.name === "pose_frames_dropped_total" && x.labels.stream_id === stream &&
        x.labels.reason === reason
      );
      assertEquals(s?.value, 0, `${stream}/${reason}`);
    }
    assertEquals(
      samples.find((x) => x.name === "pose_fps" && x.labels.stream_id === stream)?.value,
      0,
    );
    assertEquals(
      samples.find((x) => x.name === "pose_frames_total" && x.labels.stream_id === stream)?.value,
      0,
    );
  }
  const types = parseTypes(text);
  assertEquals(types.get("pose_latency_ms"), "summary");
  assertEquals(types.get("pose_latency_seconds"), "histogram");
  assertEquals(types.get("pose_frames_total"), "counter");
  assert(!types.has("vram_usage_mb"), "no vram series without a GPU");
  assert(types.has("process_cpu_seconds_total"), "prom-client default metrics are served");
});

Deno.test("GET /metrics reflects recorded frames, drops and batches", async () => {
  const { metrics, handler } = setup();
  const now = performance.now();
  metrics.recordFrame(1, 42, 3, now);
  metrics.recordFrame(1, 58, 1, now);
  metrics.recordDrop(0, "queue_full", 2);
  metrics.recordBatch(2, 0.004);
  const samples = parseSamples(await (await handler(new Request("http://x/metrics"))).text());
  const find = (name: string, labels: Record<string, string>) =>
    samples.find((s) =>
      s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
    )?.value;
  assertEquals(find("pose_frames_total", { stream_id: "cam2" }), 2);
  assertEquals(find("pose_persons_detected_total", { stream_id: "cam2" }), 4);
  assertEquals(find("pose_persons", { stream_id: "cam2" }), 1);
  assertEquals(find("pose_latency_ms", { stream_id: "cam2", quantile: "0.5" }), 42);
  assertEquals(find("pose_latency_ms", { stream_id: "cam2", quantile: "0.99" }), 58);
  assertEquals(find("pose_latency_ms_count", { stream_id: "cam2" }), 2);
  assertEquals(find("pose_latency_seconds_bucket", { stream_id: "cam2", le: "0.05" }), 1);
  assertEquals(find("pose_latency_seconds_bucket", { stream_id: "cam2", le: "+Inf" }), 2);
  assertEquals(find("pose_frames_dropped_total", { stream_id: "cam1", reason: "queue_full" }), 2);
  assertEquals(find("pose_batch_size_count", {}), 1);
  assertEquals(find("pose_exporter_info", { provider: "cpu", model: "demo" }), 1);
});

Deno.test("GET /metrics answers OpenMetrics when asked, and text afterwards still has _total names", async () => {
  const { handler } = setup();
  const om = await handler(
    new Request("http://x/metrics", {
      headers: { accept: "application/openmetrics-text; version=1.0.0" },
    }),
  );
  assert(om.headers.get("content-type")!.startsWith("application/openmetrics-text"));
  const omText = await om.text();
  assert(omText.endsWith("# EOF\n"), "OpenMetrics ends with # EOF");
  assert(
    omText.includes("# TYPE pose_frames counter"),
    "OpenMetrics counter family without _total",
  );
  assert(omText.includes('pose_frames_total{stream_id="cam1"} 0'));
  const text = await (await handler(new Request("http://x/metrics"))).text();
  assert(
    text.includes("# TYPE pose_frames_total counter"),
    "text format keeps _total after an OpenMetrics scrape",
  );
  assert(text.includes("# TYPE process_cpu_seconds_total counter"));
});

Deno.test("the handler answers health, readiness, 404 and 405", async () => {
  const { handler } = setup(false);
  assertEquals((await handler(new Request("http://x/healthz"))).status, 200);
  assertEquals((await handler(new Request("http://x/readyz"))).status, 503);
  assertEquals((await handler(new Request("http://x/readyz"))).status, 503);
  assertEquals((await handler(new Request("http://x/nope"))).status, 404);
  const post = await handler(new Request("http://x/metrics", { method: "POST", body: "x" }));
  assertEquals(post.status, 405);
  assertEquals(post.headers.get("allow"), "GET, HEAD");
  const ready = setup(true).handler;
  assertEquals((await ready(new Request("http://x/readyz"))).status, 200);
});

Deno.test("MetricsRenderer writes what prom-client's own Registry writes, in both formats", async () => {
  const metrics = new PoseMetrics(["cam1", 'odd"id\\'], { registry: new client.Registry() });
  metrics.recordFrame(0, 12.5, 2, performance.now());
  metrics.recordDrop(1, "queue_full", 3);
  metrics.recordBatch(2, 0.01);
  metrics.setInfo({ version: "1", provider: "cpu", model: "a\nb" });
  const ours = new MetricsRenderer(metrics.registry);
  // prom-client writes NaN as "Nan"; Prometheus reads both, the exposition format spells NaN.
  const reference = async (openMetrics: boolean) => {
    metrics.registry.setContentType(
      (openMetrics ? client.Registry.OPENMETRICS_CONTENT_TYPE : client.Registry
        .PROMETHEUS_CONTENT_TYPE) as typeof client.Registry.PROMETHEUS_CONTENT_TYPE,
    );
    const names = metrics.registry.getMetricsAsArray().map((m) => m.name);
    const text = (await metrics.registry.metrics()).replaceAll(" Nan", " NaN");
    metrics.registry.getMetricsAsArray().forEach((
      m,
      i,
    ) => ((m as { name: string }).name = names[i]!));
    metrics.registry.setContentType(client.Registry.PROMETHEUS_CONTENT_TYPE);
    return text;
  };
  assertEquals(await ours.render(false), await reference(false));
  assertEquals(await ours.render(true), await reference(true));
  assert(
    (await ours.render(false)).includes('stream_id="odd\\"id\\\\"'),
    "label values are escaped",
  );
});

Deno.test("HEAD /metrics answers the length GET would send, and no body", async () => {
  const registry = new client.Registry();
  new client.Gauge({ name: "x_gauge", help: "x", registers: [registry] }).set(1);
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createMetricsHandler(registry),
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/metrics`;
    // Uncompressed: fetch would unzip a gzipped GET, and its length would not be the one sent.
    const headers = { "accept-encoding": "identity" };
    const get = await (await fetch(url, { headers })).text();
    const head = await fetch(url, { method: "HEAD", headers });
    assertEquals(head.status, 200);
    assertEquals(Number(head.headers.get("content-length")), new TextEncoder().encode(get).length);
    assertEquals(await head.text(), "");
  } finally {
    await server.shutdown();
  }
});
