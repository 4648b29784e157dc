// `pose-exporter doctor --mqtt URL` against a real mosquitto: reachable, login accepted, publish
// and receive on the prefix; a wrong password, a dead port and an untrusted certificate each
// fail in one line naming the broker, never showing the password.

import { assert, assertEquals } from "../_assert.ts";
import { freePort, ROOT } from "../_helpers.ts";
import { MqttBroker } from "../_mqtt_broker.ts";
import { makeTlsFiles } from "../_web_security.ts";
import type { CheckResult } from "../../src/doctor/check_result.ts";

/** The permissions of `deno task doctor`, plus cat to read /proc/net/tcp. */
const DOCTOR_PERMISSIONS = ["--allow-net", "--allow-env", "--allow-read", "--allow-run=cat"];

interface DoctorRun {
  code: number;
  stdout: string;
  stderr: string;
  /** The `mqtt ...` checks, in order (from a second run with --json). */
  mqtt: CheckResult[];
  /** The text report's lines about MQTT. */
  lines: string[];
}

async function doctor(args: string[]): Promise<Omit<DoctorRun, "mqtt" | "lines">> {
  // Nothing listens on the exporter's and Prometheus's ports: those checks fail fast; only the
  // MQTT checks are looked at here (tests/doctor_test.ts walks the rest).
  const dead = `http://127.0.0.1:${freePort()}`;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...DOCTOR_PERMISSIONS,
      "main.ts",
      "doctor",
      "--exporter",
      dead,
      "--prometheus",
      dead,
      "--timeout-ms",
      "3000",
      ...args,
    ],
    cwd: ROOT.pathname,
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1", GRAFANA_TOKEN: "", GRAFANA_ADMIN_USER: "", GRAFANA_ADMIN_PASSWORD: "" },
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Runs doctor in text and in JSON; returns the text run with the JSON run's MQTT checks. */
async function doctorMqtt(args: string[]): Promise<DoctorRun> {
  const text = await doctor(args);
  const json = await doctor([...args, "--json"]);
  const checks = (JSON.parse(json.stdout).checks as CheckResult[])
    .filter((c) => c.check.startsWith("mqtt "));
  const lines = text.stdout.split("\n").filter((l) => / mqtt /.test(l));
  return { ...text, mqtt: checks, lines };
}

Deno.test("doctor --mqtt: a password-protected broker: the right login passes every check, a wrong one fails in one line", async () => {
  const broker = await MqttBroker.start({ users: { cam: "right horse" } });
  const dir = await Deno.makeTempDir({ prefix: "h26_doctor_" });
  try {
    await Deno.writeTextFile(`${dir}/right`, "right horse\n");
    const url = `mqtt://cam@127.0.0.1:${broker.port}`;
    const good = await doctorMqtt(["--mqtt", url, "--mqtt-password-file", `${dir}/right`]);
    assertEquals(
      good.mqtt.map((c) => [c.check, c.status]),
      [
        [`mqtt broker ${url}`, "ok"],
        ["mqtt login", "ok"],
        ["mqtt publish and receive on pose-exporter/", "ok"],
      ],
      good.stdout,
    );
    assert(good.mqtt[1]!.seen.includes('user "cam" accepted'), good.mqtt[1]!.seen);
    assert(/^pose-exporter\/doctor\/\S+: came back in \d+ ms$/.test(good.mqtt[2]!.seen));
    assertEquals(good.lines.length, 3, good.stdout);

    // Another prefix: the message goes under it.
    const prefixed = await doctorMqtt([
      "--mqtt",
      url,
      "--mqtt-password-file",
      `${dir}/right`,
      "--mqtt-topic-prefix",
      "site/a",
    ]);
    assertEquals(prefixed.mqtt[2]!.check, "mqtt publish and receive on site/a/");
    assert(prefixed.mqtt[2]!.seen.startsWith("site/a/doctor/"), prefixed.mqtt[2]!.seen);
    assertEquals(prefixed.mqtt[2]!.status, "ok");

    // A wrong password, in the URL: refused, named, never shown.
    const wrong = await doctorMqtt([
      "--mqtt",
      `mqtt://cam:wrong%20battery@127.0.0.1:${broker.port}`,
    ]);
    assertEquals(wrong.code, 1);
    assertEquals(wrong.mqtt.map((c) => c.status), ["ok", "fail", "skip"], wrong.stdout);
    assertEquals(wrong.mqtt[0]!.check, `mqtt broker ${url}`);
    const failed = wrong.lines.filter((l) => l.startsWith("FAIL"));
    assertEquals(failed.length, 1, wrong.stdout);
    assert(failed[0]!.startsWith('FAIL mqtt login: user "cam" refused: '), failed[0]);
    assert(/not authori[sz]ed/i.test(failed[0]!), failed[0]);
    for (const secret of ["wrong battery", "wrong%20battery", "right horse"]) {
      assert(!wrong.stdout.includes(secret) && !wrong.stderr.includes(secret), wrong.stdout);
      assert(!good.stdout.includes(secret) && !good.stderr.includes(secret), good.stdout);
    }

    // No login at all, on a broker without anonymous access.
    const anonymous = await doctorMqtt(["--mqtt", broker.url]);
    assertEquals(anonymous.mqtt.map((c) => c.status), ["ok", "fail", "skip"], anonymous.stdout);
    assert(anonymous.mqtt[1]!.seen.startsWith("anonymous refused: "), anonymous.mqtt[1]!.seen);
  } finally {
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor --mqtt: a dead port fails in one line naming the broker; a bad URL exits 2", async () => {
  const port = freePort();
  const dead = await doctorMqtt(["--mqtt", `mqtt://cam:hunter2@127.0.0.1:${port}`]);
  assertEquals(dead.code, 1);
  assertEquals(dead.mqtt.map((c) => c.status), ["fail", "skip", "skip"], dead.stdout);
  const failed = dead.lines.filter((l) => l.startsWith("FAIL"));
  assertEquals(failed.length, 1, dead.stdout);
  assertEquals(
    failed[0],
    `FAIL mqtt broker mqtt://cam@127.0.0.1:${port}: cannot be reached: connection refused ` +
      "(nothing listens)",
  );
  assert(!dead.stdout.includes("hunter2") && !dead.stderr.includes("hunter2"));

  const noUser = await doctor([
    "--mqtt",
    `mqtt://127.0.0.1:${port}`,
    "--mqtt-password-file",
    "/nonexistent",
  ]);
  assertEquals(noUser.code, 2, noUser.stderr);
  assert(noUser.stderr.includes("--mqtt-password-file needs a user in --mqtt"), noUser.stderr);

  for (const url of ["amqp://u:hunter2@127.0.0.1:5672", "mqtt://127.0.0.1/topic"]) {
    const bad = await doctor(["--mqtt", url]);
    assertEquals(bad.code, 2, `${url}: ${bad.stderr}`);
    assert(bad.stderr.includes("Invalid --mqtt: "), bad.stderr);
    assert(!bad.stderr.includes("hunter2") && !bad.stdout.includes("hunter2"), bad.stderr);
  }
});

Deno.test("doctor --mqtt mqtts://: trusts --mqtt-ca-file, and says to give it when the certificate is unknown", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h26_doctor_tls_" });
  const tls = await makeTlsFiles(dir);
  const broker = await MqttBroker.start({ tls });
  try {
    const trusted = await doctorMqtt(["--mqtt", broker.url, "--mqtt-ca-file", tls.caFile]);
    assertEquals(trusted.mqtt.map((c) => c.status), ["ok", "ok", "ok"], trusted.stdout);
    const untrusted = await doctorMqtt(["--mqtt", broker.url]);
    assertEquals(untrusted.mqtt.map((c) => c.status), ["ok", "fail", "skip"], untrusted.stdout);
    assert(untrusted.mqtt[1]!.fix!.includes("--mqtt-ca-file"), untrusted.mqtt[1]!.fix);
    // A TLS failure, worded so: no login took place.
    assertEquals(untrusted.mqtt[1]!.check, "mqtt tls");
    assert(untrusted.mqtt[1]!.seen.includes("no login took place"), untrusted.mqtt[1]!.seen);
    assert(!untrusted.lines.some((l) => l.includes("refused")), untrusted.stdout);
  } finally {
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("doctor --mqtt: a password with / or @, a bad % escape, a password without a user or a wildcard prefix exit 2, the password never shown", async () => {
  const port = freePort();
  for (
    const [url, words] of [
      [`mqtt://cam:top/secret@127.0.0.1:${port}/x`, ["mqtt://cam:***@127.0.0.1"]],
      [`mqtt://cam:top@secret@127.0.0.1:0`, ["port 0"]],
      [`mqtt://cam:secret%zz@127.0.0.1:${port}`, ["percent-encoding"]],
      [`mqtt://:secretPW@127.0.0.1:${port}`, ["no user"]],
    ] as const
  ) {
    const bad = await doctor(["--mqtt", url]);
    assertEquals(bad.code, 2, `${url}: ${bad.stderr}`);
    assert(bad.stderr.includes("Invalid --mqtt: "), bad.stderr);
    for (const word of words) assert(bad.stderr.includes(word), `${url}: ${bad.stderr}`);
    assert(!`${bad.stderr}${bad.stdout}`.includes("secret"), bad.stderr);
    assert(!bad.stderr.includes("Uncaught") && !bad.stderr.includes("never resolved"));
  }
  const prefix = await doctor([
    "--mqtt",
    `mqtt://127.0.0.1:${port}`,
    "--mqtt-topic-prefix",
    "a/#",
  ]);
  assertEquals(prefix.code, 2, prefix.stderr + prefix.stdout);
  assert(prefix.stderr.includes('Invalid --mqtt-topic-prefix: "a/#" is not a topic prefix'));
});

Deno.test("doctor --mqtt mqtts:// to a plain port: a TLS failure, not a refused login", async () => {
  const broker = await MqttBroker.start();
  try {
    const url = broker.url.replace(/^mqtt:/, "mqtts:");
    const plain = await doctorMqtt(["--mqtt", url]);
    assertEquals(plain.mqtt.map((c) => c.status), ["ok", "fail", "skip"], plain.stdout);
    assertEquals(plain.mqtt[1]!.check, "mqtt tls", plain.stdout);
    assert(plain.mqtt[1]!.seen.includes("no login took place"), plain.mqtt[1]!.seen);
    assert(plain.mqtt[1]!.fix!.includes("mqtt://"), plain.mqtt[1]!.fix);
  } finally {
    await broker.stop();
  }
});
