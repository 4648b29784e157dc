// The DNS rebinding guard: which Host names this exporter.

import { assert, assertEquals } from "../_assert.ts";
import { HostCheck, hostOf, isBrowserRequest } from "../../src/http/host_check.ts";

Deno.test("hostOf() reads the host of a Host header: lower case, no port, no brackets", () => {
  assertEquals(hostOf("Example.COM:8000"), "example.com");
  assertEquals(hostOf("[::1]:8000"), "::1");
  assertEquals(hostOf("10.0.0.5"), "10.0.0.5");
  assertEquals(hostOf("gpu-1.local."), "gpu-1.local");
  assertEquals(hostOf(null), null);
  assertEquals(hostOf("a b"), null);
  assertEquals(hostOf("evil.com@127.0.0.1"), null);
});

Deno.test("isBrowserRequest() tells browsers (Origin, Sec-Fetch-*) from scrapers", () => {
  assert(isBrowserRequest(new Headers({ origin: "http://x" })));
  assert(isBrowserRequest(new Headers({ "sec-fetch-mode": "navigate" })));
  assert(!isBrowserRequest(new Headers({ "user-agent": "Prometheus/2.42.0" })));
});

Deno.test("HostCheck - this machine's names and addresses, localhost, docker and the allowed pass", () => {
  const check = new HostCheck({
    listenHostname: "0.0.0.0",
    allowedHosts: ["exporter.example.com", "[fd00::5]"],
    addresses: () => ["127.0.0.1", "10.1.2.3", "fe80::1%eth0"],
    hostname: () => "gpu-node-7.cluster.local",
  });
  for (
    const host of [
      "localhost:8000",
      "app.localhost",
      "127.0.0.1:8000",
      "127.0.0.2",
      "[::1]:8000",
      "10.1.2.3:8000",
      "[fe80::1]:8000",
      "gpu-node-7.cluster.local",
      "gpu-node-7:8000",
      "host.docker.internal:8000",
      "exporter.example.com",
      "[fd00::5]:8000",
    ]
  ) assert(check.allows(host), host);
  for (const host of ["evil.example", "10.1.2.4", "exporter.example.com.evil.net", null, ""]) {
    assert(!check.allows(host), String(host));
  }
});

Deno.test("HostCheck - a specific listen address passes; * lets every Host through", () => {
  const none = { addresses: () => [], hostname: () => "" };
  assert(new HostCheck({ listenHostname: "192.0.2.9", ...none }).allows("192.0.2.9:8000"));
  const any = new HostCheck({ listenHostname: "0.0.0.0", allowedHosts: ["*"], ...none });
  assert(any.allowsAny && any.allows("anything.example"));
});

Deno.test("HostCheck - the machine's addresses are read again after refreshMs", () => {
  let now = 0;
  let addresses = ["10.0.0.1"];
  const check = new HostCheck({
    listenHostname: "0.0.0.0",
    addresses: () => addresses,
    hostname: () => "",
    refreshMs: 1000,
    now: () => now,
  });
  assert(check.allows("10.0.0.1"));
  addresses = ["10.0.0.2"];
  assert(check.allows("10.0.0.1"), "kept until the refresh");
  now = 1500;
  assert(check.allows("10.0.0.2") && !check.allows("10.0.0.1"));
});
