// The batch input: a band of rows is copied into place with gray 114 padding around it, written
// again only when the slot's geometry changes; a whole frame is copied as it is; wrong sizes are
// refused with the sizes.

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { BatchInput, copyFrames } from "../../src/pose/inference.ts";
import { type Frame, LETTERBOX_GRAY } from "../../src/sources/frame.ts";

const model = { width: 4, height: 6 };
const ROW = 4 * 3;
const FRAME = ROW * 6;

function rowsOf(buffer: Uint8Array, slot: number): number[] {
  return Array.from({ length: 6 }, (_, r) => buffer[slot * FRAME + r * ROW]!);
}

Deno.test("batch input - a band is placed at its rows, padded gray above and below", () => {
  const input = new BatchInput(new Uint8Array(2 * FRAME), model);
  input.place(1, { pixels: new Uint8Array(2 * ROW).fill(9), rows: { top: 2, height: 2 } });
  const g = LETTERBOX_GRAY;
  assertEquals(rowsOf(input.buffer, 1), [g, g, 9, 9, g, g]);
  assertEquals(rowsOf(input.buffer, 0), [0, 0, 0, 0, 0, 0], "another slot is untouched");
  // Every byte of the padding rows, not only their first.
  const slot = input.buffer.subarray(FRAME, 2 * FRAME);
  assert(slot.subarray(0, 2 * ROW).every((b) => b === g));
  assert(slot.subarray(4 * ROW).every((b) => b === g));
});

Deno.test("batch input - the padding is written once per geometry, again when it changes", () => {
  const input = new BatchInput(new Uint8Array(FRAME), model);
  const band = { pixels: new Uint8Array(2 * ROW).fill(5), rows: { top: 1, height: 2 } };
  input.place(0, band);
  input.buffer[0] = 1; // a padding byte no later frame of this geometry rewrites
  input.place(0, { ...band, pixels: new Uint8Array(2 * ROW).fill(6) });
  assertEquals(rowsOf(input.buffer, 0), [1, 6, 6, LETTERBOX_GRAY, LETTERBOX_GRAY, LETTERBOX_GRAY]);
  input.place(0, { pixels: new Uint8Array(3 * ROW).fill(7), rows: { top: 3, height: 3 } });
  assertEquals(rowsOf(input.buffer, 0), [LETTERBOX_GRAY, LETTERBOX_GRAY, LETTERBOX_GRAY, 7, 7, 7]);
  // A whole letterboxed frame, then a band: the band's padding is written again.
  input.place(0, { pixels: new Uint8Array(FRAME).fill(3) });
  assertEquals(rowsOf(input.buffer, 0), [3, 3, 3, 3, 3, 3]);
  input.place(0, { pixels: new Uint8Array(3 * ROW).fill(7), rows: { top: 3, height: 3 } });
  assertEquals(rowsOf(input.buffer, 0), [LETTERBOX_GRAY, LETTERBOX_GRAY, LETTERBOX_GRAY, 7, 7, 7]);
});

Deno.test("batch input - sizes that do not fit the model input are refused with the sizes", () => {
  const input = new BatchInput(new Uint8Array(FRAME), model);
  assertThrows(() => input.place(0, { pixels: new Uint8Array(FRAME - 1) }), RangeError, "bytes");
  assertThrows(
    () => input.place(0, { pixels: new Uint8Array(2 * ROW), rows: { top: 5, height: 2 } }),
    RangeError,
    "rows 5..7",
  );
  assertThrows(
    () => input.place(0, { pixels: new Uint8Array(ROW), rows: { top: 0, height: 2 } }),
    RangeError,
  );
});

Deno.test("batch input - copyFrames lays out bands and whole frames one after the other", () => {
  const lb = { scale: 1, padX: 0, padY: 0, sourceWidth: 4, sourceHeight: 6 };
  const frame = (pixels: Uint8Array, rows?: Frame["rows"]): Frame => ({
    stream: 0,
    seq: 0,
    capturedAt: 0,
    pixels,
    rows,
    letterbox: lb,
  });
  const buffer = new Uint8Array(2 * FRAME);
  copyFrames(
    [
      frame(new Uint8Array(FRAME).fill(4)),
      frame(new Uint8Array(ROW).fill(8), { top: 5, height: 1 }),
    ],
    buffer,
    FRAME,
  );
  assertEquals(rowsOf(buffer, 0), [4, 4, 4, 4, 4, 4]);
  const g = LETTERBOX_GRAY;
  assertEquals(rowsOf(buffer, 1), [g, g, g, g, g, 8]);
});
