import { assert, assertEquals } from "../_assert.ts";
import { FAKE_NVIDIA_SMI, FakeGpuState, h200 } from "../fakes/fake_gpu.ts";
import {
  type GpuPollMethod,
  type GpuPollResult,
  NvidiaSmiReader,
} from "../../src/gpu/nvidia_smi.ts";

for (const method of ["spawn", "loop"] as GpuPollMethod[]) {
  Deno.test(`NvidiaSmiReader(${method}) - reads GPUs and processes, and follows changes`, async () => {
    const state = await FakeGpuState.create({ gpus: [h200(0, 1337), h200(1, 10)], apps: [] });
    Deno.env.set("FAKE_NVIDIA_SMI_STATE", state.path);
    const reader = new NvidiaSmiReader({
      path: FAKE_NVIDIA_SMI,
      method,
      intervalMs: 100,
      timeoutMs: 3000,
    });
    try {
      const first = await reader.poll();
      assert(first.kind === "ok", JSON.stringify(first));
      assertEquals(first.poll.gpus.map((g) => [g.index, g.usedMiB]), [["0", 1337], ["1", 10]]);
      await state.set({
        gpus: [h200(0, 5000)],
        apps: [{ pid: 42, gpu_uuid: h200(0, 0).uuid, used: 4990 }],
      });
      let latest: GpuPollResult = first;
      const deadline = Date.now() + 5000;
      while (Date.now() < deadline) {
        latest = await reader.poll();
        if (
          latest.kind === "ok" && latest.poll.gpus.length === 1 &&
          latest.poll.gpus[0]!.usedMiB === 5000
        ) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      assert(latest.kind === "ok");
      assertEquals(
        latest.poll.gpus.map((g) => [g.index, g.usedMiB]),
        [["0", 5000]],
        "GPU 1 disappeared",
      );
      assertEquals(latest.poll.apps, [{ pid: 42, gpuUuid: h200(0, 0).uuid, usedMiB: 4990 }]);
    } finally {
      await reader.close();
      Deno.env.delete("FAKE_NVIDIA_SMI_STATE");
      await state.remove();
    }
  });

  Deno.test(`NvidiaSmiReader(${method}) - reports no devices, no driver, garbage and a hang`, async () => {
    const state = await FakeGpuState.create({ mode: "no_devices", gpus: [], apps: [] });
    Deno.env.set("FAKE_NVIDIA_SMI_STATE", state.path);
    try {
      const read = async (mode: "no_devices" | "no_driver" | "garbage" | "hang") => {
        await state.set({ mode, gpus: [h200(0, 100)], apps: [] });
        const reader = new NvidiaSmiReader({
          path: FAKE_NVIDIA_SMI,
          method,
          intervalMs: 100,
          timeoutMs: 700,
        });
        try {
          return await reader.poll();
        } finally {
          await reader.close();
        }
      };
      assertEquals(await read("no_devices"), {
        kind: "no_gpu",
        reason: "no_devices",
        detail: "No devices were found",
      });
      const noDriver = await read("no_driver");
      assertEquals([noDriver.kind, noDriver.kind !== "ok" && noDriver.reason], [
        "no_gpu",
        "no_driver",
      ]);
      const garbage = await read("garbage");
      assert(garbage.kind === "ok", JSON.stringify(garbage));
      assert(garbage.poll.garbageLines >= 1, "garbage lines are counted");
      assertEquals(garbage.poll.gpus.length, 1, "good lines are kept");
      const started = Date.now();
      const hang = await read("hang");
      assertEquals([hang.kind, hang.kind !== "ok" && hang.reason], ["error", "timeout"]);
      assert(Date.now() - started < 5000, "a hung call is killed after its timeout");
    } finally {
      Deno.env.delete("FAKE_NVIDIA_SMI_STATE");
      await state.remove();
    }
  });
}

Deno.test("NvidiaSmiReader - a missing binary is 'no GPU', not an error", async () => {
  for (const method of ["spawn", "loop"] as GpuPollMethod[]) {
    const reader = new NvidiaSmiReader({ path: "/nonexistent/nvidia-smi", method });
    const result = await reader.poll();
    await reader.close();
    assertEquals([result.kind, result.kind !== "ok" && result.reason], [
      "no_gpu",
      "missing_binary",
    ]);
  }
});
