import { assert, assertEquals } from "../_assert.ts";
import { Batcher, type FrameFeed } from "../../src/pipeline/batcher.ts";
import type { Frame } from "../../src/sources/frame.ts";

const LB = { scale: 1, padX: 0, padY: 0, sourceWidth: 4, sourceHeight: 4 };
const PIXELS = new Uint8Array(48);

function frame(stream: number, seq: number, capturedAt: number): Frame {
  return { stream, seq, capturedAt, pixels: PIXELS, letterbox: LB };
}

function ids(batch: Frame[] | null): string[] {
  return (batch ?? []).map((f) => `${f.stream}:${f.seq}`);
}

Deno.test("Batcher.takeReady() closes a full batch across streams, round-robin", () => {
  let now = 0;
  const b = new Batcher(3, { maxBatch: 4, timeoutMs: 50, queueFrames: 8, now: () => now });
  b.push(frame(0, 0, 0));
  b.push(frame(0, 1, 1));
  b.push(frame(0, 2, 2));
  assertEquals(b.takeReady(), null);
  b.push(frame(1, 0, 3));
  b.push(frame(2, 0, 4));
  now = 5;
  assertEquals(ids(b.takeReady()), ["0:0", "1:0", "2:0", "0:1"]);
  assertEquals(b.size, 1);
});

Deno.test("Batcher.takeReady() closes a partial batch once its oldest frame waited the timeout", () => {
  let now = 100;
  const b = new Batcher(2, { maxBatch: 8, timeoutMs: 20, queueFrames: 8, now: () => now });
  b.push(frame(0, 0, 100));
  now = 110;
  b.push(frame(1, 0, 110));
  now = 119.9;
  assertEquals(b.takeReady(), null);
  now = 120;
  assertEquals(ids(b.takeReady()), ["0:0", "1:0"]);
  assertEquals(b.takeReady(), null);
});

Deno.test("Batcher drops the oldest frame of a stream that falls behind, and only that stream's", () => {
  const dropped: string[] = [];
  const b = new Batcher(2, {
    maxBatch: 100,
    timeoutMs: 1000,
    queueFrames: 3,
    now: () => 0,
    onDrop: (f) => dropped.push(`${f.stream}:${f.seq}`),
  });
  for (let seq = 0; seq < 7; seq++) b.push(frame(0, seq, seq));
  b.push(frame(1, 0, 0));
  assertEquals(dropped, ["0:0", "0:1", "0:2", "0:3"]);
  assertEquals(b.depth(0), 3);
  assertEquals(b.depth(1), 1);
  assertEquals(b.size, 4);
  b.close();
  assertEquals(ids(b.takeReady()), ["0:4", "1:0", "0:5", "0:6"]);
});

Deno.test("Batcher never delivers a frame twice and loses none it did not report", async () => {
  const dropped = new Set<string>();
  const b = new Batcher(4, {
    maxBatch: 5,
    timeoutMs: 1,
    queueFrames: 4,
    onDrop: (f) => dropped.add(`${f.stream}:${f.seq}`),
  });
  const seen = new Set<string>();
  const consumer = (async () => {
    for (let batch = await b.nextBatch(); batch; batch = await b.nextBatch()) {
      for (const f of batch) {
        const id = `${f.stream}:${f.seq}`;
        assert(!seen.has(id), `delivered twice: ${id}`);
        seen.add(id);
      }
    }
  })();
  let pushed = 0;
  for (let seq = 0; seq < 200; seq++) {
    for (let s = 0; s < 4; s++) {
      b.push(frame(s, seq, performance.now()));
      pushed++;
    }
    if (seq % 10 === 0) await new Promise((r) => setTimeout(r, 2));
  }
  b.close();
  await consumer;
  assertEquals(seen.size + dropped.size, pushed);
  for (const id of dropped) assert(!seen.has(id), `dropped and delivered: ${id}`);
});

Deno.test("Batcher.nextBatch() resolves a partial batch after the timeout, and null once closed", async () => {
  const b = new Batcher(1, { maxBatch: 8, timeoutMs: 5, queueFrames: 8 });
  b.push(frame(0, 0, performance.now()));
  assertEquals(ids(await b.nextBatch()), ["0:0"]);
  const pending = b.nextBatch();
  b.close();
  assertEquals(await pending, null);
});

Deno.test("Batcher.waitForRoom() holds a stream at its queue limit until a batch takes a frame", async () => {
  const b = new Batcher(1, { maxBatch: 1, timeoutMs: 0, queueFrames: 2, now: () => 0 });
  b.push(frame(0, 0, 0));
  b.push(frame(0, 1, 0));
  let released = false;
  const room = b.waitForRoom(0).then(() => (released = true));
  await Promise.resolve();
  assertEquals(released, false);
  b.takeReady();
  await room;
  assertEquals(released, true);
});

Deno.test("Batcher.drain() hands back every waiting frame", () => {
  const b = new Batcher(2, { maxBatch: 8, timeoutMs: 100, queueFrames: 8, now: () => 0 });
  b.push(frame(0, 0, 0));
  b.push(frame(1, 0, 0));
  b.push(frame(1, 1, 0));
  b.close();
  assertEquals(b.drain().length, 3);
  assertEquals(b.size, 0);
  assertEquals(b.takeReady(), null);
});

/** A feed as the pipe readers are: frames wait in it until collected, and it wakes on demand. */
class HeldFrames implements FrameFeed {
  held: Frame[] = [];
  /** Each ask: frames, and the age limit when one was given. */
  asks: [number, number | undefined][] = [];
  #batcher: Batcher | null = null;

  attach(batcher: Batcher): void {
    this.#batcher = batcher;
  }

  collect(): number {
    const frames = this.held.splice(0);
    for (const f of frames) this.#batcher!.push(f);
    return frames.length;
  }

  want(frames: number, maxAgeMs?: number): boolean {
    this.asks.push([frames, maxAgeMs]);
    return this.held.length >= frames || (maxAgeMs !== undefined && this.held.length > 0);
  }

  /** A frame arrives; the feed wakes the batcher (collects) only when the last ask is met. */
  arrive(f: Frame): void {
    this.held.push(f);
    if (this.held.length >= this.asks.at(-1)![0]) this.collect();
  }

  /** The clock says `now`: a held frame older than the last ask's age limit wakes the batcher. */
  tick(now: number): void {
    const age = this.asks.at(-1)?.[1];
    if (age !== undefined && this.held.some((f) => now - f.capturedAt >= age)) this.collect();
  }
}

Deno.test("Batcher with a feed collects at each decision and asks for what fills a batch", async () => {
  const feed = new HeldFrames();
  const b = new Batcher(2, { maxBatch: 4, timeoutMs: 1000, queueFrames: 8, now: () => 0, feed });
  feed.attach(b);
  // Frames already held are collected before the decision: no wait, no ask.
  for (let i = 0; i < 4; i++) feed.held.push(frame(i % 2, i, 0));
  assertEquals(ids(await b.nextBatch()), ["0:0", "1:1", "0:2", "1:3"]);
  assertEquals(feed.asks, []);
  // Empty: it asks for a whole batch, or the timeout's age (no wake-up to arm a timer).
  const next = b.nextBatch();
  await Promise.resolve();
  assertEquals(feed.asks, [[4, 1000]]);
  feed.arrive(frame(0, 4, 0));
  feed.arrive(frame(0, 5, 0));
  feed.arrive(frame(1, 6, 0));
  await new Promise((r) => setTimeout(r, 0));
  assertEquals([b.size, feed.held.length], [0, 3], "held until the ask is met");
  feed.arrive(frame(1, 7, 0));
  assertEquals(ids(await next), ["1:6", "0:4", "1:7", "0:5"], "round-robin from the next stream");
  // An ask already met when made: collected at once.
  feed.held.push(frame(0, 8, 0));
  const partial = b.nextBatch();
  feed.held.push(frame(0, 9, 0), frame(1, 10, 0), frame(1, 11, 0));
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(ids(await partial), ["0:8", "1:10", "0:9", "1:11"]);
});

Deno.test("Batcher with a feed: the feed's frame that outwaits the timeout closes the batch", async () => {
  const feed = new HeldFrames();
  let now = 0;
  const b = new Batcher(2, { maxBatch: 4, timeoutMs: 20, queueFrames: 8, now: () => now, feed });
  feed.attach(b);
  const next = b.nextBatch();
  await Promise.resolve();
  feed.arrive(frame(0, 0, 5));
  feed.arrive(frame(1, 1, 7));
  now = 24;
  feed.tick(now);
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(feed.held.length, 2, "not yet 20 ms old");
  now = 25;
  feed.tick(now);
  assertEquals(ids(await next), ["0:0", "1:1"], "closed by the oldest frame's age");
  assertEquals(feed.asks, [[4, 20]], "one ask: no first-frame wake-up to arm a timer");
  // A frame queued here (a source that pushes) arms the batcher's own timer; the feed is then
  // asked for what fills the batch, without an age.
  const second = b.nextBatch();
  await Promise.resolve();
  b.push(frame(1, 2, 25));
  await new Promise((r) => setTimeout(r, 0));
  assertEquals(feed.asks.at(-1), [3, undefined]);
  now = 45;
  assertEquals(ids(await second), ["1:2"], "closed by the batcher's timer");
});

Deno.test("Batcher with a feed whose count is out of step (frames said to wait, none handed) does not spin", async () => {
  let asks = 0;
  const feed: FrameFeed = {
    collect: () => 0,
    want: () => {
      if (++asks > 1000) throw new Error("asked in a loop");
      return true;
    },
  };
  const b = new Batcher(1, { maxBatch: 4, timeoutMs: 5, queueFrames: 8, feed });
  const next = b.nextBatch();
  await new Promise((r) => setTimeout(r, 30));
  assert(asks >= 2 && asks <= 40, `${asks} asks in 30 ms with a 5 ms timeout`);
  b.push(frame(0, 0, performance.now()));
  b.close();
  assertEquals(ids(await next), ["0:0"]);
});
