// Nobody gets in uninvited, no secret leaks out: a real exporter with --web-config-file (TLS from
// openssl, bcrypt from htpasswd), scraped by a real Prometheus with basic_auth and a CA file,
// asked by curl and doctor; a credential-bearing source whose secret appears in no output.

import { assert, assertEquals } from "./_assert.ts";
import { forceStop, freePort, jsonLogs, ROOT, sampleValue, startExporter } from "./_helpers.ts";
import {
  bcryptHash,
  curl,
  makeTlsFiles,
  ScrapingPrometheus,
  writeWebConfig,
} from "./_web_security.ts";

const PASSWORD = "correct horse battery";
const CAMERA_SECRET = "S3cretPass";
const TOKEN_SECRET = "T0kenSecret123";

/** Polls `check` until it holds or `ms` pass. */
async function eventually(what: string, check: () => Promise<boolean>, ms = 30_000) {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Runs `pose-exporter doctor` with `args`. */
async function doctor(args: string[]): Promise<{ code: number; stdout: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-net",
      "--allow-env",
      "--allow-read",
      "--allow-run=cat",
      "main.ts",
      "doctor",
      ...args,
    ],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", GRAFANA_TOKEN: "", GRAFANA_ADMIN_PASSWORD: "" },
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

Deno.test("web security - TLS and basic auth from a web config file: curl, a real Prometheus, doctor, reloads, no leaked secret", async (t) => {
  const dir = await Deno.makeTempDir({ prefix: "pose_web_security_" });
  const tls = await makeTlsFiles(dir);
  const webConfig = `${dir}/web-config.yml`;
  const hash = await bcryptHash(PASSWORD);
  const writeConfig = (users: Record<string, string>) =>
    writeWebConfig(webConfig, {
      tls_server_config: { cert_file: "server.crt", key_file: "server.key" },
      http_server_config: { headers: { "Strict-Transport-Security": "max-age=31536000" } },
      basic_auth_users: users,
    });
  await writeConfig({ prometheus: hash });
  await Deno.writeTextFile(`${dir}/password`, `${PASSWORD}\n`);
  const port = freePort();
  const closed = freePort();
  const origin = `https://127.0.0.1:${port}`;
  const ca = ["--cacert", tls.caFile];
  const login = [...ca, "-u", `prometheus:${PASSWORD}`];
  const exporter = startExporter([
    "--listen",
    `127.0.0.1:${port}`,
    "--provider",
    "cpu",
    "--log-format",
    "json",
    "--live-view",
    "--web-enable-lifecycle",
    "--web-config-file",
    webConfig,
    "--source",
    "synth=synthetic:320x240@15",
    // Cameras that refuse the connection: ffmpeg quotes their URIs, secrets and all.
    "--source",
    `cam=rtsp://admin:${CAMERA_SECRET}@127.0.0.1:${closed}/stream`,
    "--source",
    `hls=http://127.0.0.1:${closed}/live.m3u8?token=${TOKEN_SECRET}`,
  ]);
  const bodies: string[] = [];
  let prometheus: ScrapingPrometheus | null = null;
  try {
    await eventually(
      "the exporter to be ready",
      async () => (await curl(`${origin}/readyz`, login)).status === 200,
      90_000,
    );

    await t.step(
      "curl: no login 401 with WWW-Authenticate, a wrong one 401, the right one 200",
      async () => {
        const none = await curl(`${origin}/metrics`, ca);
        assertEquals(none.status, 401);
        assert(/^www-authenticate: Basic realm="pose-exporter"/im.test(none.headers), none.headers);
        assert(/^strict-transport-security: max-age=31536000/im.test(none.headers), none.headers);
        assertEquals(
          (await curl(`${origin}/metrics`, [...ca, "-u", "prometheus:wrong"])).status,
          401,
        );
        assertEquals(
          (await curl(`${origin}/metrics`, [...ca, "-u", `mallory:${PASSWORD}`])).status,
          401,
        );
        const right = await curl(`${origin}/metrics`, login);
        assertEquals(right.status, 200);
        assert(right.body.includes('pose_fps{stream_id="synth"}'), right.body.slice(0, 300));
        bodies.push(right.body);
        for (const path of ["/healthz", "/readyz", "/"]) {
          assertEquals((await curl(`${origin}${path}`, ca)).status, 401, path);
        }
      },
    );

    await t.step(
      "plain HTTP against the TLS port fails; the handshake failure is counted",
      async () => {
        const plain = await curl(`http://127.0.0.1:${port}/metrics`);
        assertEquals(plain.status, 0, plain.body);
        const text = (await curl(`${origin}/metrics`, login)).body;
        assert(
          (sampleValue(text, "pose_http_connections_closed_total", { reason: "tls_handshake" }) ??
            0) >= 1,
        );
      },
    );

    await t.step(
      "the live view's page, state and snapshots need the login; a foreign Host gets 403",
      async () => {
        for (const path of ["/", "/live/state", "/live/snapshot?stream=synth", "/live/app.js"]) {
          assertEquals((await curl(`${origin}${path}`, ca)).status, 401, path);
        }
        const page = await curl(`${origin}/`, login);
        assertEquals(page.status, 200);
        bodies.push(page.body);
        await eventually("the cameras to be reported down", async () => {
          const state = await curl(`${origin}/live/state`, login);
          bodies.push(state.body);
          const streams = JSON.parse(state.body).streams as { id: string; reason: string | null }[];
          return ["cam", "hls"].every((id) => streams.find((s) => s.id === id)?.reason);
        });
        const rebound = await curl(`${origin}/live/state`, [
          ...login,
          "-H",
          "Host: evil.example:8000",
        ]);
        assertEquals(rebound.status, 403);
        const browser = await curl(`${origin}/metrics`, [
          ...login,
          "-H",
          "Host: attacker.example",
          "-H",
          "Sec-Fetch-Mode: cors",
        ]);
        assertEquals(browser.status, 403);
      },
    );

    await t.step(
      "a real Prometheus scrapes https with basic_auth and ca_file: up and pose_fps; a wrong password: down with 401",
      async () => {
        prometheus = await ScrapingPrometheus.start([
          {
            name: "pose-exporter",
            target: `127.0.0.1:${port}`,
            scrape: {
              scheme: "https",
              tls_config: { ca_file: tls.caFile },
              basic_auth: { username: "prometheus", password_file: "password" },
            },
          },
          {
            name: "wrong-password",
            target: `127.0.0.1:${port}`,
            scrape: {
              scheme: "https",
              tls_config: { ca_file: tls.caFile },
              basic_auth: { username: "prometheus", password: "not it" },
            },
          },
          {
            name: "plain-http",
            target: `127.0.0.1:${port}`,
          },
        ], { password: `${PASSWORD}\n` });
        const prom = prometheus;
        assertEquals((await prom.target("pose-exporter", (h) => h !== "unknown")).health, "up");
        await eventually(
          "pose_fps in Prometheus",
          async () =>
            (await prom.query('pose_fps{job="pose-exporter",stream_id="synth"}')).length === 1,
        );
        const wrong = await prom.target("wrong-password", (h) => h !== "unknown");
        assertEquals(wrong.health, "down");
        assert(wrong.lastError.includes("401"), wrong.lastError);
        const plain = await prom.target("plain-http", (h) => h !== "unknown");
        assertEquals(plain.health, "down");
        console.log(`Prometheus' error for an http scrape of the TLS port: ${plain.lastError}`);
      },
    );

    await t.step(
      "doctor logs in with a user, a password file and a CA; names a 401 and a TLS mismatch with their fixes",
      async () => {
        const prom = prometheus!;
        const anonymous = await doctor([
          "--exporter",
          origin,
          "--exporter-ca-file",
          tls.caFile,
          "--prometheus",
          prom.url,
        ]);
        assert(
          anonymous.stdout.includes("answered HTTP 401: the exporter asks for a login"),
          anonymous.stdout,
        );
        assert(
          anonymous.stdout.includes("give doctor --exporter-user and --exporter-password-file"),
          anonymous.stdout,
        );
        const out = await doctor([
          "--exporter",
          origin,
          "--exporter-user",
          "prometheus",
          "--exporter-password-file",
          `${dir}/password`,
          "--exporter-ca-file",
          tls.caFile,
          "--prometheus",
          prom.url,
        ]);
        bodies.push(out.stdout);
        assert(/^ok +exporter metrics:/m.test(out.stdout), out.stdout);
        assert(/^ok +exporter ready:/m.test(out.stdout), out.stdout);
        assert(
          new RegExp(
            `^ok +prometheus target 127\\.0\\.0\\.1:${port} \\(job pose-exporter\\): up`,
            "m",
          ).test(out.stdout),
          out.stdout,
        );
        const wrong = out.stdout.split("\n").findIndex((l) =>
          l.includes("(job wrong-password): down: HTTP 401")
        );
        assert(wrong >= 0, out.stdout);
        assert(
          out.stdout.split("\n")[wrong + 1]!.includes(
            "set basic_auth (username, password_file) in job wrong-password",
          ),
          out.stdout,
        );
        const plain = out.stdout.split("\n").findIndex((l) =>
          l.includes("(job plain-http): down:")
        );
        assert(plain >= 0, out.stdout);
        assert(
          out.stdout.split("\n")[plain + 1]!.includes(
            "set scheme: https and tls_config.ca_file in job plain-http",
          ),
          out.stdout,
        );
      },
    );

    await t.step("2000 anonymous POST /-/reload reload nothing", async () => {
      const statuses = await Promise.all(Array.from({ length: 20 }, async () => {
        const out = await new Deno.Command("curl", {
          args: [
            "-s",
            "-w",
            "%{http_code}\\n",
            "--cacert",
            tls.caFile,
            "--parallel",
            "--parallel-max",
            "10",
            "-X",
            "POST",
            ...Array.from({ length: 100 }, () => ["-o", "/dev/null", `${origin}/-/reload`]).flat(),
          ],
          stdout: "piped",
        }).output();
        return new TextDecoder().decode(out.stdout).trim().split("\n");
      }));
      const all = statuses.flat();
      assertEquals(all.length, 2000);
      assert(all.every((s) => s === "401"), [...new Set(all)].join(","));
      const text = (await curl(`${origin}/metrics`, login)).body;
      assert(
        (sampleValue(text, "pose_http_requests_rejected_total", { reason: "unauthorized" }) ?? 0) >=
          2000,
      );
    });

    await t.step("the web config edited while running takes effect without a restart", async () => {
      await writeConfig({ prometheus: await bcryptHash("new password") });
      await eventually(
        "the new password to be taken",
        async () =>
          (await curl(`${origin}/metrics`, [...ca, "-u", "prometheus:new password"])).status ===
            200,
      );
      assertEquals(
        (await curl(`${origin}/metrics`, login)).status,
        401,
        "the old password is refused",
      );
    });

    await t.step("a broken edit keeps the configuration in force, logged and counted", async () => {
      const newLogin = [...ca, "-u", "prometheus:new password"];
      await Deno.writeTextFile(webConfig, "basic_auth_users:\n  prometheus: new password\n");
      await eventually("the refusal to be counted", async () => {
        const text = (await curl(`${origin}/metrics`, newLogin)).body;
        return sampleValue(text, "pose_web_config_reload_failures_total") === 1 &&
          sampleValue(text, "pose_web_config_reload_success") === 0;
      });
      assertEquals((await curl(`${origin}/metrics`, ca)).status, 401, "still protected");
      assertEquals(
        (await curl(`${origin}/metrics`, newLogin)).status,
        200,
        "the last good one serves",
      );
      await writeConfig({ prometheus: hash });
      await eventually(
        "the fixed file to be taken",
        async () => (await curl(`${origin}/metrics`, login)).status === 200,
      );
    });

    await t.step(
      "a new certificate is served without a restart; the port is closed for a moment only",
      async () => {
        const next = await makeTlsFiles(await Deno.makeTempDir({ dir, prefix: "ca2_" }), {
          name: "next",
        });
        let probing = true;
        let refused = 0;
        let connects = 0;
        let longestRefusedMs = 0;
        const prober = (async () => {
          let refusedSince: number | null = null;
          while (probing) {
            const at = performance.now();
            try {
              (await Deno.connect({ hostname: "127.0.0.1", port })).close();
              connects++;
              if (refusedSince !== null) {
                longestRefusedMs = Math.max(longestRefusedMs, at - refusedSince);
              }
              refusedSince = null;
            } catch {
              refused++;
              refusedSince ??= at;
            }
          }
        })();
        await Deno.copyFile(next.keyFile, tls.keyFile);
        await Deno.copyFile(next.certFile, tls.certFile);
        try {
          await eventually(
            "the new certificate",
            async () =>
              (await curl(`${origin}/healthz`, [
                "--cacert",
                next.caFile,
                "-u",
                `prometheus:${PASSWORD}`,
              ])).status === 200,
          );
        } finally {
          probing = false;
          await prober;
        }
        console.log(
          `certificate change seen from another process: ${connects} connects, ${refused} refused, ` +
            `port closed at most ${longestRefusedMs.toFixed(2)} ms`,
        );
        assert(longestRefusedMs < 250, `closed ${longestRefusedMs} ms`);
        assertEquals(
          (await curl(`${origin}/healthz`, login)).status,
          0,
          "the old CA no longer verifies it",
        );
        const text = (await curl(`${origin}/metrics`, [
          "--cacert",
          next.caFile,
          "-u",
          `prometheus:${PASSWORD}`,
        ])).body;
        bodies.push(text);
        assert(
          (sampleValue(text, "pose_http_tls_certificate_expiry_timestamp_seconds") ?? 0) >
            Date.now() / 1000,
        );
      },
    );

    await t.step(
      "no output carries a camera's secret: logs, /live/state, the page, /metrics, doctor",
      async () => {
        exporter.child.kill("SIGTERM");
        const { code, stdout, stderr } = await exporter.done;
        assertEquals(code, 0, stderr.slice(-2000));
        const logs = jsonLogs(stderr);
        const starting = logs.filter((l) => l.msg === "stream starting" && l.stream_id === "cam");
        assert(starting.length >= 2, "the camera was retried");
        assertEquals(starting[0].uri, `rtsp://admin:***@127.0.0.1:${closed}/stream`);
        const down = logs.find((l) => l.msg === "stream down" && l.stream_id === "cam");
        assert(down?.detail, "ffmpeg's words are kept");
        assert(
          logs.some((l) =>
            l.msg === "stream starting" &&
            l.uri === `http://127.0.0.1:${closed}/live.m3u8?token=***`
          ),
        );
        const reopened = logs.find((l) => l.msg === "listener reopened for the new TLS settings");
        console.log(`the exporter's own count of the port closed: ${reopened?.port_closed_ms} ms`);
        assert(reopened && reopened.port_closed_ms < 100);
        assert(!logs.some((l) => l.msg === "reloaded"), "no anonymous reload ran");
        for (
          const [what, text] of [
            ["stderr", stderr],
            ["stdout", stdout],
            ...bodies.map((b, i) => [`body ${i}`, b]),
          ]
        ) {
          for (const secret of [CAMERA_SECRET, TOKEN_SECRET]) {
            assert(!text!.includes(secret), `${what} carries ${secret}`);
          }
        }
        assert(bodies.some((b) => b.includes("rtsp://admin:***@")), "a redacted URI was shown");
      },
    );
  } finally {
    await (prometheus as ScrapingPrometheus | null)?.stop();
    await forceStop(exporter);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("web security - without a web config: a warning for the open live view and lifecycle, the Host check still on", async () => {
  const port = freePort();
  const exporter = startExporter([
    "--listen",
    `0.0.0.0:${port}`,
    "--provider",
    "cpu",
    "--log-format",
    "json",
    "--live-view",
    "--web-enable-lifecycle",
    "--streams",
    "1",
  ]);
  try {
    await eventually(
      "the exporter to be ready",
      async () => (await curl(`http://127.0.0.1:${port}/readyz`)).status === 200,
      90_000,
    );
    assertEquals((await curl(`http://127.0.0.1:${port}/live/state`)).status, 200);
    assertEquals(
      (await curl(`http://127.0.0.1:${port}/live/state`, ["-H", "Host: rebind.example"])).status,
      403,
    );
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0);
    const warnings = jsonLogs(stderr).filter((l) =>
      l.level === "warn" && /without a login/.test(l.msg)
    );
    assertEquals(warnings.length, 1, stderr);
    assert(
      warnings[0].msg.startsWith(
        "the live view (camera pictures) and POST /-/reload can be reached",
      ),
    );
    // The start line gives the live view's address beside the metrics'.
    const serving = jsonLogs(stderr).find((l) => l.msg === "serving metrics");
    assertEquals(
      [serving?.url, serving?.live_view],
      [`http://0.0.0.0:${port}/metrics`, `http://0.0.0.0:${port}/`],
    );
  } finally {
    await forceStop(exporter);
  }
});

Deno.test("web security - a web config file the server cannot use exits 2 naming the file, the key and the problem", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_web_bad_" });
  try {
    await makeTlsFiles(dir);
    const cases: [string, Record<string, unknown>, string][] = [
      ["unknown.yml", {
        tls_server_config: { cert_file: "server.crt", key_file: "server.key", certfile: "x" },
      }, "tls_server_config.certfile: unknown key"],
      ["tls13.yml", {
        tls_server_config: {
          cert_file: "server.crt",
          key_file: "server.key",
          min_version: "TLS13",
        },
      }, 'tls_server_config.min_version: "TLS13" cannot be honoured'],
      [
        "plain.yml",
        { basic_auth_users: { prometheus: "hunter2hunter2" } },
        "basic_auth_users.prometheus: not a bcrypt hash (a plain password?)",
      ],
      [
        "missing.yml",
        { tls_server_config: { cert_file: "gone.crt", key_file: "server.key" } },
        `tls_server_config.cert_file: cannot read "${dir}/gone.crt": no such file`,
      ],
      ["mtls.yml", {
        tls_server_config: {
          cert_file: "server.crt",
          key_file: "server.key",
          client_auth_type: "RequireAndVerifyClientCert",
          client_ca_file: "ca.crt",
        },
      }, "cannot request or verify client certificates"],
    ];
    for (const [name, doc, problem] of cases) {
      await writeWebConfig(`${dir}/${name}`, doc);
      const exporter = startExporter([
        "--streams",
        "1",
        "--listen",
        `127.0.0.1:${freePort()}`,
        "--web-config-file",
        `${dir}/${name}`,
      ]);
      const { code, stderr } = await exporter.done;
      assertEquals(code, 2, `${name}: ${stderr}`);
      const line = stderr.split("\n").find((l) => l.includes("Invalid --web-config-file"));
      assert(
        line?.includes(`Invalid --web-config-file ${dir}/${name}: `) && line.includes(problem),
        `${name}: ${stderr}`,
      );
      assert(!stderr.includes("hunter2hunter2"), "a plain password is never echoed");
      assert(!stderr.includes("model ready"), `${name}: refused before the model loads`);
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
