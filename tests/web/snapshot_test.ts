import { assert, assertEquals } from "../_assert.ts";
import { computeLetterbox } from "../../src/sources/frame.ts";
import {
  contentRect,
  downscaleInto,
  pictureSize,
  planDownscale,
  type Snapshot,
  sourceToPicture,
} from "../../src/web/snapshot.ts";

const MODEL = { width: 640, height: 640 };

/** A letterboxed model-size frame: gray padding, dark content, one bright square at a source point. */
function frameWithMark(
  source: { width: number; height: number },
  mark: { x: number; y: number },
): { pixels: Uint8Array; letterbox: ReturnType<typeof computeLetterbox> } {
  const letterbox = computeLetterbox(source, MODEL);
  const pixels = new Uint8Array(MODEL.width * MODEL.height * 3).fill(114);
  const content = contentRect(letterbox, MODEL);
  for (let y = content.y; y < content.y + content.height; y++) {
    pixels.fill(
      20,
      (y * MODEL.width + content.x) * 3,
      (y * MODEL.width + content.x + content.width) * 3,
    );
  }
  // The mark: 12 x 12 model pixels around the source point, in the model's coordinates.
  const mx = Math.round(mark.x * letterbox.scale + letterbox.padX);
  const my = Math.round(mark.y * letterbox.scale + letterbox.padY);
  for (let y = my - 6; y < my + 6; y++) {
    for (let x = mx - 6; x < mx + 6; x++) pixels.set([250, 40, 40], (y * MODEL.width + x) * 3);
  }
  return { pixels, letterbox };
}

function pixelAt(shot: Snapshot, x: number, y: number): number[] {
  const i = (Math.floor(y) * shot.width + Math.floor(x)) * 3;
  return Array.from(shot.rgb.subarray(i, i + 3));
}

Deno.test("contentRect() cuts the letterbox padding away", () => {
  const lb = computeLetterbox({ width: 1280, height: 720 }, MODEL);
  assertEquals(contentRect(lb, MODEL), { x: 0, y: 140, width: 640, height: 360 });
  const portrait = computeLetterbox({ width: 720, height: 1280 }, MODEL);
  assertEquals(contentRect(portrait, MODEL), { x: 140, y: 0, width: 360, height: 640 });
});

Deno.test("pictureSize() keeps the aspect ratio within maxSide and never upscales", () => {
  assertEquals(pictureSize({ width: 640, height: 360 }, 320), { width: 320, height: 180 });
  assertEquals(pictureSize({ width: 360, height: 640 }, 320), { width: 180, height: 320 });
  assertEquals(pictureSize({ width: 200, height: 100 }, 320), { width: 200, height: 100 });
  assertEquals(pictureSize({ width: 640, height: 640 }, 100), { width: 100, height: 100 });
});

Deno.test("downscaleInto() keeps no letterbox padding and stays within maxSide", () => {
  const { pixels, letterbox } = frameWithMark({ width: 1280, height: 720 }, { x: 640, y: 360 });
  const plan = planDownscale(letterbox, MODEL, 320);
  const shot: Snapshot = { width: 0, height: 0, rgb: new Uint8Array(0) };
  downscaleInto(pixels, plan, shot);
  assertEquals([shot.width, shot.height], [320, 180]);
  for (const [x, y] of [[0, 0], [319, 0], [0, 179], [319, 179], [160, 2], [160, 177]]) {
    assertEquals(pixelAt(shot, x!, y!), [20, 20, 20], `padding leaked at ${x},${y}`);
  }
});

Deno.test("downscaleInto() reuses its buffer and takes the pixel at each footprint's centre", () => {
  const letterbox = computeLetterbox({ width: 4, height: 2 }, { width: 4, height: 4 });
  // Content rows 1 and 2 of a 4 x 4 model image; each pixel's value is 10 * (x + 1) + 100 * y.
  const pixels = new Uint8Array(4 * 4 * 3);
  for (let y = 1; y <= 2; y++) {
    for (let x = 0; x < 4; x++) {
      pixels.fill(10 * (x + 1) + 100 * y, (y * 4 + x) * 3, (y * 4 + x + 1) * 3);
    }
  }
  const plan = planDownscale(letterbox, { width: 4, height: 4 }, 2);
  const rgb = new Uint8Array(64);
  const shot: Snapshot = { width: 0, height: 0, rgb };
  downscaleInto(pixels, plan, shot);
  assertEquals([shot.width, shot.height], [2, 1]);
  assert(shot.rgb === rgb, "a large enough buffer is reused");
  // Output pixel 0 covers content x 0..1 (centre x = 1), pixel 1 covers x 2..3 (centre x = 3);
  // the one output row covers content rows 1..2 (centre row 2).
  assertEquals(Array.from(rgb.subarray(0, 6)), [220, 220, 220, 240, 240, 240]);
});

for (
  const source of [{ width: 1280, height: 720 }, { width: 720, height: 1280 }, {
    width: 1920,
    height: 1080,
  }, { width: 640, height: 480 }]
) {
  Deno.test(
    `sourceToPicture() puts a pose point on its own pixel in the picture (${source.width}x${source.height})`,
    () => {
      const marks = [
        { x: source.width * 0.2, y: source.height * 0.3 },
        { x: source.width * 0.75, y: source.height * 0.8 },
      ];
      for (const mark of marks) {
        const { pixels, letterbox } = frameWithMark(source, mark);
        const plan = planDownscale(letterbox, MODEL, 320);
        const shot: Snapshot = { width: 0, height: 0, rgb: new Uint8Array(0) };
        downscaleInto(pixels, plan, shot);
        assert(Math.max(shot.width, shot.height) <= 320);
        const { scaleX, scaleY } = sourceToPicture(letterbox, shot);
        const px = mark.x * scaleX;
        const py = mark.y * scaleY;
        assertEquals(pixelAt(shot, px, py), [250, 40, 40], `mark at ${px},${py}`);
        // A point well away from the mark is the dark scene, not the mark and not padding.
        assertEquals(pixelAt(shot, (px + shot.width / 2) % shot.width, py), [20, 20, 20]);
      }
    },
  );
}
