import { assert, assertEquals } from "../_assert.ts";
import { computeLetterbox, type Frame } from "../../src/sources/frame.ts";
import type { Person } from "../../src/pose/decoder.ts";
import { type LiveStreamInfo, LiveView, type LiveViewOptions } from "../../src/web/live_view.ts";
import { decodeSnapshotPacket } from "../../src/web/snapshot_packet.ts";
import { LIVE_VIEW_SCRIPT } from "../../src/web/page_script.ts";

const MODEL = 64;
const LETTERBOX = computeLetterbox({ width: 1280, height: 720 }, { width: MODEL, height: MODEL });

function info(index: number, id: string, extra: Partial<LiveStreamInfo> = {}): LiveStreamInfo {
  return {
    index,
    id,
    state: "up",
    reason: null,
    decoder: "cpu",
    fps: 30,
    p50Ms: 8,
    p99Ms: 20,
    frames: 100,
    drops: 0,
    queued: 0,
    persons: 1,
    ...extra,
  };
}

function frame(stream: number, seq: number): Frame {
  return {
    stream,
    seq,
    capturedAt: 0,
    pixels: new Uint8Array(MODEL * MODEL * 3).fill(seq % 256),
    letterbox: LETTERBOX,
  };
}

function person(x: number, y: number): Person {
  const keypoints = new Float32Array(51);
  for (let k = 0; k < 17; k++) keypoints.set([x + k, y + k, 0.9], 3 * k);
  return { box: [x - 10, y - 10, x + 10, y + 10], score: 0.8, keypoints };
}

function setup(
  streams: LiveStreamInfo[],
  extra: Partial<LiveViewOptions> = {},
): { view: LiveView; clock: { now: number }; set(s: LiveStreamInfo[]): void } {
  const clock = { now: 1000 };
  let current = streams;
  const view = new LiveView({
    streams: () => current,
    // As the roster answers: a look-up of the running streams, without their figures.
    indexOf: (id) => current.find((s) => s.id === id)?.index,
    modelWidth: MODEL,
    modelHeight: MODEL,
    scoreThreshold: 0.3,
    maxSide: 32,
    now: () => clock.now,
    ...extra,
  });
  return { view, clock, set: (s) => (current = s) };
}

async function get(view: LiveView, path: string): Promise<Response> {
  const res = await view.handle(new Request(`http://x${path}`));
  assert(res !== null, `${path} is the live view's`);
  return res;
}

Deno.test("LiveView.wants() is false until a browser asks for the stream's picture", async () => {
  const { view, clock } = setup([info(0, "a"), info(1, "b")]);
  assertEquals([view.wants(0), view.wants(1), view.wants(7)], [false, false, false]);
  await (await get(view, "/live/state")).body?.cancel();
  assertEquals(view.wants(0), false, "the state poll alone takes no picture");
  assertEquals((await get(view, "/live/snapshot?stream=a")).status, 204);
  assertEquals([view.wants(0), view.wants(1)], [true, false]);
  clock.now += 3001;
  assertEquals(view.wants(0), false, "the watch times out");
});

Deno.test("LiveView.wants() bounds pictures to maxSnapshotsPerSecond", async () => {
  const { view, clock } = setup([info(0, "a")], { maxSnapshotsPerSecond: 5 });
  await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  let captured = 0;
  // Frames at 100 per second for one second, the browser polling every 200 ms.
  for (let i = 0; i < 100; i++) {
    if (i % 20 === 0) await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
    const f = frame(0, i);
    if (view.wants(0)) {
      view.capture(f);
      captured++;
    }
    view.write({ frame: f, streamId: "a", persons: [], decodedAt: 0, latencyMs: 0 });
    clock.now += 10;
  }
  assertEquals(captured, 5);
});

Deno.test("LiveView pairs a picture with the poses of its own frame", async () => {
  const { view } = setup([info(0, "a")]);
  assertEquals((await get(view, "/live/snapshot?stream=a")).status, 204);
  const shot = frame(0, 7);
  assert(view.wants(0));
  view.capture(shot);
  // A later frame's result arrives first: the picture waits for frame 7's poses.
  view.write({ frame: frame(0, 6), streamId: "a", persons: [], decodedAt: 0, latencyMs: 0 });
  const onlyLatest = await get(view, "/live/snapshot?stream=a");
  assertEquals(
    decodeSnapshotPacket(new Uint8Array(await onlyLatest.arrayBuffer())).header.width,
    0,
  );
  view.write({
    frame: shot,
    streamId: "a",
    persons: [person(100, 200)],
    decodedAt: 0,
    latencyMs: 0,
  });
  const res = await get(view, "/live/snapshot?stream=a");
  assertEquals(res.status, 200);
  assertEquals(res.headers.get("content-type"), "application/octet-stream");
  const { header, rgb } = decodeSnapshotPacket(new Uint8Array(await res.arrayBuffer()));
  assertEquals([header.stream, header.seq, header.width, header.height], ["a", 7, 32, 18]);
  assertEquals([header.sourceWidth, header.sourceHeight], [1280, 720]);
  assertEquals(rgb.length, 32 * 18 * 3);
  assert(rgb.every((v) => v === 7), "the picture is frame 7's");
  assertEquals(header.persons.length, 1);
  assertEquals(header.persons[0]!.keypoints.slice(0, 3), [100, 200, 0.9], "source pixels");
  assertEquals(header.persons[0]!.box, [90, 190, 110, 210]);
  // Asked again with the token it has, the browser gets no bytes.
  const again = await get(view, `/live/snapshot?stream=a&after=${header.token}`);
  assertEquals(again.status, 204);
});

Deno.test("LiveView.wants() waits for a pending picture's poses before the next one", async () => {
  const { view, clock } = setup([info(0, "a")]);
  await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  const first = frame(0, 1);
  view.capture(first);
  clock.now += 1000; // latency above the interval: the picture still waits for its poses
  assertEquals(view.wants(0), false);
  await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  view.write({ frame: first, streamId: "a", persons: [], decodedAt: 0, latencyMs: 0 });
  assertEquals(view.wants(0), true);
  view.capture(frame(0, 2));
  clock.now += 2000;
  await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  assertEquals(view.wants(0), false);
  clock.now += 3001; // frame 2 never came back (an inference error): give up on it
  await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  assertEquals(view.wants(0), true);
});

Deno.test("LiveView.handle() answers 404 for a snapshot of an unknown stream", async () => {
  const { view } = setup([info(0, "a")]);
  assertEquals((await get(view, "/live/snapshot?stream=zz")).status, 404);
  assertEquals((await get(view, "/live/snapshot")).status, 404);
});

Deno.test("LiveView.handle() leaves paths it does not own to the caller", async () => {
  const { view } = setup([info(0, "a")]);
  for (const path of ["/metrics", "/healthz", "/live/other", "/index.html"]) {
    assertEquals(await view.handle(new Request(`http://x${path}`)), null, path);
  }
  const post = await view.handle(new Request("http://x/live/state", { method: "POST" }));
  assertEquals(post?.status, 405);
});

Deno.test("LiveView.handle() serves a page with a tile per stream already in its HTML", async () => {
  const { view } = setup([
    info(0, "cam-1"),
    info(1, 'yard "<b>"', { state: "down", reason: "ffmpeg exited: 404 Not Found" }),
  ]);
  const res = await get(view, "/");
  assertEquals(res.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await res.text();
  const ids = [...html.matchAll(/<article class="tile" data-stream-id="([^"]*)"/g)].map((m) =>
    m[1]
  );
  assertEquals(ids, ["cam-1", "yard &#34;&#60;b&#62;&#34;"]);
  assert(html.includes("down: ffmpeg exited: 404 Not Found"), "a down stream shows its reason");
  assert(!html.includes("<b>"), "ids are escaped");
  assert(html.includes('<script src="/live/app.js">'));
  assert(!/https?:\/\/(?!www\.w3\.org)/.test(html), "nothing is loaded from another host");
  const css = await get(view, "/live/style.css");
  assertEquals(css.headers.get("content-type"), "text/css; charset=utf-8");
  const js = await get(view, "/live/app.js");
  assertEquals(js.headers.get("content-type"), "text/javascript; charset=utf-8");
  assertEquals(await js.text(), LIVE_VIEW_SCRIPT);
  await css.body?.cancel();
});

Deno.test("LiveView page script is valid JavaScript without EventSource or WebSocket", () => {
  new Function(LIVE_VIEW_SCRIPT);
  assert(!/EventSource|WebSocket/.test(LIVE_VIEW_SCRIPT));
});

Deno.test("LiveView.handle() state follows streams added and removed at run time", async () => {
  const { view, set } = setup([info(0, "a"), info(1, "b")]);
  await (await get(view, "/live/snapshot?stream=b")).body?.cancel();
  assert(view.wants(1));
  set([info(0, "a"), info(2, "c")]);
  // The roster tells its listeners of the removal.
  view.streamRemoved({ index: 1, id: "b" });
  const state = await (await get(view, "/live/state")).json();
  assertEquals(state.streams.map((s: LiveStreamInfo) => s.id), ["a", "c"]);
  assertEquals(state.scoreThreshold, 0.3);
  assertEquals(view.wants(1), false, "a removed stream is no longer pictured");
  assertEquals((await get(view, "/live/snapshot?stream=b")).status, 404);
});

Deno.test("LiveView.close() stops taking pictures", async () => {
  const { view } = setup([info(0, "a")]);
  await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  assert(view.wants(0));
  await view.close();
  assertEquals(view.wants(0), false);
});

Deno.test("LiveView.handle() answers snapshot requests without computing every stream's state", async () => {
  let calls = 0;
  const view = new LiveView({
    streams: () => {
      calls++;
      return [info(0, "a")];
    },
    indexOf: (id) => id === "a" ? 0 : undefined,
    modelWidth: MODEL,
    modelHeight: MODEL,
    scoreThreshold: 0.3,
    now: () => 0,
  });
  await (await get(view, "/live/state")).body?.cancel();
  for (let i = 0; i < 10; i++) await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  for (let i = 0; i < 10; i++) await (await get(view, "/live/snapshot?stream=zz")).body?.cancel();
  assertEquals(calls, 1);
});

/** Takes a picture of `seq` for stream index `stream` (id `id`) with its poses written. */
function picture(view: LiveView, stream: number, id: string, seq: number): void {
  const f = frame(stream, seq);
  assert(view.wants(stream), `stream ${stream} is watched`);
  view.capture(f);
  view.write({ frame: f, streamId: id, persons: [person(10, 20)], decodedAt: 0, latencyMs: 0 });
}

async function snapshotSeq(view: LiveView, id: string): Promise<number> {
  const res = await get(view, `/live/snapshot?stream=${id}`);
  assertEquals(res.status, 200);
  return decodeSnapshotPacket(new Uint8Array(await res.arrayBuffer())).header.seq;
}

Deno.test("LiveView.forget() drops a removed stream: its snapshot answers 404 at once", async () => {
  let calls = 0;
  let current = [info(0, "a"), info(1, "b")];
  const { view } = setup([], {
    streams: () => {
      calls++;
      return current;
    },
    indexOf: (id) => current.find((s) => s.id === id)?.index,
  });
  await (await get(view, "/live/state")).body?.cancel();
  await (await get(view, "/live/snapshot?stream=b")).body?.cancel();
  picture(view, 1, "b", 7);
  assertEquals(await snapshotSeq(view, "b"), 7);
  current = [info(0, "a")];
  // The roster no longer has it: 404 at once, before any listener was told.
  assertEquals((await get(view, "/live/snapshot?stream=b")).status, 404);
  view.streamRemoved({ index: 1, id: "b" });
  const res = await get(view, "/live/snapshot?stream=b");
  assertEquals(res.status, 404);
  assertEquals(await res.text(), "no such stream\n");
  assertEquals(view.wants(1), false, "its slot is gone");
  // A result of the removed stream still in flight is not pictured.
  view.capture(frame(1, 8));
  assertEquals((await get(view, "/live/snapshot?stream=b")).status, 404);
  assertEquals(calls, 1, "snapshots and forget call no streams()");
  view.forget("never-there"); // unknown ids are ignored
});

Deno.test("LiveView.forget() lets a restarted stream's id map to its new index", async () => {
  const { view, set } = setup([info(0, "a"), info(1, "b")]);
  await (await get(view, "/live/state")).body?.cancel();
  await (await get(view, "/live/snapshot?stream=a")).body?.cancel();
  picture(view, 0, "a", 3);
  assertEquals(await snapshotSeq(view, "a"), 3);
  // A restart: same id, new index 2; the old index's picture is dropped.
  set([info(1, "b"), info(2, "a")]);
  view.streamRemoved({ index: 0, id: "a" });
  const first = await get(view, "/live/snapshot?stream=a");
  assertEquals(first.status, 204, "no picture of the new stream yet, and none of the old");
  assertEquals([view.wants(0), view.wants(2)], [false, true]);
  // A late result of the old stream changes nothing.
  view.write({ frame: frame(0, 4), streamId: "a", persons: [], decodedAt: 0, latencyMs: 0 });
  assertEquals((await get(view, "/live/snapshot?stream=a")).status, 204);
  picture(view, 2, "a", 1);
  assertEquals(await snapshotSeq(view, "a"), 1);
});

Deno.test("LiveView snapshot of a present stream never calls streams()", async () => {
  let calls = 0;
  const current = [info(0, "up"), info(1, "down", { state: "down" })];
  const { view, clock } = setup([], {
    streams: () => {
      calls++;
      return current;
    },
    indexOf: (id) => current.find((s) => s.id === id)?.index,
  });
  await (await get(view, "/live/state")).body?.cancel();
  // For 60 s: stream "up" has a frame every 100 ms, stream "down" never has one; both watched.
  for (let i = 0; i < 600; i++) {
    if (i % 2 === 0) {
      for (const id of ["up", "down"]) {
        const res = await get(view, `/live/snapshot?stream=${id}`);
        assert(res.status === 200 || res.status === 204, `${id} is served`);
        await res.body?.cancel();
      }
    }
    const f = frame(0, i);
    if (view.wants(0)) view.capture(f);
    view.write({ frame: f, streamId: "up", persons: [], decodedAt: 0, latencyMs: 0 });
    clock.now += 100;
  }
  assertEquals(await snapshotSeq(view, "up") > 500, true);
  assertEquals(calls, 1, "only the state request took every stream's snapshot");
});
