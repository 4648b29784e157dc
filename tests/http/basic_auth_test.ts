// Basic auth against bcrypt hashes: parsed as RFC 7617 says, a success cached (a scrape costs a
// hash, not a bcrypt run), failures never cached, unknown users checked like known ones.

import { assert, assertEquals } from "../_assert.ts";
import { bcryptHash } from "../_web_security.ts";
import { BasicAuth, parseBasicAuth, timingSafeEqual } from "../../src/http/basic_auth.ts";

const basic = (user: string, password: string) =>
  `Basic ${btoa(String.fromCharCode(...new TextEncoder().encode(`${user}:${password}`)))}`;

Deno.test("parseBasicAuth() reads user and password, the password may hold colons", () => {
  assertEquals(parseBasicAuth(basic("prometheus", "a:b:c")), {
    user: "prometheus",
    password: "a:b:c",
  });
  assertEquals(parseBasicAuth(basic("jörg", "pässwörd")), { user: "jörg", password: "pässwörd" });
  assertEquals(parseBasicAuth(`basic   ${btoa("u:p")}`), { user: "u", password: "p" });
  assertEquals(parseBasicAuth(null), null);
  assertEquals(parseBasicAuth("Bearer abc"), null);
  assertEquals(parseBasicAuth(`Basic ${btoa("no-colon")}`), null);
  assertEquals(parseBasicAuth("Basic !!!"), null);
});

Deno.test("timingSafeEqual() compares whole byte strings", () => {
  const a = new Uint8Array([1, 2, 3]);
  assert(timingSafeEqual(a, new Uint8Array([1, 2, 3])));
  assert(!timingSafeEqual(a, new Uint8Array([1, 2, 4])));
  assert(!timingSafeEqual(a, new Uint8Array([1, 2])));
});

Deno.test("BasicAuth - a successful check is cached; a wrong password is checked every time", async () => {
  const hash = await bcryptHash("right", 4);
  const users = new Map([["prometheus", hash]]);
  const auth = new BasicAuth();
  assertEquals(await auth.check(basic("prometheus", "right"), users), "ok");
  assertEquals(auth.bcryptRuns, 1);
  for (let i = 0; i < 5; i++) {
    assertEquals(await auth.check(basic("prometheus", "right"), users), "ok");
  }
  assertEquals(auth.bcryptRuns, 1, "five more scrapes, no bcrypt run");
  assertEquals(await auth.check(basic("prometheus", "wrong"), users), "denied");
  assertEquals(await auth.check(basic("prometheus", "wrong"), users), "denied");
  assertEquals(auth.bcryptRuns, 3, "failures are not cached");
  assertEquals(await auth.check(null, users), "denied");
  // A new hash (the password changed in the file) misses the cache.
  const changed = new Map([["prometheus", await bcryptHash("new", 4)]]);
  assertEquals(await auth.check(basic("prometheus", "right"), changed), "denied");
  assertEquals(await auth.check(basic("prometheus", "new"), changed), "ok");
});

Deno.test("BasicAuth - an unknown user costs a bcrypt run of the same cost and is denied", async () => {
  const hashes: string[] = [];
  const auth = new BasicAuth({
    compare: (_password, hash) => {
      hashes.push(hash);
      return Promise.resolve(true);
    },
    hash: (_password, cost) => Promise.resolve(`$2y$${cost}$${"x".repeat(53)}`),
  });
  const users = new Map([["prometheus", `$2y$12$${"a".repeat(53)}`]]);
  assertEquals(await auth.check(basic("mallory", "anything"), users), "denied");
  assertEquals(hashes, [`$2y$12$${"x".repeat(53)}`], "checked against a stand-in of cost 12");
  assertEquals(auth.cached, 0);
});

Deno.test("BasicAuth - checks run one at a time; past maxWaiting the answer is busy", async () => {
  let running = 0;
  let most = 0;
  const auth = new BasicAuth({
    maxWaiting: 3,
    compare: async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((r) => setTimeout(r, 20));
      running--;
      return false;
    },
  });
  const users = new Map([["u", `$2y$04$${"a".repeat(53)}`]]);
  const outcomes = await Promise.all(
    Array.from({ length: 6 }, (_, i) => auth.check(basic("u", `p${i}`), users)),
  );
  assertEquals(most, 1, "one bcrypt at a time");
  assertEquals(outcomes.filter((o) => o === "busy").length, 3);
  assertEquals(outcomes.filter((o) => o === "denied").length, 3);
});

Deno.test("BasicAuth - the cache keeps at most cacheSize successes, the oldest leaving first", async () => {
  const auth = new BasicAuth({ cacheSize: 2, compare: () => Promise.resolve(true) });
  const users = new Map([["u", `$2y$04$${"a".repeat(53)}`]]);
  for (const p of ["a", "b", "c"]) await auth.check(basic("u", p), users);
  assertEquals([auth.cached, auth.bcryptRuns], [2, 3]);
  await auth.check(basic("u", "c"), users);
  assertEquals(auth.bcryptRuns, 3, "c is cached");
  await auth.check(basic("u", "a"), users);
  assertEquals(auth.bcryptRuns, 4, "a left the cache");
});
