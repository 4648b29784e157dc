// The exporter with the fake nvidia-smi: VRAM metrics follow it, the ratio and the solver act, failures stay contained.

import { assert, assertEquals } from "./_assert.ts";
import {
  forceStop,
  freePort,
  jsonLogs,
  pollUntil,
  sampleValue,
  startExporter,
} from "./_helpers.ts";
import { FAKE_NVIDIA_SMI, FakeGpuState, h200 } from "./fakes/fake_gpu.ts";

const UUID = h200(0, 0).uuid;

function gpuArgs(port: number, solver: "on" | "off"): string[] {
  return [
    "--streams",
    "2",
    "--listen",
    `127.0.0.1:${port}`,
    "--provider",
    "cpu",
    "--nvidia-smi",
    FAKE_NVIDIA_SMI,
    "--gpu-poll-ms",
    "200",
    "--gpu-timeout-ms",
    "800",
    "--solver",
    solver,
    "--frag-hysteresis",
    "2",
    "--frag-cooldown",
    "3",
    "--log-format",
    "json",
  ];
}

Deno.test("gpu - vram_usage_mb and the ratio follow the fake; each failure mode leaves pose metrics served", async () => {
  const state = await FakeGpuState.create({
    gpus: [h200(0, 1337)],
    apps: [{ pid: "parent", gpu_uuid: UUID, used: 1000 }],
  });
  const port = freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const exporter = startExporter(gpuArgs(port, "off"), state.env);
  const fpsUp = (t: string) => (sampleValue(t, "pose_fps", { stream_id: "s0" }) ?? 0) > 0;
  try {
    let text = await pollUntil(
      url,
      (t) => sampleValue(t, "vram_usage_mb", { device_id: "0" }) === 1337 && fpsUp(t),
    );
    // Calibrated at 1000 MiB and using 1000: no waste.
    text = await pollUntil(
      url,
      (t) => sampleValue(t, "vram_fragmentation_ratio", { device_id: "0" }) === 0,
    );
    assertEquals(
      sampleValue(text, "gpu_info", { device_id: "0", uuid: UUID, name: "NVIDIA H200" }),
      1,
    );
    assertEquals(
      sampleValue(text, "pose_gpu_session_needed_bytes", { device_id: "0", batch_shape: "1" }),
      1000 * 2 ** 20,
    );

    // The exporter's process memory rises: the ratio rises with it (the solver only observes).
    await state.set({
      gpus: [h200(0, 4337)],
      apps: [{ pid: "parent", gpu_uuid: UUID, used: 4000 }],
    });
    text = await pollUntil(
      url,
      (t) => sampleValue(t, "vram_usage_mb", { device_id: "0" }) === 4337,
    );
    text = await pollUntil(
      url,
      (t) => sampleValue(t, "vram_fragmentation_ratio", { device_id: "0" }) === 0.75,
    );
    assertEquals(
      sampleValue(text, "pose_gpu_memory_exporter_bytes", { device_id: "0" }),
      4000 * 2 ** 20,
    );
    assertEquals(
      sampleValue(text, "pose_solver_actions_total", { kind: "rebuild", outcome: "done" }),
      0,
      "--solver off",
    );

    // Garbage lines are skipped and counted.
    await state.set({ mode: "garbage", gpus: [h200(0, 4337)], apps: [] });
    text = await pollUntil(url, (t) => (sampleValue(t, "pose_gpu_garbage_lines_total") ?? 0) > 0);
    assert(fpsUp(text));
    // A hang is killed, counted and retried.
    await state.set({ mode: "hang", gpus: [h200(0, 4337)], apps: [] });
    // A reading of the mode before may still land right after the first timeout: the gauge
    // settles at 0 while the hang lasts.
    text = await pollUntil(
      url,
      (t) =>
        (sampleValue(t, "pose_gpu_poll_errors_total", { reason: "timeout" }) ?? 0) > 0 &&
        sampleValue(t, "pose_gpu_poll_success") === 0,
    );
    assertEquals(sampleValue(text, "pose_gpu_poll_success"), 0);
    assert(fpsUp(text));
    // The GPU disappears: its series go, pose metrics stay.
    await state.set({ mode: "ok", gpus: [], apps: [] });
    text = await pollUntil(
      url,
      (t) => sampleValue(t, "vram_usage_mb", { device_id: "0" }) === undefined,
      15_000,
    );
    assert(fpsUp(text));
    // "No devices were found": still no series, still serving.
    await state.set({ mode: "no_devices", gpus: [], apps: [] });
    await new Promise((r) => setTimeout(r, 600));
    text = await (await fetch(url)).text();
    assertEquals(sampleValue(text, "vram_usage_mb", { device_id: "0" }), undefined);
    assert(fpsUp(text));
    // And it comes back.
    await state.set({
      gpus: [h200(0, 2000)],
      apps: [{ pid: "parent", gpu_uuid: UUID, used: 1000 }],
    });
    text = await pollUntil(
      url,
      (t) => sampleValue(t, "vram_usage_mb", { device_id: "0" }) === 2000,
      15_000,
    );

    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0, stderr);
  } finally {
    await forceStop(exporter);
    await state.remove();
  }
});

Deno.test("gpu - the solver rebuilds the session when fragmentation stays high, losing no frame", async () => {
  const state = await FakeGpuState.create({
    gpus: [h200(0, 1337)],
    apps: [{ pid: "parent", gpu_uuid: UUID, used: 1000 }],
  });
  const port = freePort();
  const url = `http://127.0.0.1:${port}/metrics`;
  const results = await Deno.makeTempFile({ suffix: ".jsonl" });
  const exporter = startExporter([...gpuArgs(port, "on"), "--results", results], state.env);
  try {
    await pollUntil(
      url,
      (t) => sampleValue(t, "vram_fragmentation_ratio", { device_id: "0" }) === 0,
    );
    await state.set({
      gpus: [h200(0, 6337)],
      apps: [{ pid: "parent", gpu_uuid: UUID, used: 6000 }],
    });
    const text = await pollUntil(
      url,
      (t) =>
        (sampleValue(t, "pose_solver_actions_total", { kind: "rebuild", outcome: "done" }) ?? 0) >=
          1,
    );
    assertEquals(
      sampleValue(text, "pose_solver_actions_total", { kind: "rebuild", outcome: "failed" }),
      0,
    );
    const before = sampleValue(text, "pose_frames_total", { stream_id: "s0" }) ?? 0;
    await pollUntil(
      url,
      (t) => (sampleValue(t, "pose_frames_total", { stream_id: "s0" }) ?? 0) > before + 10,
    );
    exporter.child.kill("SIGTERM");
    const { code, stderr } = await exporter.done;
    assertEquals(code, 0, stderr);
    const logs = jsonLogs(stderr);
    const rebuilt = logs.find((l) => l.msg === "session rebuilt");
    assertEquals(rebuilt?.used_mib_before, 6000);
    // Across the swap, per stream: frames in order and none decoded twice.
    const lines = (await Deno.readTextFile(results)).split("\n").filter((l) => l !== "").map((l) =>
      JSON.parse(l)
    );
    assert(logs.some((l) => l.msg === "stopped"), "a clean stop");
    for (const stream of ["s0", "s1"]) {
      const seqs = lines.filter((l) => l.stream_id === stream).map((l) => l.frame);
      assertEquals(new Set(seqs).size, seqs.length, `${stream}: no frame decoded twice`);
      for (let i = 1; i < seqs.length; i++) assert(seqs[i]! > seqs[i - 1]!, `${stream}: in order`);
    }
  } finally {
    await forceStop(exporter);
    await state.remove();
    await Deno.remove(results);
  }
});
