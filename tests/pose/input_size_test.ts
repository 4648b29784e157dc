import { assertEquals } from "../_assert.ts";
import { parseInputSize, resolveInputSize } from "../../src/pose/input_size.ts";

Deno.test("parseInputSize() reads N and WIDTHxHEIGHT and names what it refuses", () => {
  const problems: string[] = [];
  const push = (why: string) => problems.push(why);
  assertEquals(parseInputSize("640", push), { width: 640, height: 640 });
  assertEquals(parseInputSize("640x384", push), { width: 640, height: 384 });
  assertEquals(parseInputSize(" 1280 X 736 ", push), { width: 1280, height: 736 });
  assertEquals(parseInputSize(undefined, push), null);
  assertEquals(problems, []);
  for (const bad of ["", "abc", "640x", "16", "640x9000", "640.5", "-640"]) {
    assertEquals(parseInputSize(bad, push), null, bad);
  }
  assertEquals(problems.length, 7);
  assertEquals(problems[0], "is not N or WIDTHxHEIGHT with sides in 32..8192");
});

Deno.test("resolveInputSize() keeps a fixed input and says when --input-size cannot apply", () => {
  const fixed = { width: 640, height: 640 };
  assertEquals(resolveInputSize({ fixed, requested: null, imgsz: [640, 640] }), {
    width: 640,
    height: 640,
    source: "model",
    notes: [],
  });
  const r = resolveInputSize({ fixed, requested: { width: 960, height: 960 }, imgsz: null });
  assertEquals([r.width, r.height, r.source], [640, 640, "model"]);
  assertEquals(r.notes, [
    "--input-size 960x960 ignored: the model's input is fixed at 640x640 (export with dynamic=True to choose the size)",
  ]);
});

Deno.test("resolveInputSize() feeds a dynamic input --input-size, else imgsz, else 640, rounded up to the stride", () => {
  const fixed = { width: null, height: null };
  const size = (o: Parameters<typeof resolveInputSize>[0]) => {
    const r = resolveInputSize(o);
    return [r.width, r.height, r.source];
  };
  assertEquals(size({ fixed, requested: null, imgsz: null }), [640, 640, "default 640"]);
  // imgsz is [height, width], as Ultralytics writes it.
  assertEquals(size({ fixed, requested: null, imgsz: [480, 640] }), [640, 480, "metadata imgsz"]);
  assertEquals(
    size({ fixed, requested: { width: 1280, height: 736 }, imgsz: [480, 640] }),
    [1280, 736, "--input-size"],
  );
  const rounded = resolveInputSize({
    fixed,
    requested: { width: 650, height: 360 },
    imgsz: null,
    stride: 32,
  });
  assertEquals([rounded.width, rounded.height], [672, 384]);
  assertEquals(rounded.notes, [
    "input width 650 (--input-size) is not a multiple of the stride 32: using 672",
    "input height 360 (--input-size) is not a multiple of the stride 32: using 384",
  ]);
  // A model dynamic in its width only keeps its height.
  assertEquals(
    size({ fixed: { width: null, height: 384 }, requested: null, imgsz: [384, 640] }),
    [640, 384, "metadata imgsz"],
  );
});
