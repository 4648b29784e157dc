import { assert, assertEquals } from "../_assert.ts";
import {
  forceStop,
  freePort,
  pollUntil,
  sampleValue,
  shellOutput,
  startExporter,
} from "../_helpers.ts";
import { parseMaxOpenFiles, parseProcStatus } from "../../src/metrics/process_metrics.ts";

Deno.test("parseProcStatus() and parseMaxOpenFiles() read the kernel's formats", () => {
  const status = "Name:\tdeno\nVmPeak:\t 2000 kB\nVmSize:\t  1500 kB\nVmRSS:\t   300 kB\n" +
    "VmData:\t 700 kB\nThreads:\t12\n";
  assertEquals(parseProcStatus(status), {
    VmPeak: 2000 * 1024,
    VmSize: 1500 * 1024,
    VmRSS: 300 * 1024,
    VmData: 700 * 1024,
  });
  const limits =
    "Limit                     Soft Limit           Hard Limit           Units     \n" +
    "Max processes             95421                95421                processes \n" +
    "Max open files            1024                 524288               files     \n";
  assertEquals(parseMaxOpenFiles(limits), 1024);
  assertEquals(parseMaxOpenFiles(limits.replace("1024 ", "unlimited")), Infinity);
});

Deno.test("process metrics - memory and file descriptors match the exporter's /proc", async () => {
  const port = freePort();
  const exporter = startExporter([
    "--streams",
    "1",
    "--listen",
    `127.0.0.1:${port}`,
    "--log-format",
    "json",
    "--nvidia-smi",
    "/nonexistent/nvidia-smi",
  ]);
  try {
    const text = await pollUntil(
      `http://127.0.0.1:${port}/metrics`,
      (t) => (sampleValue(t, "pose_frames_total", { stream_id: "s0" }) ?? 0) > 0,
    );
    const pid = exporter.child.pid;
    // Read by other programs: the tests' permissions, as the exporter's, let only --allow-all
    // read /proc's special files.
    const status = parseProcStatus(await shellOutput(`cat /proc/${pid}/status`));
    const fds = (await shellOutput(`ls /proc/${pid}/fd`)).trim().split("\n").length;
    const maxFds = parseMaxOpenFiles(await shellOutput(`cat /proc/${pid}/limits`));
    const value = (name: string) => sampleValue(text, name, {}) ?? NaN;
    const near = (name: string, expected: number, tolerance: number) => {
      const got = value(name);
      assert(
        Math.abs(got - expected) <= tolerance * expected,
        `${name} ${got} is not within ${tolerance * 100}% of /proc's ${expected}`,
      );
    };
    // Memory moves between the scrape and the read: a generous tolerance, but never 0.
    near("process_resident_memory_bytes", status.VmRSS!, 0.25);
    near("process_virtual_memory_bytes", status.VmSize!, 0.1);
    near("process_heap_bytes", status.VmData!, 0.25);
    assert(
      Math.abs(value("process_open_fds") - fds) <= 8,
      `open fds ${value("process_open_fds")} vs ${fds}`,
    );
    assertEquals(value("process_max_fds"), maxFds);
  } finally {
    await forceStop(exporter);
  }
});
