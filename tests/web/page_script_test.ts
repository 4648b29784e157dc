// The live view's served script: a fresh, deterministic bundle of src/web/browser/.

import { assert, assertEquals } from "../_assert.ts";
import { ROOT } from "../_helpers.ts";
import { LIVE_VIEW_SCRIPT } from "../../src/web/page_script.ts";
import { formatNumber, overlayText as pageOverlayText } from "../../src/web/page.ts";
import { formatValue, overlayText } from "../../src/web/browser/tile_text.ts";
import {
  bundleLiveScript,
  LIVE_SCRIPT_MODULE,
  renderLiveScriptModule,
} from "../../scripts/gen_live_script.ts";

/** A stream's state as the served page's `overlayText` takes it. */
type PageState = Parameters<typeof pageOverlayText>[0]["state"];

const STATES: PageState[] = ["starting", "up", "down", "retrying", "finished", "stopped"];

/** The number of the first line where `a` and `b` differ (1-based), or 0 when they are equal. */
function firstDifferentLine(a: string, b: string): number {
  const x = a.split("\n");
  const y = b.split("\n");
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    if (x[i] !== y[i]) return i + 1;
  }
  return 0;
}

Deno.test("LIVE_VIEW_SCRIPT is the fresh bundle of src/web/browser/ (else run gen-live-script)", async () => {
  const script = await bundleLiveScript();
  const module = await Deno.readTextFile(new URL(LIVE_SCRIPT_MODULE, ROOT));
  const expected = renderLiveScriptModule(script);
  assert(
    module === expected,
    `${LIVE_SCRIPT_MODULE} is stale from line ${
      firstDifferentLine(module, expected)
    }: run \`deno task gen-live-script\``,
  );
  assert(LIVE_VIEW_SCRIPT === script, "the generated module holds the bundle exactly");
});

Deno.test("bundleLiveScript() gives the same bytes twice and names no path of this machine", async () => {
  const [first, second] = await Promise.all([bundleLiveScript(), bundleLiveScript()]);
  assert(first === second, "two bundles of the same sources are equal");
  assert(!first.includes(ROOT.pathname), "no absolute path of the checkout");
  assert(!first.includes("file:"), "no file URL");
});

Deno.test("LIVE_VIEW_SCRIPT reads packets with decodeSnapshotPacket and bundles no server code", () => {
  assert(LIVE_VIEW_SCRIPT.startsWith('"use strict";\n(() => {\n'), "a strict IIFE");
  assert(LIVE_VIEW_SCRIPT.includes("// src/web/snapshot_packet.ts\n"));
  assert(LIVE_VIEW_SCRIPT.includes("function decodeSnapshotPacket("));
  const modules = [...LIVE_VIEW_SCRIPT.matchAll(/^ {2}\/\/ (\S+\.ts)$/gm)].map((m) => m[1]);
  assertEquals(modules, [
    "src/web/snapshot_packet.ts",
    "src/web/browser/tile_text.ts",
    "src/web/browser/tile_canvas.ts",
    "src/web/browser/live_app.ts",
  ]);
});

Deno.test("overlayText() and formatValue() word a tile as the served page does", () => {
  for (const state of STATES) {
    for (const reason of [null, "ffmpeg exited: 404 Not Found"]) {
      assertEquals(overlayText({ state, reason }, false), pageOverlayText({ state, reason }));
    }
  }
  assertEquals(overlayText({ state: "up", reason: null }, true), "");
  for (const value of [null, 0, 8.25, 1234.5, NaN, Infinity]) {
    assertEquals(formatValue(value, 1, " ms"), formatNumber(value, 1, " ms"));
    assertEquals(formatValue(value, 1), formatNumber(value, 1));
  }
});
