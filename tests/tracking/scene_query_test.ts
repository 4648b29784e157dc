// The walking scene's query: a ground-truth path that cannot be written and a repeated
// parameter are refused when the URI is parsed (and so at start, exit 2), naming what is wrong.

import { assertEquals, assertThrows } from "../_assert.ts";
import { parseSceneQuery, SceneSource } from "../../src/sources/scene_source.ts";
import { StreamLifecycle } from "../../src/sources/stream_lifecycle.ts";
import { PoseMetrics } from "../../src/metrics/pose_metrics.ts";
import { Logger } from "../../src/log.ts";
import { parseConfig } from "../../src/config.ts";

Deno.test("scene query: a gt path in a directory that does not exist is refused, naming it", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scene_query" });
  try {
    const path = `${dir}/nonexistdir/gt.txt`;
    const err = assertThrows(() => parseSceneQuery(`scene=walk&gt=${path}`), Error);
    assertEquals(err.message.includes(path), true, err.message);
    assertEquals(err.message.includes("does not exist"), true, err.message);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("scene query: a gt path that is a directory, or under a file, is refused", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scene_query" });
  try {
    const err = assertThrows(() => parseSceneQuery(`scene=walk&gt=${dir}`), Error);
    assertEquals(err.message, `gt=${dir} is a directory: give the path of a file`);
    Deno.writeTextFileSync(`${dir}/file`, "");
    const under = assertThrows(() => parseSceneQuery(`scene=walk&gt=${dir}/file/gt.txt`), Error);
    assertEquals(under.message.includes("is not a directory"), true, under.message);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("scene query: a writable gt path is taken, existing or not, and nothing is written yet", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scene_query" });
  try {
    assertEquals(parseSceneQuery(`scene=walk&gt=${dir}/gt.txt`), {
      name: "walk",
      groundTruthPath: `${dir}/gt.txt`,
    });
    assertEquals([...Deno.readDirSync(dir)].length, 0);
    Deno.writeTextFileSync(`${dir}/old.txt`, "x");
    assertEquals(parseSceneQuery(`scene=walk&gt=${dir}/old.txt`).groundTruthPath, `${dir}/old.txt`);
    assertEquals(parseSceneQuery("scene=walk"), { name: "walk", groundTruthPath: null });
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("scene query: a repeated parameter is refused, naming it", () => {
  const dir = Deno.makeTempDirSync({ prefix: "scene_query" });
  try {
    const gt = assertThrows(
      () => parseSceneQuery(`scene=walk&gt=${dir}/a&gt=${dir}/b`),
      Error,
    );
    assertEquals(gt.message, `repeated parameter "gt": give it once`);
    const scene = assertThrows(() => parseSceneQuery("scene=walk&scene=walk"), Error);
    assertEquals(scene.message, `repeated parameter "scene": give it once`);
  } finally {
    Deno.removeSync(dir, { recursive: true });
  }
});

Deno.test("scene query: --source with a bad gt path is a config error naming the stream and the path", () => {
  const uri = "w=synthetic@30?scene=walk&gt=/nonexistdir_scene_query/gt.txt";
  const err = assertThrows(() => parseConfig(["--streams", "0", "--source", uri]), Error);
  assertEquals(err.message.includes(`Invalid --source "${uri}"`), true, err.message);
  assertEquals(
    err.message.includes(`"/nonexistdir_scene_query" does not exist`),
    true,
    err.message,
  );
});

Deno.test("scene source: a gt file that cannot be written takes the stream down, logged and counted", async () => {
  // /proc exists as a directory (so the path passes the parse-time check) but takes no new file.
  const path = "/proc/scene_query_gt.txt";
  const lines: string[] = [];
  const metrics = new PoseMetrics(["w"]);
  const lifecycle = new StreamLifecycle({ index: 0, id: "w" }, {
    metrics,
    log: new Logger({ writer: { writeLine: (line: string) => lines.push(line) } }),
  });
  const source = new SceneSource({
    id: "w",
    stream: 0,
    sourceWidth: 1280,
    sourceHeight: 1280,
    width: 64,
    height: 64,
    fps: 30,
    scene: parseSceneQuery(`scene=walk&gt=${path}`),
    lifecycle,
  });
  let frames = 0;
  source.start({
    push: (frame) => {
      frames++;
      frame.release?.();
    },
    waitForRoom: () => Promise.resolve(),
  });
  const deadline = Date.now() + 5000;
  while (lifecycle.state !== "down" && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  assertEquals(lifecycle.state, "down");
  assertEquals(metrics.streamFailureCount(0, "exited"), 1);
  assertEquals(lifecycle.lastDown?.detail.includes(path), true, lifecycle.lastDown?.detail);
  assertEquals(lines.some((l) => l.includes("stream down") && l.includes(path)), true);
  const seen = frames;
  await new Promise((resolve) => setTimeout(resolve, 200));
  assertEquals(frames, seen, "no frames after the stream went down");
  await source.stop();
});
