// Streams from a sources file change without a restart: by SIGHUP, by a change of the file, and
// by POST /-/reload; a bad file changes nothing. Real exporter processes.

import { assert, assertEquals } from "./_assert.ts";
import { FakeGpuState, h200 } from "./fakes/fake_gpu.ts";
import { processesMentioning } from "./_media.ts";
import {
  fixturePath,
  forceStop,
  freePort,
  jsonLogs,
  parseSamples,
  pollUntil,
  sampleValue,
  startExporter,
} from "./_helpers.ts";

/** Synthetic sources at 10 fps: slow enough that no frame is dropped on a busy machine. */
const KEEP = "keep=synthetic:320x240@10";
const GONE = "gone=synthetic:320x240@10";
const NEW = "new=synthetic:320x240@10";

interface ReloadRun {
  port: number;
  url: string;
  file: string;
  results: string;
  dir: string;
}

async function setUp(): Promise<ReloadRun> {
  const dir = await Deno.makeTempDir();
  const port = freePort();
  const file = `${dir}/sources.txt`;
  await Deno.writeTextFile(file, `# cameras\n${KEEP}\n\n${GONE}\n`);
  return { port, url: `http://127.0.0.1:${port}/metrics`, file, results: `${dir}/out.jsonl`, dir };
}

function args(run: ReloadRun, extra: string[] = []): string[] {
  return [
    "--sources-file",
    run.file,
    "--listen",
    `127.0.0.1:${run.port}`,
    "--results",
    run.results,
    "--log-format",
    "json",
    "--nvidia-smi",
    "/nonexistent/nvidia-smi",
    "--status-interval-s",
    "3600",
    ...extra,
  ];
}

const framesOf = (text: string, id: string) =>
  sampleValue(text, "pose_frames_total", { stream_id: id });

/** Rewrites the file (keep stays, gone goes, new comes), triggers a reload, checks the outcome. */
async function checkReload(run: ReloadRun, trigger: () => Promise<void>): Promise<string> {
  let text = await pollUntil(
    run.url,
    (t) => (framesOf(t, "keep") ?? 0) >= 10 && (framesOf(t, "gone") ?? 0) >= 5,
  );
  // The kept stream's counter is sampled all along: it must never go back.
  let lastKept = framesOf(text, "keep")!;
  let wentBack = false;
  const watching = { on: true };
  const watcher = (async () => {
    while (watching.on) {
      const now = framesOf(await (await fetch(run.url)).text(), "keep");
      if (now === undefined || now < lastKept) wentBack = true;
      else lastKept = now;
      await new Promise((r) => setTimeout(r, 100));
    }
  })();
  await Deno.writeTextFile(run.file, `${KEEP}\n${NEW}\n`);
  await trigger();
  text = await pollUntil(
    run.url,
    (t) =>
      (framesOf(t, "new") ?? 0) > 0 && !parseSamples(t).some((s) => s.labels.stream_id === "gone"),
    15_000,
  );
  await new Promise((r) => setTimeout(r, 500));
  watching.on = false;
  await watcher;
  assert(!wentBack, "the kept stream's pose_frames_total never went backwards or vanished");
  assertEquals(sampleValue(text, "pose_config_reload_success"), 1);
  return text;
}

/** Stops the exporter and checks the JSONL: no frame of the kept stream is missing. */
async function checkKeptStream(run: ReloadRun, exporter: ReturnType<typeof startExporter>) {
  exporter.child.kill("SIGTERM");
  const { code, stderr } = await exporter.done;
  assertEquals(code, 0, stderr.slice(-2000));
  const logs = jsonLogs(stderr);
  for (const [msg, id] of [["stream added", "new"], ["stream removed", "gone"]]) {
    assert(logs.some((l) => l.msg === msg && l.stream_id === id), `logged: ${msg} ${id}`);
  }
  assert(
    !logs.some((l) =>
      l.msg === "stream starting" && l.stream_id === "keep" &&
      logs.indexOf(l) > logs.findIndex((x) => x.msg === "reloaded")
    ),
    "keep was not restarted",
  );
  const lines = (await Deno.readTextFile(run.results)).split("\n").filter((l) => l !== "");
  const kept = lines.map((l) => JSON.parse(l)).filter((r) => r.stream_id === "keep").map((r) =>
    r.frame as number
  );
  assertEquals(kept, Array.from({ length: kept.length }, (_, i) => i), "keep: frames 0..n, no gap");
  return logs;
}

Deno.test("reload - SIGHUP re-reads the sources file: one kept untouched, one removed, one added", async () => {
  const run = await setUp();
  const exporter = startExporter(args(run));
  try {
    await checkReload(run, () => Promise.resolve(exporter.child.kill("SIGHUP")));
    const logs = await checkKeptStream(run, exporter);
    assert(logs.some((l) => l.msg === "reloaded" && l.trigger === "SIGHUP"));
  } finally {
    await forceStop(exporter);
    await Deno.remove(run.dir, { recursive: true });
  }
});

Deno.test("reload - a change of the sources file is picked up without a signal", async () => {
  const run = await setUp();
  const exporter = startExporter(args(run));
  try {
    await checkReload(run, () => Promise.resolve());
    const logs = await checkKeptStream(run, exporter);
    assertEquals(
      logs.filter((l) => l.msg === "reloaded").length,
      1,
      "one reload for one write, once the file was quiet",
    );
  } finally {
    await forceStop(exporter);
    await Deno.remove(run.dir, { recursive: true });
  }
});

Deno.test("reload - POST /-/reload with --web-enable-lifecycle; 404 without it", async () => {
  const run = await setUp();
  const exporter = startExporter(args(run, ["--web-enable-lifecycle"]));
  try {
    const before = await pollUntil(run.url, (t) => (framesOf(t, "keep") ?? 0) >= 1);
    assertEquals(sampleValue(before, "pose_config_reload_success"), 1);
    await checkReload(run, async () => {
      const res = await fetch(`http://127.0.0.1:${run.port}/-/reload`, { method: "POST" });
      assert([200, 500].includes(res.status), await res.text());
    });
    const logs = await checkKeptStream(run, exporter);
    // The POST acts at once; the file watcher's own reload comes later and finds nothing new.
    const byPost = logs.find((l) => l.msg === "reloaded" && l.trigger === "POST /-/reload");
    assert(byPost?.changes.startsWith("1 added, 1 removed"), JSON.stringify(byPost));
  } finally {
    await forceStop(exporter);
    await Deno.remove(run.dir, { recursive: true });
  }
  const other = await setUp();
  const plain = startExporter(args(other));
  try {
    await pollUntil(other.url, (t) => (framesOf(t, "keep") ?? 0) >= 1);
    const res = await fetch(`http://127.0.0.1:${other.port}/-/reload`, { method: "POST" });
    assertEquals(res.status, 404, "answered like any unknown route");
    await res.body?.cancel();
  } finally {
    await forceStop(plain);
    await Deno.remove(other.dir, { recursive: true });
  }
});

Deno.test("reload - an invalid sources file changes nothing, names the line, and is counted", async () => {
  const run = await setUp();
  const exporter = startExporter(args(run));
  try {
    await pollUntil(
      run.url,
      (t) => (framesOf(t, "keep") ?? 0) >= 5 && (framesOf(t, "gone") ?? 0) >= 1,
    );
    await Deno.writeTextFile(run.file, `${KEEP}\n${NEW}\nbad cam=rtsp://x/y\n`);
    exporter.child.kill("SIGHUP");
    const text = await pollUntil(
      run.url,
      (t) => sampleValue(t, "pose_config_reload_failures_total") === 1,
      10_000,
    );
    assertEquals(sampleValue(text, "pose_config_reload_success"), 0);
    assert((framesOf(text, "gone") ?? 0) > 0, "the running set is kept");
    assertEquals(framesOf(text, "new"), undefined, "nothing was added");
    exporter.child.kill("SIGTERM");
    const { stderr } = await exporter.done;
    const failure = jsonLogs(stderr).filter((l) => l.msg === "reload failed");
    assert(failure.length >= 1, stderr.slice(-1500));
    assert(failure[0].error.includes(`${run.file}:3`), failure[0].error);
    assert(failure[0].error.includes('stream id "bad cam"'), failure[0].error);
  } finally {
    await forceStop(exporter);
    await Deno.remove(run.dir, { recursive: true });
  }
});

Deno.test("sources file - an id defined on the command line and in the file names both places", async () => {
  const run = await setUp();
  try {
    const { code, stderr } = await startExporter(args(run, ["--source", "keep=synthetic"])).done;
    assertEquals(code, 2, stderr);
    const error = jsonLogs(stderr).find((l) => l.level === "error");
    assert(
      error?.msg.includes(
        `${run.file}:2: stream id "keep" is already defined by --source "keep=synthetic"`,
      ),
      stderr,
    );
  } finally {
    await Deno.remove(run.dir, { recursive: true });
  }
});

Deno.test("sources file - every problem at start on its own line, with a bad MQTT file, before any port opens", async () => {
  const run = await setUp();
  try {
    await Deno.writeTextFile(run.file, `${KEEP}\nbad cam=synthetic\nkeep=synthetic\n`);
    const { code, stderr } = await startExporter(
      args(run, ["--mqtt-url", "mqtt://cam@127.0.0.1:1", "--mqtt-password-file", `${run.dir}/no`]),
    ).done;
    assertEquals(code, 2, stderr);
    const errors = jsonLogs(stderr).filter((l) => l.level === "error").map((l) => l.msg);
    assertEquals(errors.length, 3, stderr);
    assert(errors[0].startsWith(`Invalid ${run.file}:2: stream id "bad cam"`), errors[0]);
    assert(errors[1].startsWith(`Invalid ${run.file}:3: stream id "keep" is already`), errors[1]);
    assert(errors[2].includes("--mqtt-password-file") && errors[2].includes(`${run.dir}/no`));
    assert(!jsonLogs(stderr).some((l) => l.msg === "serving metrics"), "no port was opened");
    // A sources file that is not there is said in words, not as the OS's code.
    await Deno.remove(run.file);
    const missing = await startExporter(args(run)).done;
    assertEquals(missing.code, 2, missing.stderr);
    const error = jsonLogs(missing.stderr).find((l) => l.level === "error");
    assertEquals(error?.msg, `Cannot read sources file ${run.file}: it does not exist`);
  } finally {
    await Deno.remove(run.dir, { recursive: true });
  }
});

Deno.test("reload - an edit made while the exporter starts is applied once its streams have started", async () => {
  const run = await setUp();
  // A hung nvidia-smi holds the start for a few seconds (until --gpu-timeout-ms).
  const state = await FakeGpuState.create({ mode: "hang", gpus: [h200(0, 100)], apps: [] });
  const exporter = startExporter(
    [
      ...args(run).filter((a) => a !== "/nonexistent/nvidia-smi" && a !== "--nvidia-smi"),
      "--nvidia-smi",
      fixturePath("fake_nvidia_smi"),
      "--gpu-timeout-ms",
      "4000",
    ],
    state.env,
  );
  try {
    await pollUntil(`http://127.0.0.1:${run.port}/healthz`, (_, status) => status === 200);
    await Deno.writeTextFile(run.file, `${KEEP}\n${NEW}\n`);
    const text = await pollUntil(
      run.url,
      (t) => (framesOf(t, "new") ?? 0) > 0 && framesOf(t, "gone") === undefined,
      30_000,
    );
    assert((framesOf(text, "keep") ?? 0) > 0);
    exporter.child.kill("SIGTERM");
    assertEquals((await exporter.done).code, 0);
    assertEquals(await processesMentioning(state.path), [], "no nvidia-smi left behind");
  } finally {
    await forceStop(exporter);
    await state.remove();
    await Deno.remove(run.dir, { recursive: true });
  }
});

Deno.test("reload - the results file is reopened even when the sources file has a typo", async () => {
  const run = await setUp();
  const exporter = startExporter(args(run));
  try {
    await pollUntil(run.url, (t) => (framesOf(t, "keep") ?? 0) >= 3);
    await Deno.writeTextFile(run.file, `${KEEP}\nbad=oops://x\n`);
    await Deno.rename(run.results, `${run.results}.1`);
    exporter.child.kill("SIGHUP");
    await pollUntil(
      run.url,
      (t) => (sampleValue(t, "pose_config_reload_failures_total") ?? 0) >= 1,
    );
    await new Promise((r) => setTimeout(r, 2500));
    const fresh = await Deno.readTextFile(run.results);
    assert(fresh.length > 0, "lines go to the reopened file");
  } finally {
    await forceStop(exporter);
    await Deno.remove(run.dir, { recursive: true });
  }
});

Deno.test("reload - a sources file that is a link to another folder is followed", async () => {
  const run = await setUp();
  const elsewhere = await Deno.makeTempDir();
  const real = `${elsewhere}/real.txt`;
  await Deno.rename(run.file, real);
  await Deno.symlink(real, run.file);
  const exporter = startExporter(args(run));
  try {
    await pollUntil(run.url, (t) => (framesOf(t, "keep") ?? 0) >= 1);
    await Deno.writeTextFile(real, `${KEEP}\n${NEW}\n`);
    await pollUntil(run.url, (t) => (framesOf(t, "new") ?? 0) > 0, 15_000);
  } finally {
    await forceStop(exporter);
    await Deno.remove(run.dir, { recursive: true });
    await Deno.remove(elsewhere, { recursive: true });
  }
});
