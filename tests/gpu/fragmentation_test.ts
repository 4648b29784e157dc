import { assertEquals } from "../_assert.ts";
import { CalibrationTable, fragmentationRatio, WorkingShape } from "../../src/gpu/fragmentation.ts";

Deno.test("fragmentationRatio() is 1 - needed/used, clamped to 0..1", () => {
  // The H200 figures of docs/fragmentation.md: 5822 MiB held after batch 32, 1726 MiB needed at batch 8.
  assertEquals(fragmentationRatio(5822, 1726), 1 - 1726 / 5822);
  assertEquals(fragmentationRatio(1726, 1726), 0);
  assertEquals(fragmentationRatio(1000, 1500), 0, "needing more than held is no waste");
  assertEquals(fragmentationRatio(1000, 0), 1);
  assertEquals(fragmentationRatio(0, 10), null);
  assertEquals(fragmentationRatio(null, 10), null);
  assertEquals(fragmentationRatio(10, null), null);
});

Deno.test("WorkingShape.current() is the largest shape run in the window", () => {
  const w = new WorkingShape(60_000);
  assertEquals(w.current(0), null);
  w.record(8, 0);
  w.record(32, 1_000);
  w.record(8, 50_000);
  assertEquals(w.current(60_000), 32);
  assertEquals(w.current(61_001), 8, "the burst left the window");
  assertEquals(w.current(200_000), null);
});

Deno.test("growth of the working shape reads as no waste", () => {
  const table = new CalibrationTable();
  table.set(8, 1726);
  table.set(32, 5822);
  const w = new WorkingShape(60_000);
  w.record(8, 0);
  w.record(32, 10_000);
  // Load grew to batch 32 and the arena with it: no waste while 32 is in the window.
  assertEquals(fragmentationRatio(5822, table.get(w.current(20_000)!)), 0);
  // A minute after the burst the working shape is 8 again and the same memory is mostly waste.
  w.record(8, 70_000);
  assertEquals(fragmentationRatio(5822, table.get(w.current(71_000)!)), 1 - 1726 / 5822);
});

Deno.test("CalibrationTable.get() falls back to the nearest shape above, else below", () => {
  const table = new CalibrationTable();
  assertEquals(table.get(4), null);
  table.set(2, 100);
  table.set(8, 300);
  assertEquals([table.get(1), table.get(2), table.get(4), table.get(16)], [100, 100, 300, 300]);
  assertEquals(table.entries(), [[2, 100], [8, 300]]);
});
