// The exporter with real ffmpeg sources: good, missing, cut-off and HTTP streams side by side.

import { assert, assertEquals } from "./_assert.ts";
import { forceStop, freePort, pollUntil, sampleValue, startExporter } from "./_helpers.ts";
import { cutInHalf, makeVideo, processesMentioning } from "./_media.ts";

function startHttpServer(dir: string, port: number): Deno.ChildProcess {
  return new Deno.Command("python3", {
    args: ["-m", "http.server", String(port), "--bind", "127.0.0.1", "--directory", dir],
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}

Deno.test("streams - broken sources are visible, good ones keep going, HTTP recovers, no ffmpeg is left", async () => {
  const dir = await Deno.makeTempDir({ prefix: "pose_streams_test_" });
  await makeVideo(`${dir}/good.mp4`, { width: 320, height: 240, fps: 10, frames: 20 });
  await makeVideo(`${dir}/web.mp4`, { width: 320, height: 240, fps: 10, frames: 50 });
  await cutInHalf(`${dir}/good.mp4`, `${dir}/cut.mp4`);
  const httpPort = freePort();
  let server = startHttpServer(dir, httpPort);
  await pollUntil(`http://127.0.0.1:${httpPort}/web.mp4`, (_, status) => status === 200, 10_000);
  const port = freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const exporter = startExporter([
    "--source",
    `good=${dir}/good.mp4`,
    "--source",
    `missing=${dir}/missing.mp4`,
    "--source",
    `cut=${dir}/cut.mp4`,
    "--source",
    `web=http://127.0.0.1:${httpPort}/web.mp4`,
    "--loop",
    "--retry-max-s",
    "1",
    "--listen",
    `127.0.0.1:${port}`,
    "--provider",
    "cpu",
  ]);
  try {
    const text = await pollUntil(
      url,
      (t) =>
        (sampleValue(t, "pose_fps", { stream_id: "good" }) ?? 0) > 0 &&
        (sampleValue(t, "pose_fps", { stream_id: "web" }) ?? 0) > 0 &&
        (sampleValue(t, "pose_stream_failures_total", {
            stream_id: "missing",
            reason: "unreadable",
          }) ??
            0) >= 1 &&
        (sampleValue(t, "pose_stream_failures_total", { stream_id: "cut", reason: "unreadable" }) ??
            0) >=
          1,
      60_000,
    );
    assertEquals(sampleValue(text, "pose_stream_up", { stream_id: "good" }), 1);
    assertEquals(sampleValue(text, "pose_stream_up", { stream_id: "web" }), 1);
    assertEquals(sampleValue(text, "pose_stream_up", { stream_id: "missing" }), 0);
    assertEquals(sampleValue(text, "pose_stream_up", { stream_id: "cut" }), 0);
    assert(
      (sampleValue(text, "pose_stream_last_frame_timestamp_seconds", { stream_id: "good" }) ?? 0) >
        1e9,
    );
    assertEquals(
      (await fetch(`http://127.0.0.1:${port}/readyz`).then(async (
        r,
      ) => [r.status, await r.text()]))[0],
      200,
    );

    // The HTTP server goes away: the web stream goes down ...
    server.kill("SIGKILL");
    await server.status;
    await pollUntil(
      url,
      (t) => sampleValue(t, "pose_stream_up", { stream_id: "web" }) === 0,
      30_000,
    );
    const downText = await (await fetch(url)).text();
    assert(
      (sampleValue(downText, "pose_fps", { stream_id: "good" }) ?? 0) > 0,
      "the good stream kept going",
    );
    const restartsBefore =
      sampleValue(downText, "pose_stream_restarts_total", { stream_id: "web" }) ?? 0;
    // ... and comes back by itself once the server is back.
    server = startHttpServer(dir, httpPort);
    const back = await pollUntil(
      url,
      (t) => sampleValue(t, "pose_stream_up", { stream_id: "web" }) === 1,
      30_000,
    );
    assert(
      (sampleValue(back, "pose_stream_restarts_total", { stream_id: "web" }) ?? 0) > restartsBefore,
    );

    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0, stderr);
    assertEquals(
      (await processesMentioning(dir)).filter((pid) => pid !== server.pid),
      [],
      "no ffmpeg is left behind",
    );
  } finally {
    await forceStop(exporter);
    server.kill("SIGKILL");
    await server.status;
    await Deno.remove(dir, { recursive: true });
  }
});
