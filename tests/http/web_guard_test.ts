// The guard in front of every endpoint, driven with plain Requests: login, Host check, rate
// limit, extra headers, and a configuration that changes between requests.

import { assert, assertEquals } from "../_assert.ts";
import { BasicAuth } from "../../src/http/basic_auth.ts";
import { HostCheck } from "../../src/http/host_check.ts";
import { OPEN_WEB_SETTINGS, type WebSettings } from "../../src/http/web_config.ts";
import { guardHandler } from "../../src/http/web_guard.ts";
import type { HttpRejectReason } from "../../src/metrics/definitions.ts";

const HASH = `$2y$04$${"a".repeat(53)}`;
const basic = (user: string, password: string) => `Basic ${btoa(`${user}:${password}`)}`;

function setup(settings: Partial<WebSettings>, now = () => 0) {
  let current: WebSettings = { ...OPEN_WEB_SETTINGS, ...settings };
  const rejected: HttpRejectReason[] = [];
  const seen: string[] = [];
  const handler = guardHandler((req) => {
    seen.push(new URL(req.url).pathname);
    return Promise.resolve(new Response("inner\n"));
  }, {
    settings: () => current,
    hosts: new HostCheck({
      listenHostname: "0.0.0.0",
      addresses: () => [],
      hostname: () => "node1",
    }),
    auth: new BasicAuth({ compare: (password) => Promise.resolve(password === "right") }),
    onReject: (r) => rejected.push(r),
    now,
  });
  return {
    handler,
    rejected,
    seen,
    set: (next: Partial<WebSettings>) => (current = { ...OPEN_WEB_SETTINGS, ...next }),
  };
}

const get = (path: string, headers: Record<string, string> = {}) =>
  new Request(`http://localhost:8000${path}`, { headers: { host: "localhost:8000", ...headers } });

Deno.test("guardHandler() without users lets every request through, with the extra headers", async () => {
  const { handler, seen } = setup({ headers: { "X-Frame-Options": "deny" } });
  const res = await handler(get("/metrics"));
  assertEquals([res.status, await res.text()], [200, "inner\n"]);
  assertEquals(res.headers.get("x-frame-options"), "deny");
  assertEquals(seen, ["/metrics"]);
});

Deno.test("guardHandler() asks for a login on every endpoint: 401 with WWW-Authenticate, then 200", async () => {
  const users = new Map([["prometheus", HASH]]);
  const { handler, rejected, seen } = setup({
    users,
    headers: { "Strict-Transport-Security": "max-age=60" },
  });
  for (
    const path of [
      "/metrics",
      "/",
      "/live/state",
      "/live/snapshot",
      "/-/reload",
      "/readyz",
      "/healthz",
    ]
  ) {
    const none = await handler(get(path));
    assertEquals(none.status, 401, path);
    assertEquals(
      none.headers.get("www-authenticate"),
      'Basic realm="pose-exporter", charset="UTF-8"',
    );
    assertEquals(none.headers.get("strict-transport-security"), "max-age=60", "on refusals too");
    const wrong = await handler(get(path, { authorization: basic("prometheus", "nope") }));
    assertEquals(wrong.status, 401, path);
    const right = await handler(get(path, { authorization: basic("prometheus", "right") }));
    assertEquals(right.status, 200, path);
  }
  assertEquals(seen.length, 7, "only the logged-in requests reached the endpoints");
  assertEquals(rejected.filter((r) => r === "unauthorized").length, 14);
});

Deno.test("guardHandler() leaves basic_auth_excluded_paths open, exactly", async () => {
  const { handler } = setup({
    users: new Map([["u", HASH]]),
    excludedPaths: new Set(["/healthz"]),
  });
  assertEquals((await handler(get("/healthz"))).status, 200);
  assertEquals((await handler(get("/healthz/"))).status, 401);
  assertEquals((await handler(get("/metrics"))).status, 401);
});

Deno.test("guardHandler() refuses a browser whose Host or Origin names another site (DNS rebinding)", async () => {
  const { handler, rejected, seen } = setup({});
  const rebound = await handler(
    get("/metrics", { host: "evil.example:8000", "sec-fetch-mode": "cors" }),
  );
  assertEquals(rebound.status, 403);
  assert((await rebound.text()).includes("--web-allowed-hosts"));
  // The live view is checked whoever asks.
  assertEquals((await handler(get("/live/state", { host: "evil.example" }))).status, 403);
  assertEquals((await handler(get("/", { host: "evil.example" }))).status, 403);
  // A cross-site page posting to the real address: its Origin gives it away.
  const csrf = await handler(
    new Request("http://localhost:8000/-/reload", {
      method: "POST",
      headers: { host: "localhost:8000", origin: "http://evil.example" },
    }),
  );
  assertEquals(csrf.status, 403);
  assertEquals(rejected, [
    "host_not_allowed",
    "host_not_allowed",
    "host_not_allowed",
    "host_not_allowed",
  ]);
  // Prometheus scraping by pod IP or Docker name, and the page itself, pass.
  assertEquals((await handler(get("/metrics", { host: "10.42.0.17:8000" }))).status, 200);
  assertEquals(
    (await handler(get("/", { host: "node1:8000", "sec-fetch-site": "same-origin" }))).status,
    200,
  );
  assertEquals(
    (await handler(get("/live/state", { host: "localhost:8000", origin: "http://localhost:8000" })))
      .status,
    200,
  );
  assertEquals(seen, ["/metrics", "/", "/live/state"]);
});

Deno.test("guardHandler() applies rate_limit as a token bucket: burst, then one per interval", async () => {
  let now = 0;
  const { handler, rejected } = setup({ rateLimit: { intervalMs: 100, burst: 2 } }, () => now);
  const statuses = async () => (await handler(get("/metrics"))).status;
  assertEquals([await statuses(), await statuses(), await statuses()], [200, 200, 429]);
  now = 100;
  assertEquals([await statuses(), await statuses()], [200, 429]);
  assertEquals(rejected, ["rate_limited", "rate_limited"]);
});

Deno.test("guardHandler() takes a changed configuration at the next request", async () => {
  const g = setup({});
  assertEquals((await g.handler(get("/metrics"))).status, 200);
  g.set({ users: new Map([["u", HASH]]) });
  assertEquals((await g.handler(get("/metrics"))).status, 401);
  g.set({});
  assertEquals((await g.handler(get("/metrics"))).status, 200);
});
