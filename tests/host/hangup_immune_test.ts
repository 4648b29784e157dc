// A SIGHUP to the exporter's process group must not end its ffmpeg children: the mechanism on a
// plain child, then the exporter itself, in its own session, sent SIGHUP as a group.

import { assert, assertEquals } from "../_assert.ts";
import { hangupImmune } from "../../src/host/hangup_immune.ts";
import { readProcFile } from "../../src/host/libc.ts";
import { forceStop, freePort, pollUntil, sampleValue, startExporter } from "../_helpers.ts";

Deno.test("hangupImmune() runs a child that outlives SIGHUP, with the command's own pid", async () => {
  const line = hangupImmune("sleep", ["30"]);
  const immune = new Deno.Command(line.command, { args: line.args }).spawn();
  const plain = new Deno.Command("sleep", { args: ["30"] }).spawn();
  try {
    await new Promise((r) => setTimeout(r, 300));
    const comm = readProcFile(`/proc/${immune.pid}/comm`)?.trim();
    assertEquals(comm, "sleep", "exec replaced the shell: the pid is sleep's");
    immune.kill("SIGHUP");
    plain.kill("SIGHUP");
    assertEquals((await plain.status).signal, "SIGHUP", "without it, SIGHUP ends the child");
    const ended = await Promise.race([
      immune.status.then(() => true),
      new Promise<boolean>((r) => setTimeout(() => r(false), 500)),
    ]);
    assertEquals(ended, false, "the immune child runs on");
  } finally {
    immune.kill("SIGKILL");
    await immune.status;
  }
});

Deno.test("a SIGHUP to the exporter's process group reloads it and leaves its ffmpeg streams up", async () => {
  const port = freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  // setsid: the exporter leads a process group of its own, with its ffmpeg children in it.
  const exporter = startExporter(
    [
      "--source",
      "t=testsrc:160x120@10",
      "--listen",
      `127.0.0.1:${port}`,
      "--log-format",
      "json",
      "--status",
      "off",
      "--nvidia-smi",
      "/nonexistent/nvidia-smi",
    ],
    {},
    { wrapper: ["setsid"] },
  );
  try {
    const framesOf = (t: string) => sampleValue(t, "pose_frames_total", { stream_id: "t" }) ?? 0;
    let text = await pollUntil(url, (t) => framesOf(t) >= 5, 30_000);
    const pgid = exporter.child.pid;
    const kill = await new Deno.Command("kill", { args: ["-HUP", "--", `-${pgid}`] }).output();
    assert(kill.success, new TextDecoder().decode(kill.stderr));
    const before = framesOf(text);
    text = await pollUntil(url, (t) => framesOf(t) >= before + 10, 30_000);
    assertEquals(
      sampleValue(text, "pose_stream_failures_total", { stream_id: "t", reason: "exited" }),
      0,
      "ffmpeg did not exit",
    );
    assertEquals(sampleValue(text, "pose_stream_restarts_total", { stream_id: "t" }), 0);
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0, stderr.slice(-2000));
    assert(stderr.includes('"trigger":"SIGHUP"'), "the exporter reloaded on the SIGHUP");
  } finally {
    await forceStop(exporter);
  }
});
