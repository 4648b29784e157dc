import http from "node:http";
import { gunzipSync } from "node:zlib";
import client from "prom-client";
import { assert, assertEquals } from "../_assert.ts";
import { acceptsGzip, GzipCache } from "../../src/metrics/compression.ts";
import { createMetricsHandler, MetricsRenderer } from "../../src/metrics/server.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";

Deno.test("acceptsGzip() reads Accept-Encoding as RFC 9110 does", () => {
  assertEquals(acceptsGzip("gzip"), true, "Prometheus' header");
  assertEquals(acceptsGzip("deflate, GZIP;q=0.5"), true);
  assertEquals(acceptsGzip("x-gzip"), true);
  assertEquals(acceptsGzip("*"), true);
  assertEquals(acceptsGzip("gzip;q=0, identity"), false, "q=0 refuses it");
  assertEquals(acceptsGzip("gzip;q=0, *"), false, "named gzip wins over *");
  assertEquals(acceptsGzip("*;q=0"), false);
  assertEquals(acceptsGzip("identity"), false);
  assertEquals(acceptsGzip(""), false);
  assertEquals(acceptsGzip(null), false);
  assertEquals(acceptsGzip("gzip;q=bad"), false);
});

Deno.test("GzipCache compresses a text once and again when it changes", () => {
  const cache = new GzipCache();
  const a = cache.gzip("pose_fps 1\n".repeat(100));
  assertEquals(cache.gzip("pose_fps 1\n".repeat(100)), a, "the same text: the same bytes");
  const b = cache.gzip("pose_fps 2\n");
  assertEquals(new TextDecoder().decode(gunzipSync(b)), "pose_fps 2\n");
  assertEquals(new TextDecoder().decode(gunzipSync(a)), "pose_fps 1\n".repeat(100));
});

/** GETs `url` with node:http, which never unzips (Deno's fetch does): status, headers, bytes. */
function rawGet(url: string, headers: Record<string, string>) {
  return new Promise<{ status: number; headers: http.IncomingHttpHeaders; body: Uint8Array }>(
    (resolve, reject) => {
      http.get(url, { headers }, (res) => {
        const chunks: Uint8Array[] = [];
        res.on("data", (c: Uint8Array) => chunks.push(c));
        res.on("end", () => {
          const body = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
          let at = 0;
          for (const c of chunks) body.set(c, (at += c.length) - c.length);
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body });
        });
      }).on("error", reject);
    },
  );
}

Deno.test("/metrics is gzipped when asked (as Prometheus asks), plain otherwise, and says Vary", async () => {
  const metrics = new PoseMetrics(Array.from({ length: 16 }, (_, i) => `cam${i}`));
  for (let s = 0; s < 16; s++) metrics.recordFrame(s, 30, 2, performance.now());
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: 0, onListen: () => {} },
    createMetricsHandler(metrics.registry),
  );
  try {
    const url = `http://127.0.0.1:${server.addr.port}/metrics`;
    const prometheusHeaders = {
      "accept": "application/openmetrics-text;version=1.0.0;q=0.5,text/plain;version=0.0.4;q=0.4",
      "accept-encoding": "gzip",
    };
    const zipped = await rawGet(url, prometheusHeaders);
    const plain = await rawGet(url, { ...prometheusHeaders, "accept-encoding": "identity" });
    assertEquals([zipped.status, plain.status], [200, 200]);
    assertEquals(zipped.headers["content-encoding"], "gzip");
    assertEquals(plain.headers["content-encoding"], undefined);
    assertEquals([zipped.headers.vary, plain.headers.vary], ["Accept-Encoding", "Accept-Encoding"]);
    const unzipped = new TextDecoder().decode(gunzipSync(zipped.body));
    const text = new TextDecoder().decode(plain.body);
    assert(text.includes('pose_fps{stream_id="cam15"}'), "the plain body is the exposition");
    // Two renders: the same series either way (process metrics' values move between them).
    const series = (body: string) =>
      body.split("\n").filter((l) => l !== "" && !l.startsWith("#")).map((l) =>
        l.slice(0, l.lastIndexOf(" "))
      );
    assertEquals(series(unzipped), series(text), "the same exposition either way");
    assert(unzipped.includes('pose_fps{stream_id="cam15"}'));
    assert(
      zipped.body.length * 3 < plain.body.length,
      `${zipped.body.length} of ${plain.body.length}`,
    );
  } finally {
    await server.shutdown();
  }
});

Deno.test("scrapes that arrive while a render runs share the next render, never an older one", async () => {
  const registry = new client.Registry();
  let collects = 0;
  let release = () => {};
  let started = () => {};
  new client.Gauge({
    name: "x_collects",
    help: "renders so far",
    registers: [registry],
    async collect() {
      this.set(++collects);
      started();
      // The first render waits here until the test lets it go.
      if (collects === 1) await new Promise<void>((resolve) => (release = resolve));
    },
  });
  const renderer = new MetricsRenderer(registry);
  const running = new Promise<void>((resolve) => (started = resolve));
  const first = renderer.render(false);
  await running;
  // These three arrive while the first render runs: one more render, after it, serves them all.
  const waiting = [renderer.render(false), renderer.render(false), renderer.render(false)];
  const openMetrics = renderer.render(true);
  release();
  const bodies = await Promise.all([first, ...waiting]);
  const value = (body: string) => Number(body.match(/^x_collects (\d+)/m)?.[1]);
  assertEquals(value(bodies[0]!), 1);
  assertEquals(bodies.slice(1).map(value), [2, 2, 2], "one render after they arrived");
  assert((await openMetrics).includes("# EOF"), "the other format renders on its own");
  assertEquals(value(await renderer.render(false)), 4, "a later scrape gets a fresh render");
});
