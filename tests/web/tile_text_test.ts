// The words and colours of a live view tile: each person's label and its track's colour.

import { assert, assertEquals } from "../_assert.ts";
import { personLabel, trackColour } from "../../src/web/browser/tile_text.ts";

Deno.test("personLabel() puts the track id first, then the class name and the score", () => {
  assertEquals(personLabel({ track: 7, score: 0.934 }), "#7 93%");
  assertEquals(personLabel({ track: 12, label: "dog", score: 0.8 }), "#12 dog 80%");
  assertEquals(personLabel({ score: 0.25 }), "25%", "not tracked (--no-track): no id");
});

Deno.test("trackColour() gives neighbouring ids hues far apart", () => {
  const hue = (id: number) => Number(/hsla\((\d+),/.exec(trackColour(id, 1))![1]);
  for (let id = 1; id < 50; id++) {
    const d = Math.abs(hue(id) - hue(id + 1));
    assert(Math.min(d, 360 - d) > 100, `ids ${id} and ${id + 1}: hues ${hue(id)}, ${hue(id + 1)}`);
  }
  assert(trackColour(3, 0.5).endsWith(", 0.5)"));
});
