// The handover between pipe reader threads and the main thread: the ring's order, bounds and
// wrap-around, and a demand that wakes the main thread once per ask.

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { FrameHandoverError, FrameRing, HandoverDemand } from "../../src/sources/frame_handover.ts";

type Entry = [number, number, number, number];

function takeAll(ring: FrameRing): Entry[] {
  const out: Entry[] = [];
  ring.take((key, slot, finishedAt, readMs) => out.push([key, slot, finishedAt, readMs]));
  return out;
}

Deno.test("FrameRing hands entries over in order, holds its capacity, refuses one more", () => {
  const ring = FrameRing.create(3);
  assertEquals(ring.capacity, 4, "rounded up to a power of two");
  assertEquals([ring.size, ring.full, ring.oldestFinishedAt()], [0, false, Infinity]);
  for (let i = 0; i < 4; i++) ring.push(i + 1, 10 + i, 1000.5 + i, 0.25 * i);
  assertEquals([ring.size, ring.full, ring.oldestFinishedAt()], [4, true, 1000.5]);
  assertThrows(() => ring.push(9, 9, 9, 9), FrameHandoverError, "full");
  assertEquals(takeAll(ring), [
    [1, 10, 1000.5, 0],
    [2, 11, 1001.5, 0.25],
    [3, 12, 1002.5, 0.5],
    [4, 13, 1003.5, 0.75],
  ]);
  assertEquals([ring.size, ring.full], [0, false]);
  assertEquals(takeAll(ring), [], "nothing twice");
  // The other thread's view sees the same entries.
  const view = FrameRing.from(ring.buffer);
  ring.push(7, 1, 2, 3);
  assertEquals(view.size, 1);
  assertEquals(takeAll(view), [[7, 1, 2, 3]]);
  assertEquals(ring.size, 0);
});

Deno.test("FrameRing stays right when its counts wrap at 2^32", () => {
  const ring = FrameRing.create(4);
  // Both counts just short of the wrap, as after 4,294,967,294 frames.
  const counts = new Uint32Array(ring.buffer, 0, 2);
  counts[0] = counts[1] = 2 ** 32 - 2;
  assertEquals(ring.size, 0);
  for (let i = 0; i < 4; i++) ring.push(i, i, i, i);
  assertEquals(counts[0], 2, "the write count wrapped");
  assertEquals([ring.size, ring.full], [4, true]);
  assertEquals(ring.oldestFinishedAt(), 0);
  assertEquals(takeAll(ring).map((e) => e[0]), [0, 1, 2, 3]);
  assertEquals([counts[1], ring.size], [2, 0]);
});

Deno.test("FrameRing and HandoverDemand refuse sizes they cannot be made or viewed in", () => {
  for (const bad of [0, -1, 1.5, 2 ** 21]) {
    assertThrows(() => FrameRing.create(bad), FrameHandoverError, `of ${bad} entries`);
  }
  assertThrows(
    () => FrameRing.from(new SharedArrayBuffer(64 + 3 * 32)),
    FrameHandoverError,
    "in 160 bytes",
  );
  assertThrows(
    () => HandoverDemand.from(new SharedArrayBuffer(8)),
    FrameHandoverError,
    "in 8 bytes",
  );
});

Deno.test("HandoverDemand wakes once per ask, when the frames asked for are pending", () => {
  const main = HandoverDemand.create();
  const reader = HandoverDemand.from(main.buffer);
  assertEquals(reader.handedOver(), false, "nobody asked");
  main.taken(1);
  assertEquals(main.want(3), false);
  assertEquals([reader.handedOver(), reader.handedOver()], [false, false]);
  assertEquals(reader.handedOver(), true, "the third meets the demand");
  assertEquals(reader.handedOver(), false, "one wake-up per ask");
  assertEquals(main.pending, 4);
  main.taken(4);
  assertEquals(main.pending, 0);
  // Already met when asked: take now, and the ask is withdrawn.
  reader.handedOver();
  assertEquals(main.want(1), true);
  assertEquals(reader.handedOver(), false, "withdrawn: no wake-up");
  assertEquals(main.want(0), true, "an ask is for one frame at least");
});

Deno.test("HandoverDemand with an age limit: the reader whose oldest frame outwaits it wakes, once", () => {
  const main = HandoverDemand.create();
  const reader = HandoverDemand.from(main.buffer);
  assertEquals(reader.maxAgeMs, Infinity, "nothing asked");
  assertEquals(main.want(32, 20), false);
  assertEquals(reader.maxAgeMs, 20);
  assertEquals(reader.handedOver(), false, "one frame of 32");
  assertEquals(reader.overdue(1000, 1019.5), false, "19.5 ms old");
  assertEquals(reader.overdue(1000, 1020), true, "20 ms old");
  assertEquals(reader.overdue(1000, 1030), false, "one wake-up per ask");
  assertEquals(reader.maxAgeMs, Infinity, "the ask is spent");
  // Frames that came since the last take: their age is unknown to the main thread, take now.
  assertEquals(main.want(32, 20), true);
  assertEquals(reader.overdue(0, 1e9), false, "withdrawn");
  main.taken(1);
  // Without an age limit, age wakes nobody; a fractional limit is kept to the microsecond.
  main.want(4);
  assertEquals(reader.overdue(0, 1e9), false);
  main.want(4, 2.5);
  assertEquals(reader.maxAgeMs, 2.5);
  assertEquals(reader.overdue(0, 2.5), true);
});

Deno.test("FrameRing and HandoverDemand across threads: every frame once, in order", async () => {
  const ring = FrameRing.create(8);
  const demand = HandoverDemand.create();
  const total = 2000;
  const code = `
    import { FrameRing, HandoverDemand } from ${
    JSON.stringify(new URL("../../src/sources/frame_handover.ts", import.meta.url).href)
  };
    self.onmessage = (e) => {
      const ring = FrameRing.from(e.data.ring);
      const demand = HandoverDemand.from(e.data.demand);
      for (let i = 0; i < e.data.total;) {
        if (ring.full) { Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 0.05); continue; }
        ring.push(i, i % 7, i * 2, 0);
        if (demand.handedOver()) self.postMessage("wake");
        i++;
      }
      self.postMessage("done");
    };`;
  const url = URL.createObjectURL(new Blob([code], { type: "text/javascript" }));
  const worker = new Worker(url, { type: "module" });
  const keys: number[] = [];
  let wakes = 0;
  const take = () => {
    const n = ring.take((key, slot, finishedAt) => {
      assertEquals([slot, finishedAt], [key % 7, key * 2]);
      keys.push(key);
    });
    demand.taken(n);
  };
  const done = new Promise<void>((resolve) => {
    worker.onmessage = (event) => {
      take();
      if (event.data === "wake") {
        wakes++;
        demand.want(4);
      } else resolve();
    };
  });
  demand.want(4);
  worker.postMessage({ ring: ring.buffer, demand: demand.buffer, total });
  // The main thread also takes while the reader writes, as the batcher does between wake-ups.
  let finished = false;
  void done.then(() => (finished = true));
  while (!finished) {
    take();
    await new Promise((r) => setTimeout(r, 0));
  }
  await done;
  take();
  worker.terminate();
  URL.revokeObjectURL(url);
  assertEquals(keys.length, total);
  assert(keys.every((key, i) => key === i), "in order, none twice, none lost");
  assertEquals(demand.pending, 0);
});
