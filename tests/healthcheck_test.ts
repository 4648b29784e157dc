// pose-exporter healthcheck: exit 0 on a 2xx answer, else exit 1 with one line saying what was seen.

import { assert, assertEquals } from "./_assert.ts";
import { freePort, runExporter } from "./_helpers.ts";
import { healthcheckCommand, probeHealth } from "../src/commands/healthcheck.ts";

/** A loopback server answering `handler`; `close` also releases requests left hanging. */
function serve(handler: (req: Request) => Response | Promise<Response>) {
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler);
  return { url: `http://127.0.0.1:${port}/healthz`, close: () => server.shutdown() };
}

/** Runs `healthcheckCommand(args)`, collecting what it prints. */
async function healthcheck(args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => out.push(line);
  console.error = (line: string) => err.push(line);
  try {
    return { code: await healthcheckCommand(args), out, err };
  } finally {
    Object.assign(console, { log, error });
  }
}

Deno.test("healthcheckCommand() exits 0 when the URL answers 200", async () => {
  const server = serve(() => new Response("ok\n"));
  try {
    const { code, out, err } = await healthcheck(["--url", server.url]);
    assertEquals(code, 0);
    assertEquals(out, [`healthcheck: ${server.url}: 200 OK`]);
    assertEquals(err, []);
  } finally {
    await server.close();
  }
});

Deno.test("healthcheckCommand() exits 1 naming the status of a non-2xx answer", async () => {
  const server = serve(() => new Response("down\n", { status: 503 }));
  try {
    const { code, err } = await healthcheck(["--url", server.url]);
    assertEquals(code, 1);
    assertEquals(err, [
      `pose-exporter healthcheck: ${server.url}: answered 503 Service Unavailable`,
    ]);
  } finally {
    await server.close();
  }
});

Deno.test("healthcheckCommand() exits 1 saying the connection was refused", async () => {
  const url = `http://127.0.0.1:${freePort()}/healthz`;
  const { code, err } = await healthcheck(["--url", url]);
  assertEquals(code, 1);
  assertEquals(err, [`pose-exporter healthcheck: ${url}: connection refused`]);
});

Deno.test("probeHealth() gives up after the timeout", async () => {
  let release = () => {};
  const held = new Promise<void>((resolve) => release = resolve);
  const server = serve(async () => {
    await held;
    return new Response("late\n");
  });
  try {
    const started = performance.now();
    assertEquals(await probeHealth(server.url, 200), {
      ok: false,
      line: `${server.url}: no answer within 200 ms`,
    });
    assert(performance.now() - started < 5000);
  } finally {
    release();
    await server.close();
  }
});

Deno.test("healthcheckCommand() refuses bad flags in one line naming the flag, exit 2", async () => {
  const cases: [string[], string][] = [
    [["--timeout-ms", "0"], 'Invalid --timeout-ms: "0" (a whole number, at least 1)'],
    [["--timeout-ms", "soon"], 'Invalid --timeout-ms: "soon" (a whole number, at least 1)'],
    [["--url", "ftp://x/healthz"], 'Invalid --url: "ftp://x/healthz" (an http:// or https:// URL)'],
    [["--url"], "Missing value for --url"],
    [["--nope"], "Unknown flag: --nope"],
    [["extra"], "Unexpected argument: extra"],
  ];
  for (const [args, message] of cases) {
    const { code, out, err } = await healthcheck(args);
    assertEquals(code, 2, args.join(" "));
    assertEquals(err, [`pose-exporter healthcheck: ${message} (see --help)`]);
    assertEquals(out, []);
  }
});

Deno.test("healthcheckCommand() --help describes the flags", async () => {
  const { code, out } = await healthcheck(["--help"]);
  assertEquals(code, 0);
  assert(out.join("\n").includes("--timeout-ms N"), out.join("\n"));
  assert(out.join("\n").includes("http://127.0.0.1:8000/healthz"));
});

Deno.test("cli - pose-exporter healthcheck asks a running server", async () => {
  const server = serve(() => new Response("ok\n"));
  try {
    const up = await runExporter(["healthcheck", "--url", server.url, "--timeout-ms", "5000"]);
    assertEquals(up.code, 0, up.stderr);
    assertEquals(up.stdout.trim(), `healthcheck: ${server.url}: 200 OK`);
  } finally {
    await server.close();
  }
  const down = await runExporter(["healthcheck", "--url", server.url]);
  assertEquals(down.code, 1);
  assertEquals(down.stderr.trim(), `pose-exporter healthcheck: ${server.url}: connection refused`);
});
