// The exporter with --mqtt-url against a real mosquitto: every topic, poses equal to the JSONL
// lines, a broker outage mid-run, a password-protected broker, no broker at all, bad URLs.

import { assert, assertEquals } from "../_assert.ts";
import {
  forceStop,
  freePort,
  jsonLogs,
  pollUntil,
  runExporter,
  sampleValue,
  startExporter,
} from "../_helpers.ts";
import { MqttBroker, Subscriber } from "../_mqtt_broker.ts";
import { makeTlsFiles } from "../_web_security.ts";

const BASE = ["--streams", "2", "--status", "off", "--log-format", "json"];

/** The sum of every sample of `name` whose labels include `labels`. */
function sum(text: string, name: string, labels: Record<string, string> = {}): number {
  let total = 0;
  for (const line of text.split("\n")) {
    if (!line.startsWith(name + "{") && !line.startsWith(name + " ")) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    total += Number(line.slice(line.lastIndexOf(" ") + 1));
  }
  return total;
}

// deno-lint-ignore no-explicit-any -- log records are free-form objects read by key
function logLine(stderr: string, msg: string): any {
  const line = jsonLogs(stderr).find((l) => l.msg === msg);
  assert(line !== undefined, `no log line "${msg}" in:\n${stderr.slice(-3000)}`);
  return line;
}

Deno.test("exporter --mqtt-poses: every topic, and the poses messages equal the JSONL lines", async () => {
  const broker = await MqttBroker.start();
  const sub = await Subscriber.start(broker.url, "pose-exporter/#");
  const results = await Deno.makeTempFile({ prefix: "h26_results_", suffix: ".jsonl" });
  try {
    // s0 is the walking scene: its people stay in view for seconds (tracks with updates),
    // also on a loaded host where frames are dropped; s1 is the plain synthetic stream.
    const out = await runExporter([
      "--source",
      "s0=synthetic@15?scene=walk",
      "--source",
      "s1=synthetic",
      "--status",
      "off",
      "--log-format",
      "json",
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--duration",
      "4",
      "--results",
      results,
      "--mqtt-url",
      broker.url,
      "--mqtt-poses",
      "--mqtt-qos",
      "1",
    ]);
    assertEquals(out.code, 0, out.stderr.slice(-3000));
    const lines = (await Deno.readTextFile(results)).split("\n").filter((l) => l !== "");
    await sub.until(
      () => sub.on(/\/poses$/).length >= lines.length,
      10_000,
      "every poses message",
    );
    const poses = sub.on(/\/poses$/).map((m) => m.payload);
    assert(lines.length > 20, `only ${lines.length} frames`);
    assertEquals([...poses].sort(), [...lines].sort(), "poses messages = JSONL lines");
    assertEquals(sub.on(/available$/).map((m) => m.payload), ["online", "offline"]);
    for (const id of ["s0", "s1"]) {
      const state = JSON.parse(sub.on(new RegExp(`/${id}/state$`))[0]!.payload);
      assertEquals([state.stream_id, state.state, state.decoder], [id, "up", "cpu"]);
      assert(typeof state.fps === "number" && typeof state.active_tracks === "number");
      // At the clean stop each stream's last state says so, and stays retained.
      const last = JSON.parse(sub.on(new RegExp(`/${id}/state$`)).at(-1)!.payload);
      assertEquals(
        [last.state, last.status, last.active_tracks, last.fps, last.persons],
        ["down", "stopped", 0, 0, 0],
      );
    }
    const kinds = new Set(sub.on(/\/tracks$/).map((m) => JSON.parse(m.payload).type));
    assert(kinds.has("new") && kinds.has("update") && kinds.has("end"), [...kinds].join(","));
    const stopped = logLine(out.stderr, "MQTT publisher stopped");
    assertEquals([stopped.dropped, stopped.failed], [0, 0]);
    assertEquals(stopped.produced, stopped.sent);
    assertEquals(stopped.poses_sent, lines.length);
  } finally {
    await sub.stop();
    await broker.stop();
    await Deno.remove(results).catch(() => {});
  }
});

Deno.test("exporter --mqtt-url: a broker killed for 5 s mid-run loses no frame and no message silently", async () => {
  const broker = await MqttBroker.start();
  const sub = await Subscriber.start(broker.url, "pose-exporter/+/poses");
  const port = freePort();
  const metrics = `http://127.0.0.1:${port}/metrics`;
  // No --duration: the reconnect after the restart can take up to one backoff step (4-8 s
  // after three failures), so the run is stopped by SIGTERM once it is seen, not raced by a clock.
  const exporter = startExporter([
    ...BASE,
    "--listen",
    `127.0.0.1:${port}`,
    "--mqtt-url",
    broker.url,
    "--mqtt-poses",
  ]);
  try {
    // Up and publishing for a few seconds (the fps window is 5 s).
    let text = await pollUntil(metrics, (t) => sum(t, "pose_frames_total") > 0, 60_000);
    await new Promise((r) => setTimeout(r, 4000));
    text = await (await fetch(metrics)).text();
    const before = { fps: sum(text, "pose_fps"), frames: sum(text, "pose_frames_total") };
    assertEquals(sampleValue(text, "pose_mqtt_connected"), 1);
    await broker.kill();
    await new Promise((r) => setTimeout(r, 4500));
    text = await (await fetch(metrics)).text();
    const during = { fps: sum(text, "pose_fps"), frames: sum(text, "pose_frames_total") };
    assertEquals(sampleValue(text, "pose_mqtt_connected"), 0);
    await new Promise((r) => setTimeout(r, 500));
    await broker.restart();
    const reconnectedAt = performance.now();
    text = await pollUntil(metrics, (t) => sampleValue(t, "pose_mqtt_connected") === 1, 40_000);
    const reconnectS = (performance.now() - reconnectedAt) / 1000;
    // A second of publishing after the reconnect, then a clean stop.
    await new Promise((r) => setTimeout(r, 1000));
    exporter.child.kill("SIGTERM");
    const out = await exporter.done;
    assertEquals(out.code, 0, out.stderr.slice(-3000));
    const stopped = logLine(out.stderr, "MQTT publisher stopped");
    const frames = logLine(out.stderr, "stopped").frames;
    const poses = new Set(
      sub.on(/\/poses$/).map((m) => {
        const r = JSON.parse(m.payload);
        return `${r.stream_id}:${r.frame}`;
      }),
    );
    console.log(
      `outage figures: fps before ${before.fps.toFixed(1)}, during ${during.fps.toFixed(1)}; ` +
        `frames ${before.frames} -> ${during.frames} during the outage; reconnected ` +
        `${reconnectS.toFixed(1)} s after the restart; produced ${stopped.produced}, sent ` +
        `${stopped.sent}, dropped ${stopped.dropped}, failed ${stopped.failed}; frames ${frames}, ` +
        `poses received (distinct) ${poses.size}`,
    );
    assert(during.frames > before.frames, "the frames counter rose through the outage");
    assert(during.fps >= 0.7 * before.fps, `fps kept: ${before.fps} -> ${during.fps}`);
    assert(logLine(out.stderr, "reconnected to the MQTT broker"));
    assert(
      logLine(out.stderr, "lost the connection to the MQTT broker: reconnecting with backoff"),
    );
    // Every frame's poses message was produced and ended counted.
    assertEquals(stopped.produced, stopped.sent + stopped.dropped + stopped.failed);
    assertEquals(stopped.poses_sent !== undefined, true);
    // The subscriber got what the broker took, but for those the broker held when it was
    // killed (acknowledged to the exporter, not yet forwarded): a handful at most.
    assert(poses.size <= frames, `${poses.size} distinct poses for ${frames} frames`);
    assert(
      poses.size >= stopped.poses_sent - 50,
      `${poses.size} received, ${stopped.poses_sent} sent`,
    );
  } finally {
    await forceStop(exporter);
    await sub.stop();
    await broker.stop();
  }
});

Deno.test("exporter --mqtt-url: a password-protected broker takes the right login and refuses a wrong one in one line", async () => {
  const broker = await MqttBroker.start({ users: { cam: "right horse" } });
  const dir = await Deno.makeTempDir({ prefix: "h26_pw_" });
  try {
    await Deno.writeTextFile(`${dir}/right`, "right horse\n");
    await Deno.writeTextFile(`${dir}/wrong`, "wrong battery\n");
    const url = broker.url.replace("://", "://cam@");
    const sub = await Subscriber.start(broker.url, "pose-exporter/#", {
      username: "cam",
      password: "right horse",
    });
    const good = await runExporter([
      ...BASE,
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--duration",
      "2",
      "--mqtt-url",
      url,
      "--mqtt-password-file",
      `${dir}/right`,
    ]);
    assertEquals(good.code, 0, good.stderr.slice(-2000));
    await sub.until(() => sub.on(/\/s0\/state$/).length > 0, 5000, "the state");
    await sub.stop();
    assert(!good.stderr.includes("right horse"));

    // The password in the URL instead: never in the log, the metrics or the pages.
    const port = freePort();
    const inUrl = startExporter([
      ...BASE,
      "--listen",
      `127.0.0.1:${port}`,
      "--duration",
      "3",
      "--mqtt-url",
      broker.url.replace("://", "://cam:right%20horse@"),
    ]);
    try {
      const metrics = await pollUntil(
        `http://127.0.0.1:${port}/metrics`,
        (t) => sampleValue(t, "pose_mqtt_connected") === 1,
        60_000,
      );
      const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
      const out = await inUrl.done;
      assertEquals(out.code, 0, out.stderr.slice(-2000));
      assertEquals(
        logLine(out.stderr, "connected to the MQTT broker").broker,
        `mqtt://cam@127.0.0.1:${broker.port}`,
      );
      for (const text of [metrics, page, out.stderr]) {
        assert(!text.includes("horse"), text.slice(0, 2000));
      }
    } finally {
      await forceStop(inUrl);
    }

    const bad = await runExporter([
      "--streams",
      "1",
      "--status",
      "off",
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--mqtt-url",
      url,
      "--mqtt-password-file",
      `${dir}/wrong`,
    ]);
    assertEquals(bad.code, 1, bad.stderr);
    const errors = bad.stderr.split("\n").filter((l) => l.includes("ERROR"));
    assertEquals(errors.length, 1, bad.stderr);
    assert(
      errors[0]!.includes(`MQTT broker mqtt://cam@127.0.0.1:${broker.port} refused`),
      errors[0],
    );
    assert(!bad.stderr.includes("wrong battery"), bad.stderr);

    const missing = await runExporter([
      "--streams",
      "1",
      "--mqtt-url",
      url,
      "--mqtt-password-file",
      `${dir}/nope`,
    ]);
    assertEquals(missing.code, 2, missing.stderr);
    assert(missing.stderr.includes(`${dir}/nope`) && missing.stderr.includes("no such file"));
  } finally {
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exporter --mqtt-url mqtt://127.0.0.1:1: runs, says so, drops no frame, bounds its queue", async () => {
  const port = freePort();
  const results = await Deno.makeTempFile({ prefix: "h26_results_", suffix: ".jsonl" });
  const exporter = startExporter([
    // 10 fps each: a host shared with other tests keeps up, so a drop would be the broker's.
    "--source",
    "synthetic@10",
    "--source",
    "synthetic@10",
    "--status",
    "off",
    "--log-format",
    "json",
    "--listen",
    `127.0.0.1:${port}`,
    "--duration",
    "5",
    "--results",
    results,
    "--mqtt-url",
    "mqtt://127.0.0.1:1",
    "--mqtt-poses",
    // A small bound, so that the oldest messages are dropped (and counted) within the run.
    "--mqtt-queue-mib",
    "0.02",
  ]);
  try {
    const text = await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) => sum(t, "pose_frames_total") > 30,
      60_000,
    );
    assertEquals(
      sum(text, "pose_frames_dropped_total"),
      0,
      text.split("\n").filter((l) => l.startsWith("pose_frames_dropped_total")).join("\n"),
    );
    assertEquals(sampleValue(text, "pose_mqtt_connected"), 0);
    assert(sum(text, "pose_mqtt_connect_failures_total", { reason: "unreachable" }) >= 1);
    const out = await exporter.done;
    assertEquals(out.code, 0, out.stderr.slice(-2000));
    logLine(
      out.stderr,
      "MQTT broker not reachable at start: the exporter runs without it and keeps trying",
    );
    // Said once: the retries of the same reason within the 5 s run add no line of their own.
    const retries = jsonLogs(out.stderr).filter((l) =>
      l.msg === "cannot connect to the MQTT broker: retrying with backoff"
    );
    assertEquals(retries, []);
    const lines = (await Deno.readTextFile(results)).split("\n").filter((l) => l !== "");
    const stopped = logLine(out.stderr, "MQTT publisher stopped");
    assertEquals(logLine(out.stderr, "stopped").frames, lines.length);
    assertEquals(stopped.produced, stopped.dropped + stopped.failed);
    assertEquals(stopped.sent, 0);
    assert(stopped.dropped > 0, "the bound was reached and the oldest were dropped");
    assert(stopped.produced >= lines.length, "a poses message per frame at least");
    logLine(out.stderr, "MQTT messages lost");
  } finally {
    await forceStop(exporter);
    await Deno.remove(results).catch(() => {});
  }
});

Deno.test("exporter --mqtt-url: a bad URL or an unknown scheme exits 2 naming it, never its password", async () => {
  for (
    const [url, words] of [
      ["amqp://u:hunter2@127.0.0.1:5672", ["amqp"]],
      ["mqtt://", ['"mqtt://"']],
      ["mqtt://127.0.0.1/topic", ["path"]],
    ] as const
  ) {
    const out = await runExporter(["--streams", "1", "--mqtt-url", url]);
    assertEquals(out.code, 2, `${url}: ${out.stderr}`);
    for (const word of words) assert(out.stderr.includes(word), `${url}: ${out.stderr}`);
    assert(out.stderr.includes("--mqtt-url"), out.stderr);
    assert(!out.stderr.includes("hunter2"), out.stderr);
  }
});

Deno.test("exporter --mqtt-url: a reload clears a removed stream's retained state and reopens nothing", async () => {
  const broker = await MqttBroker.start();
  const sub = await Subscriber.start(broker.url, "pose-exporter/#");
  const dir = await Deno.makeTempDir({ prefix: "h26_reload_" });
  const sources = `${dir}/sources.txt`;
  await Deno.writeTextFile(sources, "cam1=synthetic\ncam2=synthetic\n");
  const exporter = startExporter([
    "--sources-file",
    sources,
    "--status",
    "off",
    "--log-format",
    "json",
    "--listen",
    `127.0.0.1:${freePort()}`,
    "--mqtt-url",
    broker.url,
  ]);
  try {
    await sub.until(() => sub.on(/\/cam2\/state$/).length > 0, 60_000, "cam2's state");
    await Deno.writeTextFile(sources, "cam1=synthetic\n");
    exporter.child.kill("SIGHUP");
    await sub.until(
      () => sub.on(/\/cam2\/state$/).some((m) => m.payload === ""),
      15_000,
      "cam2's retained state cleared",
    );
    const late = await Subscriber.start(broker.url, "pose-exporter/#");
    await late.until(() => late.on(/\/cam1\/state$/).length > 0, 5000, "cam1's retained state");
    assertEquals(late.on(/\/cam2\/state$/).length, 0);
    await late.stop();
    exporter.child.kill("SIGTERM");
    const out = await exporter.done;
    assertEquals(out.code, 0, out.stderr.slice(-2000));
    const logs = jsonLogs(out.stderr);
    assertEquals(
      logs.filter((l) => String(l.msg).includes("connected to the MQTT broker")).length,
      1,
    );
    assertEquals(sub.on(/available$/).map((m) => m.payload), ["online", "offline"]);
  } finally {
    await forceStop(exporter);
    await sub.stop();
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exporter --mqtt-url mqtts://: trusts --mqtt-ca-file, refuses an unknown CA, and its last will says offline", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h26_mqtts_" });
  const tls = await makeTlsFiles(dir);
  const broker = await MqttBroker.start({ tls });
  const ca = await Deno.readTextFile(tls.caFile);
  const sub = await Subscriber.start(broker.url, "pose-exporter/available", { ca });
  const exporter = startExporter([
    ...BASE,
    "--listen",
    `127.0.0.1:${freePort()}`,
    "--mqtt-url",
    broker.url,
    "--mqtt-ca-file",
    tls.caFile,
  ]);
  try {
    await sub.until(
      () => sub.on(/available$/).some((m) => m.payload === "online"),
      60_000,
      "online",
    );
    // Killed: no clean stop; the broker publishes the retained last will.
    exporter.child.kill("SIGKILL");
    await exporter.done;
    await sub.until(() => sub.on(/available$/).at(-1)?.payload === "offline", 60_000, "the will");
    const late = await Subscriber.start(broker.url, "pose-exporter/available", { ca });
    await late.until(() => late.messages.length > 0, 5000, "the retained will");
    assertEquals(late.messages.map((m) => [m.payload, m.retain]), [["offline", true]]);
    await late.stop();

    const untrusted = await runExporter([
      "--streams",
      "1",
      "--status",
      "off",
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--mqtt-url",
      broker.url,
    ]);
    assertEquals(untrusted.code, 1, untrusted.stderr);
    assert(
      untrusted.stderr.includes(`${broker.url}: its TLS certificate is not trusted`),
      untrusted.stderr,
    );
  } finally {
    await forceStop(exporter);
    await sub.stop();
    await broker.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("exporter --mqtt-url: a password with / or @, a bad % escape or no user exits 2 naming --mqtt-url, flag or env, never the password", async () => {
  for (
    const [url, word] of [
      ["mqtt://cam:top/secret@h/x", "mqtt://cam:***@h/x"],
      ["mqtt://cam:top@secret@h:0", "mqtt://cam:***@h:0"],
      ["mqtt://cam:s3cret%zz@h", "percent-encoding"],
      ["mqtt://:s3cretPW@127.0.0.1:1", "no user"],
    ] as const
  ) {
    const byFlag = await runExporter(["--streams", "1", "--duration", "2", "--mqtt-url", url]);
    const byEnv = await runExporter(["--streams", "1", "--duration", "2"], {
      POSE_EXPORTER_MQTT_URL: url,
    });
    for (
      const [out, origin] of [[byFlag, "--mqtt-url"], [byEnv, "POSE_EXPORTER_MQTT_URL"]] as const
    ) {
      assertEquals(out.code, 2, `${url}: ${out.stderr}`);
      assert(out.stderr.includes(`Invalid ${origin}`), `${url}: ${out.stderr}`);
      assert(out.stderr.includes(word), `${url}: ${out.stderr}`);
      assert(!/secret|s3cret/.test(out.stderr + out.stdout), out.stderr);
    }
  }
});
