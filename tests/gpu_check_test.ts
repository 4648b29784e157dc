// scripts/gpu_check.ts is what runs on the GPU host; here it runs on CPU against the fake nvidia-smi.

import { assert, assertEquals } from "./_assert.ts";
import { ROOT } from "./_helpers.ts";
import { FAKE_NVIDIA_SMI, FakeGpuState, h200 } from "./fakes/fake_gpu.ts";

Deno.test("gpu_check - reports provider, fps, latency and VRAM from the exporter's own metrics", async () => {
  const state = await FakeGpuState.create({
    gpus: [h200(0, 1337)],
    apps: [{ pid: "parent", gpu_uuid: h200(0, 0).uuid, used: 1000 }],
  });
  try {
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "-A",
        "scripts/gpu_check.ts",
        "--provider",
        "cpu",
        "--streams",
        "2",
        "--seconds",
        "4",
        "--nvidia-smi",
        FAKE_NVIDIA_SMI,
      ],
      cwd: ROOT.pathname,
      env: { ...state.env, NO_COLOR: "1" },
      stdout: "piped",
      stderr: "piped",
    }).output();
    const lines = new TextDecoder().decode(out.stdout).trim().split("\n");
    assertEquals(out.code, 0, lines.join("\n"));
    const summary = JSON.parse(lines.at(-1)!);
    assertEquals([summary.provider, summary.exit_code, summary.streams], ["cpu", 0, 2]);
    assert(summary.fps_last > 0, `fps ${summary.fps_last}`);
    assert(summary.p99_ms_last >= summary.p50_ms_last && summary.p50_ms_last > 0);
    assertEquals(summary.vram_mib_max, 1337);
    assertEquals(summary.exporter_mib_max, 1000);
    assert(
      lines.some((l) => l.includes('"msg":"model ready"')),
      "the exporter's model line is shown",
    );
  } finally {
    await state.remove();
  }
});
