// The HTTP server with a web config file: HTTPS from the front, plain HTTP refused at the
// handshake, and a new certificate put in force by reopening the listener, the port closed only
// for a moment and the connections held kept.

import client from "prom-client";
import { assert, assertEquals } from "../_assert.ts";
import { makeTlsFiles, writeWebConfig } from "../_web_security.ts";
import { startHttpServer } from "../../src/http/http_server.ts";
import { WebMetrics } from "../../src/http/web_metrics.ts";
import { HttpMetrics } from "../../src/metrics/http_metrics.ts";
import { Logger } from "../../src/log.ts";

function capture(): { log: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const log = new Logger({
    format: "json",
    writer: { writeLine: (l) => lines.push(JSON.parse(l)) },
  });
  return { log, lines };
}

async function waitFor(what: string, ok: () => boolean, ms = 10_000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!ok()) {
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** GET over HTTPS trusting `caFile`; the status, or the error's message. */
async function getWith(caFile: string, url: string): Promise<number | string> {
  const http = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(caFile)] });
  try {
    const res = await fetch(url, { client: http });
    await res.body?.cancel();
    return res.status;
  } catch (err) {
    return String((err as Error).cause ?? err);
  } finally {
    http.close();
  }
}

Deno.test("startHttpServer() with TLS: https answers, plain HTTP fails at the handshake and is counted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_tls_server_" });
  const { log } = capture();
  const registry = new client.Registry();
  const metrics = new HttpMetrics(registry);
  try {
    const tls = await makeTlsFiles(dir);
    await writeWebConfig(`${dir}/web.yml`, {
      tls_server_config: { cert_file: "server.crt", key_file: "server.key" },
    });
    const server = startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      maxConnections: 16,
      headerTimeoutMs: 2000,
      idleTimeoutMs: 5000,
      log,
      metrics,
      webConfigFile: `${dir}/web.yml`,
      webMetrics: new WebMetrics(registry),
    }, () => Promise.resolve(new Response("ok\n")));
    try {
      const port = server.addr.port;
      assertEquals(await getWith(tls.caFile, `https://127.0.0.1:${port}/healthz`), 200);
      const plain = await fetch(`http://127.0.0.1:${port}/healthz`).then(
        (r) => r.status,
        (e) => String(e),
      );
      assert(typeof plain === "string", `plain HTTP got ${plain}`);
      await waitFor(
        "the handshake failure to be counted",
        () => metrics.closedConnections.value(5) >= 1,
      );
      assertEquals(server.web.tls?.certSource, tls.certFile);
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("startHttpServer() - a changed certificate is served after a listener restart; the port closes for a moment only", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_tls_rotate_" });
  const other = await Deno.makeTempDir({ prefix: "pose_tls_rotate_ca2_" });
  const { log, lines } = capture();
  try {
    const first = await makeTlsFiles(dir);
    const second = await makeTlsFiles(other, { name: "next" });
    await writeWebConfig(`${dir}/web.yml`, {
      tls_server_config: { cert_file: "server.crt", key_file: "server.key" },
    });
    const server = startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      maxConnections: 64,
      headerTimeoutMs: 2000,
      idleTimeoutMs: 10_000,
      log,
      webConfigFile: `${dir}/web.yml`,
      webConfigQuietMs: 100,
    }, () => Promise.resolve(new Response("ok\n")));
    const port = server.addr.port;
    const url = `https://127.0.0.1:${port}/healthz`;
    // A connection held across the restart.
    const held = Deno.createHttpClient({ caCerts: [await Deno.readTextFile(first.caFile)] });
    let refused = 0;
    let connects = 0;
    let longestGapMs = 0;
    let probing = true;
    try {
      assertEquals((await fetch(url, { client: held })).status, 200);
      // Connects as fast as it can while the certificate changes: the longest stretch between two
      // accepted connects that had a refused one inside is how long the port was closed.
      const prober = (async () => {
        let lastOk = performance.now();
        let failedSince = false;
        while (probing) {
          try {
            const conn = await Deno.connect({ hostname: "127.0.0.1", port });
            conn.close();
            connects++;
            const now = performance.now();
            if (failedSince) longestGapMs = Math.max(longestGapMs, now - lastOk);
            lastOk = now;
            failedSince = false;
          } catch {
            refused++;
            failedSince = true;
          }
          await new Promise((r) => setTimeout(r, 0));
        }
      })();
      await Deno.copyFile(second.certFile, first.certFile);
      await Deno.copyFile(second.keyFile, first.keyFile);
      await waitFor(
        "the listener restart",
        () => lines.some((l) => l.msg === "listener reopened for the new TLS settings"),
      );
      await new Promise((r) => setTimeout(r, 200));
      probing = false;
      await prober;
      const reopened = lines.find((l) => l.msg === "listener reopened for the new TLS settings")!;
      const closedMs = reopened.port_closed_ms as number;
      console.log(
        `port closed ${closedMs} ms (server's count); probe: ${connects} connects, ${refused} refused, ` +
          `longest gap with refusals ${longestGapMs.toFixed(2)} ms`,
      );
      assert(closedMs >= 0 && closedMs < 100, `closed for ${closedMs} ms`);
      assert(refused === 0 || longestGapMs < 200, `gap ${longestGapMs} ms`);
      // The new certificate is served: the first CA no longer verifies it, the second does.
      assertEquals(await getWith(second.caFile, url), 200);
      const old = String(await getWith(first.caFile, url));
      assert(old.includes("UnknownIssuer"), old);
      // The connection held before the restart still answers on the old handshake.
      assertEquals((await fetch(url, { client: held })).status, 200);
    } finally {
      probing = false;
      held.close();
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
    await Deno.remove(other, { recursive: true });
  }
});

Deno.test("startHttpServer() - a broken certificate change keeps the one in force, logged and counted", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_tls_broken_" });
  const { log, lines } = capture();
  const registry = new client.Registry();
  const webMetrics = new WebMetrics(registry);
  try {
    const tls = await makeTlsFiles(dir);
    await writeWebConfig(`${dir}/web.yml`, {
      tls_server_config: { cert_file: "server.crt", key_file: "server.key" },
    });
    const server = startHttpServer({
      hostname: "127.0.0.1",
      port: 0,
      maxConnections: 16,
      headerTimeoutMs: 2000,
      idleTimeoutMs: 5000,
      log,
      webConfigFile: `${dir}/web.yml`,
      webMetrics,
      webConfigQuietMs: 100,
    }, () => Promise.resolve(new Response("ok\n")));
    try {
      await Deno.writeTextFile(tls.certFile, "-----BEGIN CERTIFICATE-----\nbroken\n");
      await waitFor(
        "the refusal",
        () => lines.some((l) => l.msg?.toString().startsWith("web config change refused")),
      );
      assertEquals(webMetrics.configReloadSuccess.value(0), 0);
      assertEquals(webMetrics.configReloadFailures.value(0), 1);
      assertEquals(await getWith(tls.caFile, `https://127.0.0.1:${server.addr.port}/`), 200);
    } finally {
      await server.shutdown();
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
