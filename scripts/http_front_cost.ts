// Measures what the HTTP front costs a scrape: the same handler served by Deno.serve directly on
// TCP and behind the front (TCP -> front -> Unix socket -> Deno.serve), requests in a row on
// one keep-alive connection, each in the same run. Usage: deno run -A scripts/http_front_cost.ts
// [--requests N] [--body-kib K]

import { parseArgs } from "node:util";
import { Logger } from "../src/log.ts";
import { startHttpServer } from "../src/http/http_server.ts";

const { values } = parseArgs({
  args: Deno.args,
  options: { requests: { type: "string", default: "2000" }, "body-kib": { type: "string" } },
});
const requests = Number(values.requests);
const body = "x".repeat(Number(values["body-kib"] ?? "40") * 1024);
const handler = () => new Response(body, { headers: { "content-type": "text/plain" } });
const quiet = new Logger({ writer: { writeLine: () => {} } });

async function timeRequests(url: string): Promise<number> {
  for (let i = 0; i < 50; i++) await (await fetch(url)).text();
  const started = performance.now();
  for (let i = 0; i < requests; i++) await (await fetch(url)).text();
  return (performance.now() - started) / requests;
}

const direct = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, handler);
const fronted = startHttpServer({
  hostname: "127.0.0.1",
  port: 0,
  maxConnections: 512,
  headerTimeoutMs: 5000,
  idleTimeoutMs: 60_000,
  log: quiet,
}, handler);
const rounds: { direct: number; front: number }[] = [];
for (let round = 0; round < 3; round++) {
  rounds.push({
    direct: await timeRequests(`http://127.0.0.1:${direct.addr.port}/metrics`),
    front: await timeRequests(`http://127.0.0.1:${fronted.addr.port}/metrics`),
  });
}
await direct.shutdown();
await fronted.shutdown();
const best = (key: "direct" | "front") => Math.min(...rounds.map((r) => r[key]));
console.log(JSON.stringify({
  requests_per_round: requests,
  body_bytes: body.length,
  direct_ms_per_request: Number(best("direct").toFixed(3)),
  front_ms_per_request: Number(best("front").toFixed(3)),
  added_ms_per_request: Number((best("front") - best("direct")).toFixed(3)),
  ratio: Number((best("front") / best("direct")).toFixed(2)),
}));
