import { assertEquals } from "../_assert.ts";
import { fixturePath } from "../_helpers.ts";
import { parseAppsCsv, parseGpuCsv } from "../../src/gpu/nvidia_smi_csv.ts";

const read = (name: string) => Deno.readTextFileSync(fixturePath(`nvidia-smi/${name}`));
const H200 = "GPU-94da28dd-9960-55f6-1a7d-33013dde2e5b";

Deno.test("parseGpuCsv() reads the real header-and-units form by its header", () => {
  const { rows, garbage } = parseGpuCsv(read("query-gpu-header.out"));
  assertEquals(garbage, []);
  assertEquals(rows, [{
    index: "0",
    uuid: H200,
    name: "NVIDIA H200",
    totalMiB: 143771,
    usedMiB: 0,
    freeMiB: 143156,
    reservedMiB: 616,
    utilizationPercent: 0,
  }]);
});

Deno.test("parseGpuCsv() maps columns by the fields asked for, in order", () => {
  const { rows } = parseGpuCsv(read("query-gpu-nounits.out"), [
    "index",
    "memory.used",
    "memory.total",
  ]);
  assertEquals(rows.map((r) => [r.index, r.usedMiB, r.totalMiB, r.uuid]), [["0", 0, 143771, null]]);
  const wide = parseGpuCsv(read("query-gpu-wide.out"));
  assertEquals(
    wide.rows.map((r) => [r.index, r.reservedMiB, r.usedMiB, r.freeMiB, r.utilizationPercent]),
    [
      ["0", 616, 0, 143156, 2],
    ],
  );
});

Deno.test("parseGpuCsv() reads every line of a -lms loop", () => {
  const { rows } = parseGpuCsv(read("loop-lms.out"), ["index", "memory.used"]);
  assertEquals(rows.length, 6);
});

Deno.test("parseGpuCsv() treats [N/A] and [Not Supported] as missing, with several GPUs", () => {
  const { rows, garbage } = parseGpuCsv(read("documented-two-gpus-na.out"));
  assertEquals(garbage, []);
  assertEquals(rows.map((r) => [r.index, r.usedMiB, r.freeMiB, r.utilizationPercent]), [
    ["0", 1337, 141818, 37],
    ["1", null, null, null],
  ]);
});

Deno.test("parseGpuCsv() notices 'No devices were found' and skips garbage lines", () => {
  assertEquals(parseGpuCsv(read("documented-no-devices.out")), {
    rows: [],
    garbage: [],
    noDevices: true,
  });
  const lost = parseGpuCsv(read("documented-gpu-lost-garbage.out"));
  assertEquals(lost.rows.length, 1);
  assertEquals(lost.garbage.length, 2);
  assertEquals(parseGpuCsv(read("documented-no-driver.out")).garbage.length, 1);
  assertEquals(
    parseGpuCsv("0, x, y, lots, 1, 2, 3, 4\n").garbage.length,
    1,
    "a bad number is garbage",
  );
});

Deno.test("parseAppsCsv() reads processes, an empty list, and [N/A] memory", () => {
  assertEquals(parseAppsCsv(read("query-compute-apps-empty.out")).rows, []);
  assertEquals(parseAppsCsv(read("documented-compute-apps-two.out")).rows, [
    { pid: 813, gpuUuid: H200, usedMiB: 1328 },
    { pid: 871, gpuUuid: "GPU-1b2c3d4e-0000-1111-2222-333344445555", usedMiB: null },
  ]);
  assertEquals(
    parseAppsCsv("813, ../deno, 1328 MiB\n", ["pid", "process_name", "used_memory"]).garbage.length,
    1,
  );
});
