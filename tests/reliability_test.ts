// Faults a hostile user can cause, with real processes: the results file fails or is rotated,
// signals arrive at awkward moments, stdout stops being read, flags are typos.

import { assert, assertEquals } from "./_assert.ts";
import {
  fixturePath,
  forceStop,
  freePort,
  jsonLogs,
  pollUntil,
  ROOT,
  sampleValue,
  shellOutput,
  startExporter,
} from "./_helpers.ts";
import { processesMentioning, waitFor } from "./_media.ts";
import { FakeGpuState, h200 } from "./fakes/fake_gpu.ts";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";

const FAKE_NVIDIA_SMI = fixturePath("fake_nvidia_smi");

function baseArgs(port: number, extra: string[] = []): string[] {
  return [
    "--listen",
    `127.0.0.1:${port}`,
    "--log-format",
    "json",
    "--nvidia-smi",
    "/nonexistent/nvidia-smi",
    "--status-interval-s",
    "3600",
    ...extra,
  ];
}

/** The last JSON log line of a run. */
// deno-lint-ignore no-explicit-any -- log records are free-form objects read by key
function lastLog(stderr: string): any {
  return jsonLogs(stderr).at(-1);
}

async function readLines(path: string): Promise<string[]> {
  const text = await Deno.readTextFile(path);
  return text.split("\n").filter((l) => l !== "");
}

/** Every line is one whole JSON object (no NUL bytes, no torn lines). */
function assertValidJsonl(lines: string[], what: string): void {
  for (const [i, line] of lines.entries()) {
    assert(!line.includes("\0"), `${what}: line ${i + 1} holds NUL bytes`);
    JSON.parse(line);
  }
}

async function waitForFrames(port: number, frames: number): Promise<void> {
  await pollUntil(
    `http://127.0.0.1:${port}/metrics`,
    (t) => (sampleValue(t, "pose_frames_total", { stream_id: "s0" }) ?? 0) >= frames,
  );
}

/**
 * Starts the exporter with `--results -` on a stdout pipe that is never read: once the pipe's
 * buffer is full, writes wait, as with `… --results - | sleep 100`.
 */
function startWithStalledResults(port: number, stopTimeoutS: string) {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      ...EXPORTER_PERMISSIONS,
      new URL("main.ts", ROOT).pathname,
      ...baseArgs(port, ["--streams", "2", "--results", "-", "--stop-timeout-s", stopTimeoutS]),
    ],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  const stderr = new Response(child.stderr).text();
  const stop = async () => {
    try {
      child.kill("SIGKILL");
    } catch {
      // exited
    }
    await child.stdout.cancel();
    await child.status;
    await stderr;
  };
  return { child, stderr, stop };
}

async function canMountTmpfs(dir: string): Promise<boolean> {
  const out = await new Deno.Command("mount", {
    args: ["-t", "tmpfs", "-o", "size=64k", "tmpfs", dir],
    stdout: "null",
    stderr: "null",
  }).output().catch(() => ({ success: false }));
  return out.success;
}

Deno.test({
  name: "reliability - a full results disk is logged at once, counted, and exits 1 with the count",
  ignore: Deno.uid() !== 0,
  fn: async () => {
    const dir = await Deno.makeTempDir();
    if (!(await canMountTmpfs(dir))) {
      // Mounting needs CAP_SYS_ADMIN: without it a full disk cannot be made here.
      console.warn("skipped: cannot mount a small tmpfs (needs root with CAP_SYS_ADMIN)");
      await Deno.remove(dir);
      return;
    }
    const port = freePort();
    const results = `${dir}/out.jsonl`;
    const exporter = startExporter(baseArgs(port, [
      "--streams",
      "2",
      "--results",
      results,
      "--duration",
      "8",
    ]));
    try {
      const { code, stderr } = await exporter.done;
      const logs = jsonLogs(stderr);
      const errors = logs.filter((l) => l.msg === "cannot write results: lines lost");
      assert(errors.length >= 1, "the write error is logged");
      assert(errors[0].file === results && /No space left/.test(errors[0].error), stderr);
      assert(
        errors.length <= 3,
        `then at most every few seconds, not per write (${errors.length})`,
      );
      const last = lastLog(stderr);
      assertEquals(last.msg, "stopped");
      const lines = await readLines(results);
      assertEquals(last.frames, lines.length, "frames = the lines written");
      assert(last.results_lost > 0, "it says how many results were lost");
      assert(
        logs.some((l) => l.msg === `results lost: ${last.results_lost} lines could not be written`),
        "one line says how many",
      );
      assertEquals(code, 1);
    } finally {
      await forceStop(exporter);
      await new Deno.Command("umount", { args: [dir] }).output();
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("reliability - a results file made unwritable mid-run is counted, metrics stay served", async () => {
  const dir = await Deno.makeTempDir();
  const results = `${dir}/out.jsonl`;
  const port = freePort();
  const exporter = startExporter(baseArgs(port, [
    "--streams",
    "2",
    "--results",
    results,
  ]));
  let immutable = false;
  try {
    await waitForFrames(port, 20);
    const chattr = await new Deno.Command("chattr", { args: ["+i", results], stderr: "null" })
      .output().catch(() => ({ success: false }));
    if (!chattr.success) {
      console.warn("skipped: chattr +i is not supported on this filesystem");
      return;
    }
    immutable = true;
    const text = await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) => (sampleValue(t, "pose_results_lost_total") ?? 0) > 0,
    );
    assert((sampleValue(text, "pose_frames_total", { stream_id: "s0" }) ?? 0) > 0);
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assert(
      jsonLogs(stderr).some((l) =>
        l.msg === "cannot write results: lines lost" && l.file === results
      ),
      "the error names the file",
    );
    const last = lastLog(stderr);
    assertEquals(last.msg, "stopped");
    assertEquals(last.frames, (await readLines(results)).length);
    assert(last.results_lost > 0);
    assertEquals(code, 1);
  } finally {
    if (immutable) await new Deno.Command("chattr", { args: ["-i", results] }).output();
    await forceStop(exporter);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reliability - truncation (copytruncate) and rotation by rename + SIGHUP keep every line valid", async () => {
  const dir = await Deno.makeTempDir();
  const results = `${dir}/out.jsonl`;
  const port = freePort();
  const exporter = startExporter(baseArgs(port, ["--streams", "2", "--results", results]));
  try {
    await waitForFrames(port, 30);
    // logrotate's copytruncate: the file is cut to zero under the writer.
    await Deno.truncate(results, 0);
    await waitForFrames(port, 60);
    await new Promise((r) => setTimeout(r, 1500));
    // Rotation by rename: move the file away, then SIGHUP reopens the path.
    await Deno.rename(results, `${results}.1`);
    exporter.child.kill("SIGHUP");
    await waitFor(() => {
      try {
        return Deno.statSync(results).size > 0;
      } catch {
        return false;
      }
    }, "the reopened results file to fill");
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0, stderr.slice(-2000));
    const rotated = await readLines(`${results}.1`);
    const current = await readLines(results);
    assertValidJsonl(rotated, "after truncation");
    assertValidJsonl(current, "after reopening");
    const last = lastLog(stderr);
    assertEquals(last.msg, "stopped");
    assert(
      jsonLogs(stderr).some((l) => l.msg === "reloaded" && l.trigger === "SIGHUP"),
      "SIGHUP is a reload, not a stop",
    );
    assert(current.length > 0 && last.frames >= rotated.length + current.length);
  } finally {
    await forceStop(exporter);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reliability - a stalled --results - consumer cannot hold the stop past its deadline", async () => {
  const port = freePort();
  const { child, stderr, stop } = startWithStalledResults(port, "2");
  try {
    await waitForFrames(port, 400);
    const started = performance.now();
    child.kill("SIGTERM");
    const status = await child.status;
    const seconds = (performance.now() - started) / 1000;
    const logs = jsonLogs(await stderr);
    assert(seconds < 8, `stopped in ${seconds.toFixed(1)} s with a 2 s deadline`);
    assert(
      logs.some((l) => l.msg === "stop deadline reached: abandoned what had not finished"),
      "what was abandoned is said in one line",
    );
    const last = logs.at(-1);
    assertEquals(last.msg, "stopped");
    assert(last.results_lost > 0, "the lines that could not be written are counted");
    assertEquals(status.code, 1);
  } finally {
    await stop();
  }
});

Deno.test("reliability - SIGTERM while the model is still loading stops at once", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/model.onnx`;
  // Reading a FIFO nobody writes blocks, as a huge model on a slow disk does.
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  const port = freePort();
  const exporter = startExporter(baseArgs(port, ["--streams", "1", "--model", fifo]));
  try {
    await pollUntil(`http://127.0.0.1:${port}/healthz`, (_, status) => status === 200);
    await new Promise((r) => setTimeout(r, 500));
    const started = performance.now();
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assert((performance.now() - started) / 1000 < 5, "the load did not hold the stop");
    assertEquals(code, 0);
    const last = lastLog(stderr);
    assertEquals([last.msg, last.frames], ["stopped", 0]);
    assert(jsonLogs(stderr).some((l) => l.msg === "stopping" && l.reason === "SIGTERM"));
  } finally {
    await forceStop(exporter);
    // Unblock the exporter's read if it is still open, then clean up.
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reliability - SIGTERM while nvidia-smi hangs at start stops at once and leaves no child", async () => {
  const state = await FakeGpuState.create({ mode: "hang", gpus: [h200(0, 100)], apps: [] });
  const marker = state.path;
  const port = freePort();
  const exporter = startExporter(
    [
      "--listen",
      `127.0.0.1:${port}`,
      "--log-format",
      "json",
      "--streams",
      "1",
      "--nvidia-smi",
      FAKE_NVIDIA_SMI,
      "--gpu-timeout-ms",
      "40000",
    ],
    state.env,
  );
  try {
    await pollUntil(`http://127.0.0.1:${port}/healthz`, (_, status) => status === 200);
    await new Promise((r) => setTimeout(r, 1000));
    const started = performance.now();
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assert((performance.now() - started) / 1000 < 5, "the hung nvidia-smi did not hold the stop");
    assertEquals(code, 0, stderr);
    assert(!stderr.includes("model ready"), "no model was loaded after the stop was asked");
    assertEquals(lastLog(stderr).msg, "stopped");
    await new Promise((r) => setTimeout(r, 500));
    assertEquals(await processesMentioning(marker), [], "no nvidia-smi left behind");
  } finally {
    await forceStop(exporter);
    await state.remove();
  }
});

Deno.test("reliability - one signal seen twice stops cleanly; a second one later forces the stop", async () => {
  const dir = await Deno.makeTempDir();
  const video = `${dir}/marker-double-signal.mp4`;
  await new Deno.Command("ffmpeg", {
    args: ["-v", "error", "-f", "lavfi", "-i", "testsrc=size=320x240:rate=10", "-t", "2", video],
  }).output();
  for (const gapMs of [50, 1500]) {
    const port = freePort();
    const results = `${dir}/out-${gapMs}.jsonl`;
    const exporter = startExporter(
      baseArgs(port, ["--source", `c=${video}`, "--loop", "--results", results]),
    );
    try {
      await pollUntil(
        `http://127.0.0.1:${port}/metrics`,
        (t) => (sampleValue(t, "pose_frames_total", { stream_id: "c" }) ?? 0) > 0,
      );
      exporter.child.kill("SIGTERM");
      await new Promise((r) => setTimeout(r, gapMs));
      try {
        exporter.child.kill("SIGTERM");
      } catch {
        // It had already stopped.
      }
      const { code, stderr } = await exporter.done;
      const last = lastLog(stderr);
      assertEquals(last.msg, "stopped");
      if (gapMs < 1000) {
        // A Ctrl-C reaches the process group and is passed on by task runners: one request.
        assertEquals(code, 0, stderr.slice(-1500));
        assertEquals(last.forced, undefined, "50 ms apart: the same stop request");
        assertEquals(last.frames, (await readLines(results)).length);
      } else {
        assert(code === 0 || code === 1, `exit ${code}: not killed by the second signal`);
      }
      await new Promise((r) => setTimeout(r, 500));
      assertEquals(await processesMentioning("marker-double-signal"), [], "no ffmpeg left behind");
    } finally {
      await forceStop(exporter);
    }
  }
  await Deno.remove(dir, { recursive: true });
});

Deno.test("reliability - a --duration beyond a timer's range does not fire at once", async () => {
  const port = freePort();
  const exporter = startExporter(baseArgs(port, ["--streams", "1", "--duration", "3000000"]));
  try {
    await waitForFrames(port, 10);
    await new Promise((r) => setTimeout(r, 1000));
    const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
    assert(
      (sampleValue(text, "pose_frames_total", { stream_id: "s0" }) ?? 0) > 10,
      "still running",
    );
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0);
    assert(jsonLogs(stderr).some((l) => l.msg === "stopping" && l.reason === "SIGTERM"));
  } finally {
    await forceStop(exporter);
  }
});

Deno.test("reliability - typo sources are refused with exit 2, naming them", async () => {
  for (
    const [source, expected] of [
      ["lobby cam=rtsp://10.0.0.5/s", 'stream id "lobby cam"'],
      ['a"b=synthetic', "stream id"],
      ["synthetic@-1", 'malformed "synthetic@-1"'],
    ]
  ) {
    const { code, stderr } = await startExporter(["--source", source!]).done;
    assertEquals(code, 2, `${source}: ${stderr}`);
    assert(stderr.includes(`--source ${JSON.stringify(source)}`), stderr);
    assert(stderr.includes(expected!), stderr);
  }
});

/**
 * Milliseconds until process `pid` catches SIGINT (bit 2 of SigCgt in /proc/PID/status).
 *
 * @throws when it exits first, or does not within `timeoutMs` (saying what its threads wait in)
 */
async function sigintCaught(pid: number, timeoutMs: number): Promise<number> {
  const started = performance.now();
  let status = "";
  while (performance.now() - started < timeoutMs) {
    status = await shellOutput(`cat /proc/${pid}/status`);
    const mask = /^SigCgt:\s*([0-9a-f]+)$/m.exec(status)?.[1];
    if (mask !== undefined && (BigInt(`0x${mask}`) >> 1n) & 1n) {
      return Math.round(performance.now() - started);
    }
    if (status === "" || /^State:\s*Z/m.test(status)) {
      throw new Error(`process ${pid} exited before it caught SIGINT`);
    }
  }
  const waits = await shellOutput(
    `for t in /proc/${pid}/task/*; do echo "$(cat $t/comm):$(cat $t/wchan)"; done`,
  );
  throw new Error(
    `process ${pid} did not catch SIGINT within ${timeoutMs} ms; its threads wait in ` +
      `${waits.trim().split("\n").join(" ")}\n${status}`,
  );
}

Deno.test("reliability - a signal in the first moments of start-up is honoured, with the last line stopped", async () => {
  const port = freePort();
  const exporter = startExporter(baseArgs(port, ["--streams", "1"]));
  try {
    // The signal goes the moment the process catches SIGINT at all (its SigCgt mask), not after
    // a fixed sleep: Deno's own start-up and the load of main.ts's imports take 70 ms on an idle
    // 2-core host and over 200 ms on a loaded one, and no program can honour a signal before it
    // has a handler. Sent then, it lands while the exporter's modules and ONNX Runtime load.
    const caughtAt = await sigintCaught(exporter.child.pid, 10_000).catch(async (error) => {
      exporter.child.kill("SIGKILL");
      const { stderr } = await exporter.done;
      throw new Error(`${error.message}\nits stderr:\n${stderr}`);
    });
    exporter.child.kill("SIGINT");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0, stderr);
    const logs = jsonLogs(stderr);
    assertEquals(logs.at(-1).msg, "stopped");
    assert(logs.some((l) => l.msg === "stopping" && l.reason === "SIGINT"), stderr);
    // It was honoured in start-up: not one frame was run.
    assertEquals(logs.at(-1).frames, 0, `SIGINT ${caughtAt} ms after the spawn:\n${stderr}`);
  } finally {
    await forceStop(exporter);
  }
});

Deno.test("reliability - a second SIGTERM during a slow stop forces it at once", async () => {
  const port = freePort();
  const { child, stderr, stop } = startWithStalledResults(port, "60");
  try {
    await waitForFrames(port, 400);
    child.kill("SIGTERM");
    await new Promise((r) => setTimeout(r, 1500));
    const started = performance.now();
    child.kill("SIGTERM");
    const status = await child.status;
    const seconds = (performance.now() - started) / 1000;
    assert(seconds < 5, `the second signal stopped it in ${seconds.toFixed(1)} s, not 60`);
    const last = jsonLogs(await stderr).at(-1);
    assertEquals([last.msg, last.forced], ["stopped", true]);
    assert(last.results_lost > 0, "lines not written are counted");
    assertEquals(status.code, 1);
  } finally {
    await stop();
  }
});

/** Starts the exporter under `ulimit -n <fds>` (soft and hard), as a small container would. */
function startUnderFdLimit(fds: number, args: string[]) {
  const command = [Deno.execPath(), "run", ...EXPORTER_PERMISSIONS, "main.ts", ...args]
    .map((a) => `'${a}'`).join(" ");
  const child = new Deno.Command("bash", {
    args: ["-c", `ulimit -n ${fds} && exec ${command}`],
    cwd: ROOT.pathname,
    stdout: "null",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1" },
  }).spawn();
  return { child, stderr: new Response(child.stderr).text() };
}

Deno.test("reliability - a flood of idle connections at a low fd limit leaves scrapes served", async () => {
  const port = freePort();
  const { child, stderr } = startUnderFdLimit(
    256,
    baseArgs(port, [
      "--streams",
      "2",
      "--web-max-connections",
      "100",
      "--web-header-timeout-s",
      "2",
    ]),
  );
  const idle: Deno.Conn[] = [];
  try {
    await waitForFrames(port, 1);
    // 400 connections that never send a byte (slowloris): 100 are held until their header
    // deadline, the rest are refused at once; none may take the process down.
    for (let i = 0; i < 400; i++) idle.push(await Deno.connect({ hostname: "127.0.0.1", port }));
    let scraped = "";
    const started = performance.now();
    while (scraped === "" && performance.now() - started < 20_000) {
      try {
        const res = await fetch(`http://127.0.0.1:${port}/metrics`, {
          signal: AbortSignal.timeout(5000),
        });
        if (res.status === 200) scraped = await res.text();
        else await res.body?.cancel();
      } catch { /* refused while the flood holds every slot: try again */ }
      if (scraped === "") await new Promise((r) => setTimeout(r, 250));
    }
    assert(scraped !== "", "a well-behaved client is served within 20 s");
    const closed = (reason: string) =>
      sampleValue(scraped, "pose_http_connections_closed_total", { reason }) ?? 0;
    assert(closed("refused") > 0, "connections over the limit are refused and counted");
    // The held ones (all but the test's own keep-alive connections) meet their header deadline
    // (2 s) and are counted too.
    const after = await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) =>
        (sampleValue(t, "pose_http_connections_closed_total", { reason: "header_timeout" }) ??
          0) >= 90,
    );
    assert((sampleValue(after, "pose_frames_total", { stream_id: "s1" }) ?? 0) > 0);
    child.kill("SIGTERM");
    const status = await child.status;
    assertEquals(status.code, 0, await stderr);
    assertEquals(lastLog(await stderr).msg, "stopped");
  } finally {
    for (const conn of idle) {
      try {
        conn.close();
      } catch { /* closed by the exporter */ }
    }
    try {
      child.kill("SIGKILL");
    } catch { /* already gone */ }
    await child.status;
  }
});

Deno.test("reliability - a FIFO nobody reads as the results file fails the start, naming it", async () => {
  const dir = await Deno.makeTempDir();
  const fifo = `${dir}/results.jsonl`;
  await new Deno.Command("mkfifo", { args: [fifo] }).output();
  try {
    const started = performance.now();
    const { code, stderr } = await startExporter(
      baseArgs(freePort(), ["--streams", "1", "--results", fifo, "--duration", "5"]),
    ).done;
    const seconds = (performance.now() - started) / 1000;
    assertEquals(code, 1, stderr);
    assert(seconds < 20, `it gave up in ${seconds.toFixed(1)} s`);
    const error = jsonLogs(stderr).find((l) => l.level === "error");
    assert(error?.msg.includes(fifo) && error.msg.includes("FIFO"), stderr);
    assertEquals(lastLog(stderr).msg, "stopped");
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reliability - a results reopen that blocks fails one reload; the next reload runs", async () => {
  const dir = await Deno.makeTempDir();
  // Not beside the sources file: Deno's folder watcher opens every file of the folder it watches
  // (seen with strace), which would give a FIFO there a reader for a moment.
  await Deno.mkdir(`${dir}/results`);
  const results = `${dir}/results/results.jsonl`;
  const sources = `${dir}/sources.txt`;
  await Deno.writeTextFile(sources, "a=synthetic\n");
  const port = freePort();
  const exporter = startExporter(
    baseArgs(port, ["--sources-file", sources, "--results", results]),
  );
  try {
    await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) => (sampleValue(t, "pose_frames_total", { stream_id: "a" }) ?? 0) > 0,
    );
    // Rotated away, and a FIFO without a reader in its place.
    await Deno.rename(results, `${results}.1`);
    await new Deno.Command("mkfifo", { args: [results] }).output();
    exporter.child.kill("SIGHUP");
    const failed = await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) => (sampleValue(t, "pose_config_reload_failures_total", {}) ?? 0) >= 1,
    );
    assertEquals(sampleValue(failed, "pose_config_reload_success", {}), 0);
    // The next reload is not wedged: a stream added to the sources file starts.
    await Deno.writeTextFile(sources, "a=synthetic\nb=synthetic\n");
    await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) => (sampleValue(t, "pose_frames_total", { stream_id: "b" }) ?? 0) > 0,
    );
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    const logs = jsonLogs(stderr);
    const failure = logs.find((l) => l.msg === "reload failed");
    assert(failure?.error.includes("FIFO"), stderr);
    assert(logs.some((l) => l.msg === "stream added" && l.stream_id === "b"), stderr);
    assertEquals([code, lastLog(stderr).msg], [0, "stopped"]);
    const kept = await readLines(`${results}.1`);
    assert(kept.length > 0, "the lines went on to the old file");
    assertValidJsonl(kept, "old results file");
  } finally {
    await forceStop(exporter);
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("reliability - a sources line saved half-way is refused on reload, not retried as a file", async () => {
  const dir = await Deno.makeTempDir();
  const sources = `${dir}/sources.txt`;
  await Deno.writeTextFile(sources, "a=synthetic\n");
  const port = freePort();
  const exporter = startExporter(baseArgs(port, ["--sources-file", sources]));
  try {
    await waitForStream(port, "a");
    // What an editor that saves as you type leaves for a moment: "synthet" reads as a file path.
    await Deno.writeTextFile(sources, "a=synthetic\nb=synthet\n");
    await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) => (sampleValue(t, "pose_config_reload_failures_total", {}) ?? 0) >= 1,
    );
    await Deno.writeTextFile(sources, "a=synthetic\nb=synthetic\n");
    await waitForStream(port, "b");
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    const failure = jsonLogs(stderr).find((l) => l.msg === "reload failed");
    assert(failure?.error.includes('stream "b": no such file "synthet"'), stderr);
    assert(!jsonLogs(stderr).some((l) => l.msg === "stream retrying"), "nothing retried a file");
    assertEquals(code, 0, stderr);
  } finally {
    await forceStop(exporter);
    await Deno.remove(dir, { recursive: true });
  }
});

async function waitForStream(port: number, id: string): Promise<void> {
  await pollUntil(
    `http://127.0.0.1:${port}/metrics`,
    (t) => (sampleValue(t, "pose_frames_total", { stream_id: id }) ?? 0) > 0,
  );
}

Deno.test("reliability - a results path under /dev is refused with what to give instead", async () => {
  const { code, stderr } = await startExporter(
    baseArgs(freePort(), ["--streams", "1", "--results", "/dev/stdout"]),
  ).done;
  assertEquals(code, 1, stderr);
  const error = jsonLogs(stderr).find((l) => l.level === "error");
  assert(error?.msg.includes("/dev/stdout") && error.msg.includes("--results -"), stderr);
  assert(!stderr.includes("--allow-all"), "no advice about a flag the exporter does not have");
});
