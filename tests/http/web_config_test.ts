// The web config file: the toolkit's format read as the toolkit reads it, what this server cannot
// honour refused in one line, bad input named by file, key and problem.

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { bcryptHash, makeTlsFiles, writeWebConfig } from "../_web_security.ts";
import {
  loadWebConfig,
  parseGoDuration,
  parseWebConfig,
  WebConfigError,
} from "../../src/http/web_config.ts";

const HASH = "$2y$10$QOauhQNbBCuQDKes6eFzPeMqBSjb7Mr5DUmpZ/VcEd00UAV/LDeSi";

/** The problems parseWebConfig finds in `text`, or [] when it takes it. */
function problems(text: string): string[] {
  try {
    parseWebConfig(text, "/etc/pose/web.yml");
    return [];
  } catch (err) {
    if (!(err instanceof WebConfigError)) throw err;
    return [...err.problems];
  }
}

Deno.test("parseWebConfig() reads the toolkit's documented keys, paths beside the file", () => {
  const parsed = parseWebConfig(
    [
      "tls_server_config:",
      "  cert_file: server.crt",
      "  key_file: /abs/server.key",
      "  min_version: TLS12",
      "  max_version: TLS13",
      "  client_auth_type: NoClientCert",
      "  prefer_server_cipher_suites: true",
      "http_server_config:",
      "  http2: false",
      "  headers:",
      "    Strict-Transport-Security: max-age=31536000",
      "    X-Frame-Options: deny",
      "    X-Content-Type-Options: nosniff",
      "    Content-Security-Policy: ''",
      "basic_auth_users:",
      `  prometheus: ${HASH}`,
      "basic_auth_excluded_paths: [/healthz]",
      "rate_limit:",
      "  interval: 100ms",
      "  burst: 20",
    ].join("\n"),
    "/etc/pose/web.yml",
  );
  assertEquals(parsed.tls, {
    cert: { file: "/etc/pose/server.crt" },
    key: { file: "/abs/server.key" },
  });
  assertEquals([...parsed.users], [["prometheus", HASH]]);
  assertEquals([...parsed.excludedPaths], ["/healthz"]);
  assertEquals(parsed.headers, {
    "Strict-Transport-Security": "max-age=31536000",
    "X-Frame-Options": "deny",
    "X-Content-Type-Options": "nosniff",
  });
  assertEquals(parsed.rateLimit, { intervalMs: 100, burst: 20 });
  assertEquals(parsed.http2Requested, false);
});

Deno.test("parseWebConfig() takes an empty file as no TLS and no login", () => {
  const parsed = parseWebConfig("# nothing yet\n", "web.yml");
  assertEquals([parsed.tls, parsed.users.size, parsed.rateLimit], [null, 0, null]);
});

Deno.test("parseWebConfig() refuses what Deno's TLS server cannot honour, one line each", () => {
  const cases: [string, string][] = [
    ["min_version: TLS13", 'tls_server_config.min_version: "TLS13" cannot be honoured'],
    ["max_version: TLS12", 'tls_server_config.max_version: "TLS12" cannot be honoured'],
    [
      "cipher_suites: [TLS_AES_128_GCM_SHA256]",
      "tls_server_config.cipher_suites: cannot be honoured",
    ],
    ["curve_preferences: [X25519]", "tls_server_config.curve_preferences: cannot be honoured"],
    [
      "client_auth_type: RequireAndVerifyClientCert",
      'tls_server_config.client_auth_type: "RequireAndVerifyClientCert" cannot be honoured',
    ],
    ["client_ca_file: ca.crt", "tls_server_config.client_ca_file: cannot be honoured"],
    ["client_allowed_sans: [a]", "tls_server_config.client_allowed_sans: cannot be honoured"],
  ];
  for (const [line, start] of cases) {
    const found = problems(
      `tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n  ${line}\n`,
    );
    assertEquals(found.length, 1, `${line}: ${found.join(" / ")}`);
    assert(found[0]!.startsWith(start), found[0]);
    assert(!found[0]!.includes("\n"), "one line");
  }
  // A floor the server never goes below is honoured; so is the ceiling it has.
  for (const line of ["min_version: TLS10", "min_version: TLS12", "max_version: TLS13"]) {
    assertEquals(problems(`tls_server_config:\n  cert_file: a\n  key_file: b\n  ${line}\n`), []);
  }
});

Deno.test("parseWebConfig() names the key and the problem of bad input, never a secret", () => {
  const cases: [string, string][] = [
    ["tls_server_config:\n  certfile: a.crt\n", "tls_server_config.certfile: unknown key"],
    ["basic_auth_user:\n  a: b\n", "basic_auth_user: unknown key (the file takes"],
    [
      "tls_server_config:\n  cert_file: a.crt\n",
      "tls_server_config: missing one of key or key_file",
    ],
    [
      "basic_auth_users:\n  alice: hunter22\n",
      "basic_auth_users.alice: not a bcrypt hash (a plain password?)",
    ],
    ["basic_auth_users:\n  alice: $1$abc$def\n", "basic_auth_users.alice: not a bcrypt hash"],
    [`basic_auth_users:\n  "a:b": ${HASH}\n`, "basic_auth_users.a:b: a user name must be"],
    [
      "http_server_config:\n  headers:\n    Server: x\n",
      "http_server_config.headers.Server: this header can not be configured",
    ],
    [
      "http_server_config:\n  headers:\n    X-Frame-Options: allow\n",
      'http_server_config.headers.X-Frame-Options: "allow" is not one of deny, sameorigin',
    ],
    [
      "rate_limit:\n  interval: soon\n  burst: 1\n",
      'rate_limit.interval: "soon" is not a duration',
    ],
    ["rate_limit:\n  interval: 1s\n", "rate_limit.burst: must be at least 1"],
    [
      "tls_server_config:\n  min_version: TLS9\n",
      'tls_server_config.min_version: "TLS9" is not one of',
    ],
    ["- a\n- b\n", "the file must be a YAML mapping"],
    ["a: [\n", "the file is not YAML"],
  ];
  for (const [text, start] of cases) {
    const found = problems(text);
    assert(found.some((p) => p.startsWith(start)), `${JSON.stringify(text)}: ${found.join(" / ")}`);
    assert(!found.join(" ").includes("hunter22"), "a plain password is never quoted");
  }
  const err = assertThrows(
    () => parseWebConfig("basic_auth_users:\n  a: pw\n", "/x/web.yml"),
    WebConfigError,
  );
  assert(
    (err as Error).message.startsWith("Invalid --web-config-file /x/web.yml: basic_auth_users.a:"),
  );
});

Deno.test("parseGoDuration() reads Go durations as the toolkit's rate_limit takes them", () => {
  assertEquals(parseGoDuration("1s"), 1000);
  assertEquals(parseGoDuration("1m30s"), 90_000);
  assertEquals(parseGoDuration("250ms"), 250);
  assertEquals(parseGoDuration("1.5h"), 5_400_000);
  assertEquals(parseGoDuration("0"), 0);
  assertEquals(parseGoDuration(2_000_000), 2);
  assertEquals(parseGoDuration("1 s"), null);
  assertEquals(parseGoDuration("s"), null);
});

Deno.test("loadWebConfig() loads the certificate beside the file and refuses a missing or mismatched one", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_web_config_" });
  try {
    const tls = await makeTlsFiles(dir);
    const other = await makeTlsFiles(dir, { name: "other" });
    const hash = await bcryptHash("pw", 4);
    const path = `${dir}/web.yml`;
    await writeWebConfig(path, {
      tls_server_config: { cert_file: "server.crt", key_file: "server.key" },
      basic_auth_users: { prometheus: hash },
    });
    const settings = loadWebConfig(path);
    assertEquals(settings.tls?.certSource, tls.certFile);
    assert(settings.tls!.cert.includes("BEGIN CERTIFICATE"));
    assert(settings.tls!.notAfter > Date.now(), "its expiry is read");
    assertEquals(settings.files, [path, tls.certFile, tls.keyFile]);
    assertEquals(settings.users.get("prometheus"), hash);

    await writeWebConfig(path, {
      tls_server_config: { cert_file: "gone.crt", key_file: "server.key" },
    });
    const missing = assertThrows(() => loadWebConfig(path), WebConfigError) as WebConfigError;
    assertEquals(missing.problems, [
      `tls_server_config.cert_file: cannot read ${JSON.stringify(`${dir}/gone.crt`)}: no such file`,
    ]);

    await writeWebConfig(path, {
      tls_server_config: { cert_file: "server.crt", key_file: other.keyFile },
    });
    const mismatch = assertThrows(() => loadWebConfig(path), WebConfigError) as WebConfigError;
    assert(
      mismatch.problems[0]!.startsWith(
        "tls_server_config.cert_file, key_file: not a usable certificate and key:",
      ),
      mismatch.problems[0],
    );

    const inline = `${dir}/inline.yml`;
    await writeWebConfig(inline, {
      tls_server_config: {
        cert: await Deno.readTextFile(tls.certFile),
        key: await Deno.readTextFile(tls.keyFile),
      },
    });
    assertEquals(loadWebConfig(inline).tls?.certSource, "inline");

    const absent = assertThrows(() => loadWebConfig(`${dir}/nope.yml`), WebConfigError);
    assertEquals(
      absent.message,
      `Invalid --web-config-file ${dir}/nope.yml: the file cannot be read: no such file`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
