// pose-exporter healthcheck: exit 0 on a 2xx answer, else exit 1 with one line saying what was seen.

import { assert, assertEquals } from "./_assert.ts";
import { freePort, runExporter } from "./_helpers.ts";
import { makeTlsFiles } from "./_web_security.ts";
import { flagProblemLines } from "../src/cli/command_line.ts";
import { exporterOrigin } from "../src/commands/_exporter_url.ts";
import { healthcheckCommand, probeHealth } from "../src/commands/healthcheck.ts";
import { EXIT } from "../src/exit_codes.ts";

/** A loopback server answering `handler`; `close` also releases requests left hanging. */
function serve(handler: (req: Request) => Response | Promise<Response>) {
  const port = freePort();
  const server = Deno.serve({ hostname: "127.0.0.1", port, onListen() {} }, handler);
  return { url: `http://127.0.0.1:${port}/healthz`, close: () => server.shutdown() };
}

/** Runs `healthcheckCommand(args, env)`, collecting what it prints. */
async function healthcheck(args: string[], env: Record<string, string> = {}) {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (line: string) => out.push(line);
  console.error = (line: string) => err.push(line);
  try {
    return { code: await healthcheckCommand(args, env), out, err };
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

Deno.test("healthcheckCommand() refuses bad flags in the one form, naming flag and value, exit 2", async () => {
  const cases: [string[], string][] = [
    [["--timeout-ms", "0"], 'Invalid --timeout-ms: "0" is not an integer in 1..600000'],
    [["--timeout-ms", "soon"], 'Invalid --timeout-ms: "soon" is not an integer in 1..600000'],
    [["--url", "ftp://x/healthz"], 'Invalid --url: "ftp://x/healthz" is not an http(s) URL'],
    [["--url"], "Flag --url needs a value: URL"],
    [["--nope"], "Unknown flag: --nope (see --help)"],
    [["extra"], 'Unexpected argument: "extra" (flags start with --)'],
  ];
  for (const [args, message] of cases) {
    const { code, out, err } = await healthcheck(args);
    assertEquals(code, EXIT.usage, args.join(" "));
    assertEquals(err, [flagProblemLines("healthcheck", [message]).join("\n")]);
    assertEquals(out, []);
  }
});

Deno.test("healthcheckCommand() asks where POSE_EXPORTER_LISTEN says the exporter listens", async () => {
  const server = serve(() => new Response("ok\n"));
  const port = new URL(server.url).port;
  try {
    const { code, out } = await healthcheck([], { POSE_EXPORTER_LISTEN: `0.0.0.0:${port}` });
    assertEquals(code, EXIT.ok);
    assertEquals(out, [`healthcheck: http://127.0.0.1:${port}/healthz: 200 OK`]);
    const elsewhere = `127.0.0.1:${freePort()}`;
    const wins = await healthcheck(["--url", server.url], { POSE_EXPORTER_LISTEN: elsewhere });
    assertEquals([wins.code, wins.out], [EXIT.ok, [`healthcheck: ${server.url}: 200 OK`]]);
  } finally {
    await server.close();
  }
});

Deno.test("healthcheckCommand() refuses a bad POSE_EXPORTER_LISTEN, naming it and the flag, exit 2", async () => {
  const { code, err } = await healthcheck([], { POSE_EXPORTER_LISTEN: "8000" });
  assertEquals(code, EXIT.usage);
  assertEquals(err, [
    flagProblemLines("healthcheck", [
      'Invalid POSE_EXPORTER_LISTEN (for --url): "8000" is not HOST:PORT with a port in 0..65535',
    ]).join("\n"),
  ]);
});

Deno.test("exporterOrigin() asks a wildcard listen address on loopback", () => {
  assertEquals(exporterOrigin({ hostname: "0.0.0.0", port: 8000 }), "http://127.0.0.1:8000");
  assertEquals(exporterOrigin({ hostname: "::", port: 8000 }), "http://[::1]:8000");
  assertEquals(exporterOrigin({ hostname: "::1", port: 9 }), "http://[::1]:9");
  assertEquals(exporterOrigin({ hostname: "10.0.0.5", port: 9 }), "http://10.0.0.5:9");
});

Deno.test("healthcheckCommand() --help describes the flags, their defaults and POSE_EXPORTER_LISTEN", async () => {
  const { code, out } = await healthcheck(["--help"]);
  assertEquals(code, EXIT.ok);
  const text = out.join("\n");
  assert(text.includes("(default 2000; 1..600000)"), text);
  assert(text.includes("(default http://127.0.0.1:8000/healthz)"), text);
  assert(text.includes("POSE_EXPORTER_LISTEN"), text);
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

/** A loopback HTTPS server that answers 200 to `user:password` and 401 to anyone else. */
async function serveProtected(dir: string, user: string, password: string) {
  const tls = await makeTlsFiles(dir);
  const port = freePort();
  const expected = `Basic ${btoa(`${user}:${password}`)}`;
  const server = Deno.serve(
    {
      hostname: "127.0.0.1",
      port,
      cert: await Deno.readTextFile(tls.certFile),
      key: await Deno.readTextFile(tls.keyFile),
      onListen() {},
    },
    (req) =>
      req.headers.get("authorization") === expected
        ? new Response("ok\n")
        : new Response("unauthorized\n", { status: 401, headers: { "www-authenticate": "Basic" } }),
  );
  return { tls, port, url: `https://127.0.0.1:${port}/healthz`, close: () => server.shutdown() };
}

Deno.test("healthcheckCommand() logs in to a protected exporter with a user, a password file and a CA", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_healthcheck_tls_" });
  const server = await serveProtected(dir, "probe", "pw with spaces");
  try {
    await Deno.writeTextFile(`${dir}/password`, "pw with spaces\n");
    const login = [
      "--ca-file",
      server.tls.caFile,
      "--user",
      "probe",
      "--password-file",
      `${dir}/password`,
    ];
    const ok = await healthcheck(["--url", server.url, ...login]);
    assertEquals([ok.code, ok.out], [EXIT.ok, [`healthcheck: ${server.url}: 200 OK`]]);
    const anonymous = await healthcheck(["--url", server.url, "--ca-file", server.tls.caFile]);
    assertEquals(anonymous.code, EXIT.failure);
    assertEquals(anonymous.err, [
      `pose-exporter healthcheck: ${server.url}: answered 401 Unauthorized (the exporter asks for a login: give --user and --password-file)`,
    ]);
    const untrusted = await healthcheck(["--url", server.url]);
    assertEquals(untrusted.code, EXIT.failure);
    assert(
      untrusted.err[0]!.includes("TLS: the exporter's certificate is not accepted (UnknownIssuer)"),
      untrusted.err[0],
    );
    const plain = await healthcheck(["--url", server.url.replace("https:", "http:"), ...login]);
    assert(plain.err[0]!.includes("TLS mismatch"), plain.err[0]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("healthcheckCommand() with no flags follows the exporter's environment: https from its web config, login from POSE_HEALTHCHECK_*", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_healthcheck_env_" });
  const server = await serveProtected(dir, "probe", "pw");
  try {
    await Deno.writeTextFile(`${dir}/password`, "pw");
    await Deno.writeTextFile(
      `${dir}/web.yml`,
      "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n",
    );
    const { code, out, err } = await healthcheck([], {
      POSE_EXPORTER_LISTEN: `0.0.0.0:${server.port}`,
      POSE_EXPORTER_WEB_CONFIG_FILE: `${dir}/web.yml`,
      POSE_HEALTHCHECK_USER: "probe",
      POSE_HEALTHCHECK_PASSWORD_FILE: `${dir}/password`,
      POSE_HEALTHCHECK_CA_FILE: server.tls.caFile,
    });
    assertEquals([code, out, err], [EXIT.ok, [
      `healthcheck: https://127.0.0.1:${server.port}/healthz: 200 OK`,
    ], []]);
  } finally {
    await server.close();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("healthcheckCommand() refuses a half login and unreadable files, exit 2", async () => {
  const cases: [string[], string][] = [
    [["--user", "probe"], "Flags --user and --password-file go together: give both"],
    [
      ["--user", "p", "--password-file", "/nonexistent/pw"],
      'Invalid --password-file: cannot read "/nonexistent/pw": no such file',
    ],
    [
      ["--ca-file", "/nonexistent/ca.crt"],
      'Invalid --ca-file: cannot read "/nonexistent/ca.crt": no such file',
    ],
  ];
  for (const [args, message] of cases) {
    const { code, err } = await healthcheck(args);
    assertEquals(code, EXIT.usage, args.join(" "));
    assertEquals(err, [flagProblemLines("healthcheck", [message]).join("\n")]);
  }
});
