// The pipe reader threads: whole frames into shared slots, drain, close mid-frame, reattach, a
// reader thread per few streams that ends with its last stream, and a reader that waits (bounded)
// when every slot is taken.

import { assert, assertEquals } from "../_assert.ts";
import { FrameSlots } from "../../src/sources/frame_slots.ts";
import { type PipeFrame, PipeReaders } from "../../src/sources/pipe_readers.ts";
import { waitFor } from "../_media.ts";

const FRAME = 3 * 64 * 10;

/** Frames whose bytes are all `value + i` (i from 0), one after the other. */
function frames(count: number, value: number): Uint8Array {
  const out = new Uint8Array(count * FRAME);
  for (let i = 0; i < count; i++) out.fill(value + i, i * FRAME, (i + 1) * FRAME);
  return out;
}

async function exists(path: string): Promise<boolean> {
  try {
    await Deno.stat(path);
    return true;
  } catch {
    return false;
  }
}

const available = PipeReaders.available();

Deno.test({
  name:
    "pipe readers - whole frames land in the slots, in order; drain hands on what the pipe held",
  ignore: !available,
  fn: async () => {
    const readers = new PipeReaders();
    const slots = FrameSlots.create(8, FRAME);
    const got: { frame: PipeFrame; first: number; last: number }[] = [];
    const reading = await readers.attach({
      slots,
      frameBytes: FRAME,
      onFrame: (frame) => {
        const view = slots.view(frame.slot);
        got.push({ frame, first: view[0]!, last: view[FRAME - 1]! });
        slots.release(frame.slot);
      },
    });
    assertEquals(readers.threads, 1);
    assert(reading.pipeBytes >= 65536, `pipe of ${reading.pipeBytes} bytes`);
    const writer = await Deno.open(reading.path, { write: true });
    // Written in pieces that cut frames anywhere: only whole frames come out.
    const bytes = frames(5, 10);
    for (let at = 0; at < bytes.length; at += 1000) {
      await writer.write(bytes.subarray(at, Math.min(bytes.length, at + 1000)));
    }
    writer.close();
    await reading.drain();
    assertEquals(got.map((g) => [g.first, g.last]), [[10, 10], [11, 11], [12, 12], [13, 13], [
      14,
      14,
    ]]);
    for (const g of got) assert(g.frame.readMs >= 0 && Number.isFinite(g.frame.capturedAt));
    assertEquals(slots.inUse(), 0);
    assertEquals(readers.threads, 0, "the reader thread ends with its last stream");
    assertEquals(await exists(reading.path), false, "the FIFO is removed");
    assertEquals(readers.frames, 5);
  },
});

Deno.test({
  name: "pipe readers - a stream closed mid-frame gives its slot back; one reattached reads on",
  ignore: !available,
  fn: async () => {
    const readers = new PipeReaders();
    const slots = FrameSlots.create(4, FRAME);
    const seen: number[] = [];
    const onFrame = (frame: PipeFrame) => {
      seen.push(slots.view(frame.slot)[0]!);
      slots.release(frame.slot);
    };
    const first = await readers.attach({ slots, frameBytes: FRAME, onFrame });
    const writer = await Deno.open(first.path, { write: true });
    await writer.write(frames(1, 1));
    await writer.write(frames(1, 2).subarray(0, FRAME / 2));
    await waitFor(() => seen.length === 1, "the whole frame");
    await first.close();
    writer.close();
    assertEquals(seen, [1], "the half frame is given up");
    assertEquals(slots.inUse(), 0, "the slot it was filling is free again");
    assertEquals(readers.threads, 0);
    // The same slots, a new pipe (a restarted ffmpeg).
    const second = await readers.attach({ slots, frameBytes: FRAME, onFrame });
    assert(second.path !== first.path);
    const again = await Deno.open(second.path, { write: true });
    await again.write(frames(2, 5));
    again.close();
    await second.drain();
    assertEquals(seen, [1, 5, 6]);
    assertEquals(slots.inUse(), 0);
  },
});

Deno.test({
  name: "pipe readers - a few streams per thread; a thread ends only when its last stream goes",
  ignore: !available,
  fn: async () => {
    const readers = new PipeReaders({ streamsPerReader: 2 });
    const made = [];
    for (let i = 0; i < 3; i++) {
      const slots = FrameSlots.create(2, FRAME);
      made.push(
        await readers.attach({ slots, frameBytes: FRAME, onFrame: (f) => slots.release(f.slot) }),
      );
    }
    assertEquals([readers.threads, readers.streams], [2, 3]);
    await made[0]!.close();
    assertEquals([readers.threads, readers.streams], [2, 2], "its thread still reads another");
    await made[1]!.close();
    assertEquals([readers.threads, readers.streams], [1, 1]);
    await made[2]!.close();
    assertEquals([readers.threads, readers.streams], [0, 0]);
  },
});

Deno.test({
  name: "pipe readers - with every slot taken the reader waits (nothing grows), then reads on",
  ignore: !available,
  fn: async () => {
    const readers = new PipeReaders();
    const slots = FrameSlots.create(2, FRAME);
    const held: number[] = [];
    let delivered = 0;
    const reading = await readers.attach({
      slots,
      frameBytes: FRAME,
      onFrame: (frame) => {
        delivered++;
        held.push(frame.slot);
        assert(slots.inUse() <= 2);
      },
    });
    const writer = await Deno.open(reading.path, { write: true });
    await writer.write(frames(6, 20));
    await waitFor(() => delivered === 2, "two frames");
    await new Promise((r) => setTimeout(r, 100));
    assertEquals(delivered, 2, "no frame past the slots");
    assertEquals(slots.inUse(), 2);
    // Freed without a message: the reader looks again within a few ms.
    while (delivered < 6) {
      for (const slot of held.splice(0)) slots.release(slot);
      await new Promise((r) => setTimeout(r, 10));
    }
    writer.close();
    await reading.close();
    for (const slot of held.splice(0)) slots.release(slot);
    assertEquals(slots.inUse(), 0);
  },
});

Deno.test({
  name: "pipe readers - frames wait in the ring until the demand is met: one wake-up, not one each",
  ignore: !available,
  fn: async () => {
    const readers = new PipeReaders();
    const slots = FrameSlots.create(16, FRAME);
    const seen: number[] = [];
    const reading = await readers.attach({
      slots,
      frameBytes: FRAME,
      onFrame: (frame) => {
        seen.push(slots.view(frame.slot)[0]!);
        slots.release(frame.slot);
      },
    });
    assertEquals(readers.want(8), false, "nothing waits yet");
    const writer = await Deno.open(reading.path, { write: true });
    await writer.write(frames(8, 30));
    await waitFor(() => seen.length === 8, "the eight frames");
    assertEquals(seen, [30, 31, 32, 33, 34, 35, 36, 37]);
    // The reader reads two frames per round; a wake-up per frame would be 8. A second one comes
    // only if reading the eight took longer than the hold (40 ms).
    assert(readers.wakeUps <= 2, `${readers.wakeUps} wake-ups for 8 frames`);
    // Asked for one more while none waits: nothing to collect until a frame comes.
    assertEquals(readers.want(1), false);
    assertEquals(readers.collect(), 0);
    writer.close();
    await reading.drain();
    assertEquals(slots.inUse(), 0);
  },
});

Deno.test({
  name: "pipe readers - unasked, frames still arrive (held 40 ms at most); a full ring waits",
  ignore: !available,
  fn: async () => {
    // A ring of two entries for sixteen slots: the reader waits on the ring, not on the slots.
    const readers = new PipeReaders({ ringEntries: 2 });
    const slots = FrameSlots.create(16, FRAME);
    const seen: number[] = [];
    let mostInUse = 0;
    const reading = await readers.attach({
      slots,
      frameBytes: FRAME,
      onFrame: (frame) => {
        mostInUse = Math.max(mostInUse, slots.inUse());
        seen.push(slots.view(frame.slot)[0]!);
        slots.release(frame.slot);
      },
    });
    const writer = await Deno.open(reading.path, { write: true });
    await writer.write(frames(10, 50));
    await waitFor(() => seen.length === 10, "the ten frames");
    assertEquals(seen, [50, 51, 52, 53, 54, 55, 56, 57, 58, 59], "in order, none lost");
    assert(mostInUse <= 3, `${mostInUse} slots in use with a ring of 2 (+1 being filled)`);
    assert(readers.wakeUps >= 5, `${readers.wakeUps} wake-ups: each full ring must wake`);
    writer.close();
    await reading.drain();
    assertEquals(slots.inUse(), 0);
    assertEquals(readers.frames, 10);
  },
});

Deno.test("pipe readers - a ring size that is no count is refused by name", () => {
  let message = "";
  try {
    new PipeReaders({ ringEntries: 0 });
  } catch (error) {
    message = (error as Error).message;
  }
  assertEquals(message, "Cannot read pipes with ringEntries 0");
});

/** Holds this thread for `ms` without a turn of its event loop (no message is handled). */
function busy(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until) { /* the main thread busy, as in a long turn */ }
}

Deno.test({
  name:
    "pipe readers - a frame completed while the ring is full waits in its slot; times are this thread's clock",
  ignore: !available,
  fn: async () => {
    // One ring entry for two streams. A reads half a frame (and holds a slot), B a whole one (the
    // ring is full), then A the rest, all while this thread handles no message: A's frame must
    // wait for room, not be pushed into the full ring (that ended the reader thread).
    const readers = new PipeReaders({ ringEntries: 1 });
    const seen: string[] = [];
    const stamps: number[] = [];
    const before = performance.now();
    const attach = async (name: string) => {
      const slots = FrameSlots.create(4, FRAME);
      const reading = await readers.attach({
        slots,
        frameBytes: FRAME,
        onFrame: (frame) => {
          seen.push(`${name}${slots.view(frame.slot)[0]}`);
          assert(
            frame.capturedAt >= before && frame.capturedAt <= performance.now(),
            `capturedAt ${frame.capturedAt} is not on this thread's clock (${before} .. now)`,
          );
          stamps.push(frame.capturedAt);
          slots.release(frame.slot);
        },
      });
      return { reading, writer: Deno.openSync(reading.path, { write: true }), slots };
    };
    const a = await attach("A");
    const b = await attach("B");
    const frameA = frames(1, 1);
    a.writer.writeSync(frameA.subarray(0, FRAME / 2));
    busy(40);
    b.writer.writeSync(frames(1, 2));
    busy(40);
    a.writer.writeSync(frameA.subarray(FRAME / 2));
    busy(40);
    await waitFor(() => seen.length === 2, "both frames");
    assertEquals(seen, ["B2", "A1"]);
    assertEquals(readers.threads, 1, "the reader thread still runs");
    // It reads on: a frame each, after the ring emptied.
    a.writer.writeSync(frames(1, 3));
    b.writer.writeSync(frames(1, 4));
    await waitFor(() => seen.length === 4, "two more frames");
    assertEquals(seen.slice(2).sort(), ["A3", "B4"]);
    for (const s of [a, b]) {
      s.writer.close();
      await s.reading.drain();
      assertEquals(s.slots.inUse(), 0);
    }
    assertEquals(stamps.length, 4);
  },
});
