// The shared frame slots: taken lowest first, states seen by every view, bounded.

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  FrameSlots,
  FrameSlotsError,
  SLOT_FILLING,
  SLOT_FREE,
  SLOT_IN_USE,
} from "../../src/sources/frame_slots.ts";

Deno.test("frame slots - taken lowest first, freed, and none past the count", () => {
  const slots = FrameSlots.create(3, 12);
  assertEquals([slots.acquire(), slots.acquire()], [0, 1]);
  assertEquals(slots.state(0), SLOT_FILLING);
  slots.fill(0);
  assertEquals(slots.state(0), SLOT_IN_USE);
  assertEquals(slots.acquire(), 2);
  assertEquals(slots.acquire(), -1, "a fourth slot is never made");
  assertEquals(slots.hasFree(), false);
  assertEquals(slots.inUse(), 3);
  slots.release(1);
  assertEquals(slots.state(1), SLOT_FREE);
  assertEquals(slots.acquire(), 1, "the freed slot is taken again");
  slots.releaser(2)();
  assertEquals(slots.releaser(2), slots.releaser(2), "one releaser per slot, not one per frame");
  assertEquals(slots.inUse(), 2);
});

Deno.test("frame slots - views and offsets of one shared memory; another thread's view sees the states", () => {
  const slots = FrameSlots.create(2, 100);
  assert(slots.buffer instanceof SharedArrayBuffer);
  const other = FrameSlots.from(slots.buffer, 2, 100);
  slots.view(1).fill(7);
  assertEquals(new Uint8Array(slots.buffer, slots.offset(1), 100).every((b) => b === 7), true);
  assertEquals(other.view(1)[99], 7);
  assertEquals(slots.view(1), slots.view(1), "the same view every time");
  assertEquals(slots.view(0).length, 100);
  assertEquals(other.acquire(), 0);
  assertEquals(slots.state(0), SLOT_FILLING, "a slot taken through one view is taken in all");
  assertEquals(slots.acquire(), 1);
});

Deno.test("frame slots - sizes below one, or memory too small, are refused with the sizes", () => {
  const zero = assertThrows(() => FrameSlots.create(0, 10), FrameSlotsError);
  assert(zero.message.includes("0 frame slots"), zero.message);
  assertThrows(() => FrameSlots.create(2, 0), FrameSlotsError);
  assertThrows(() => FrameSlots.create(1.5, 10), FrameSlotsError);
  const small = assertThrows(
    () => FrameSlots.from(new SharedArrayBuffer(100), 2, 100),
    FrameSlotsError,
  );
  assert(small.message.includes("2 slots of 100 bytes"), small.message);
});
