// The live view in a real headless Chromium, against the real exporter (--live-view).

import { assert, assertEquals } from "../_assert.ts";
import { fixturePath, forceStop, freePort, pollUntil, startExporter } from "../_helpers.ts";
import { HeadlessChromium, requireChromium } from "./_chromium.ts";
import { hexToRgb, keypointSide, SKELETON_COLOURS } from "../../src/web/skeleton.ts";
import type { PacketHeader } from "../../src/web/snapshot_packet.ts";

const SCORE_THRESHOLD = 0.25;
const FIGURE_RGB = [235, 228, 220];

/** What the page has drawn on one tile: the packet and the canvas pixels. */
interface DrawnTile {
  packet: PacketHeader;
  width: number;
  height: number;
  rgba: string;
}

/** Reads a tile's canvas and the packet drawn on it, in one go (no redraw in between). */
function readTile(id: string): string {
  return `(() => {
    const el = document.querySelector('[data-stream-id=${JSON.stringify(id)}]');
    const c = el.querySelector("canvas");
    const data = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let bin = "";
    for (let i = 0; i < data.length; i += 8192) {
      bin += String.fromCharCode.apply(null, data.subarray(i, i + 8192));
    }
    return { packet: el.livePacket, width: c.width, height: c.height, rgba: btoa(bin) };
  })()`;
}

function tileIds(): string {
  return `[...document.querySelectorAll("main .tile")].map((e) => e.dataset.streamId).join(",")`;
}

/**
 * Checks a drawn tile: the picture is there (figures and ground), and the pixel under each
 * body keypoint (shoulders to ankles; the face's dots overlap) has that side's colour.
 * Positions come from the packet's source pixels, fitted into the canvas as the page does.
 */
function checkTile(tile: DrawnTile): { keypoints: number; matching: number } {
  const rgba = Uint8Array.from(atob(tile.rgba), (c) => c.charCodeAt(0));
  const at = (x: number, y: number) => {
    const i = (Math.floor(y) * tile.width + Math.floor(x)) * 4;
    return [rgba[i]!, rgba[i + 1]!, rgba[i + 2]!];
  };
  let figure = 0;
  let ground = 0;
  for (let i = 0; i < rgba.length; i += 4) {
    const [r, g, b] = [rgba[i]!, rgba[i + 1]!, rgba[i + 2]!];
    if (
      Math.abs(r - FIGURE_RGB[0]!) + Math.abs(g - FIGURE_RGB[1]!) + Math.abs(b - FIGURE_RGB[2]!) <
        30
    ) {
      figure++;
    }
    if (r > 15 && r < 45 && g > 15 && g < 45 && b > 25 && b < 55) ground++;
  }
  assert(figure > 200, `the canvas shows the figures (${figure} figure pixels)`);
  assert(ground > 2000, `the canvas shows the dark ground (${ground} pixels)`);
  const p = tile.packet;
  const scale = Math.min(tile.width / p.sourceWidth, tile.height / p.sourceHeight);
  const ox = (tile.width - p.sourceWidth * scale) / 2;
  const oy = (tile.height - p.sourceHeight * scale) / 2;
  let keypoints = 0;
  let matching = 0;
  for (const person of p.persons) {
    for (let k = 5; k < 17; k++) {
      if (person.keypoints[3 * k + 2]! < SCORE_THRESHOLD) continue;
      keypoints++;
      const got = at(
        ox + person.keypoints[3 * k]! * scale,
        oy + person.keypoints[3 * k + 1]! * scale,
      );
      const want = hexToRgb(SKELETON_COLOURS[keypointSide(k)]);
      if (got.every((v, c) => Math.abs(v - want[c]!) <= 12)) matching++;
    }
  }
  return { keypoints, matching };
}

Deno.test({
  name: "live view - Chromium shows a tile per stream with its picture and skeletons",
  async fn() {
    requireChromium();
    const dir = await Deno.makeTempDir({ prefix: "live-view-test-" });
    const sources = `${dir}/sources.txt`;
    await Deno.writeTextFile(
      sources,
      "cam-a=synthetic@8\ncam-b=synthetic@8\nbroken=rtsp://127.0.0.1:9/nothing-here\n",
    );
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const exporter = startExporter([
      "--live-view",
      "--web-enable-lifecycle",
      "--sources-file",
      sources,
      "--listen",
      `127.0.0.1:${port}`,
      "--batch-size",
      "2",
      "--retry-max-s",
      "30",
      "--status",
      "off",
    ]);
    let browser: HeadlessChromium | null = null;
    try {
      await pollUntil(`${base}/live/state`, (text, status) => {
        if (status !== 200) return false;
        const up = JSON.parse(text).streams.filter((s: { state: string }) => s.state === "up");
        return up.length === 2;
      }, 60_000);
      const html = await (await fetch(`${base}/`)).text();
      for (const id of ["cam-a", "cam-b", "broken"]) {
        assert(html.includes(`data-stream-id="${id}"`), `the served HTML has a tile for ${id}`);
      }

      browser = await HeadlessChromium.launch({ width: 1280, height: 800 });
      await browser.navigate(`${base}/`);
      assertEquals(await browser.waitFor<string>(tileIds()), "cam-a,cam-b,broken");
      for (const id of ["cam-a", "cam-b"]) {
        await browser.waitFor(
          `(document.querySelector('[data-stream-id="${id}"]').livePacket || {width: 0}).width > 0`,
          30_000,
        );
      }
      // The demo model finds the figures on nearly every frame; take a frame with persons.
      let total = { keypoints: 0, matching: 0 };
      for (let attempt = 0; attempt < 20 && total.keypoints < 12; attempt++) {
        for (const id of ["cam-a", "cam-b"]) {
          const tile = await browser.evaluate<DrawnTile>(readTile(id));
          assertEquals([tile.packet.sourceWidth, tile.packet.sourceHeight], [1280, 720]);
          assert(Math.max(tile.packet.width, tile.packet.height) <= 320, "picture within 320 px");
          const seen = checkTile(tile);
          total = {
            keypoints: total.keypoints + seen.keypoints,
            matching: total.matching + seen.matching,
          };
        }
        if (total.keypoints < 12) await new Promise((r) => setTimeout(r, 300));
      }
      assert(total.keypoints >= 12, `keypoints were drawn (${total.keypoints})`);
      assert(
        total.matching >= 0.8 * total.keypoints,
        `${total.matching} of ${total.keypoints} body keypoints have the skeleton colour`,
      );

      // A stream that is down says why.
      const down = await browser.waitFor<string>(
        `(() => { const el = document.querySelector('[data-stream-id="broken"]');
          return /down|retrying/.test(el.dataset.state) &&
            el.querySelector('[data-field="overlay"]').textContent; })()`,
        30_000,
      );
      assert(
        /down|retrying/.test(down) && down.length > "retrying".length,
        `reason shown: ${down}`,
      );

      const screenshotPath = Deno.env.get("LIVE_VIEW_SCREENSHOT");
      if (screenshotPath) await Deno.writeFile(screenshotPath, await browser.screenshot());

      // A click enlarges a tile; Escape puts it back.
      const before = await browser.evaluate<number>(
        `document.querySelector('[data-stream-id="cam-a"] canvas').getBoundingClientRect().width`,
      );
      await browser.evaluate(`document.querySelector('[data-stream-id="cam-a"]').click()`);
      const after = await browser.evaluate<number>(
        `document.querySelector('[data-stream-id="cam-a"] canvas').getBoundingClientRect().width`,
      );
      assert(after > 1.5 * before, `the tile grew from ${before} to ${after} px`);
      await browser.evaluate(
        `document.dispatchEvent(new KeyboardEvent("keydown", { key: "Escape" }))`,
      );

      // Streams removed and added at run time vanish and appear.
      await Deno.writeTextFile(sources, "cam-a=synthetic@8\ncam-c=synthetic@8\n");
      const reload = await fetch(`${base}/-/reload`, { method: "POST" });
      assert(reload.ok, `reload answered ${reload.status}`);
      await reload.body?.cancel();
      const ids = await browser.waitFor<string>(
        `(() => { const ids = ${tileIds()}; return ids.includes("cam-c") && !ids.includes("cam-b") && ids; })()`,
        30_000,
      );
      assertEquals(ids.split(",").sort(), ["cam-a", "cam-c"]);

      // When the exporter stops, the page says it lost the connection.
      exporter.child.kill("SIGTERM");
      await exporter.done;
      const banner = await browser.waitFor<string>(
        `document.body.dataset.connection === "lost" &&
          getComputedStyle(document.querySelector(".banner")).display !== "none" &&
          document.querySelector(".banner").textContent`,
        15_000,
      );
      assert(banner.includes("Lost the connection"), banner);
    } finally {
      await browser?.close();
      await forceStop(exporter);
      await Deno.remove(dir, { recursive: true });
    }
  },
});

Deno.test("live view - without --live-view the page and snapshot endpoints answer 404", async () => {
  const port = freePort();
  const base = `http://127.0.0.1:${port}`;
  const exporter = startExporter([
    "--streams",
    "1",
    "--listen",
    `127.0.0.1:${port}`,
    "--status",
    "off",
  ]);
  try {
    await pollUntil(`${base}/healthz`, (_, status) => status === 200, 60_000);
    for (const path of ["/live/snapshot?stream=s0", "/live/state", "/live/app.js"]) {
      const res = await fetch(`${base}${path}`);
      await res.body?.cancel();
      assertEquals(res.status, 404, path);
    }
    const index = await (await fetch(`${base}/`)).text();
    assert(!index.includes("data-stream-id"), "/ stays the small index page");
    assert(index.includes('href="/metrics"'));
  } finally {
    exporter.child.kill("SIGTERM");
    await exporter.done;
    await forceStop(exporter);
  }
});

Deno.test({
  name:
    "live view - Chromium draws a 21-keypoint model's keypoints as points, without the COCO skeleton",
  async fn() {
    requireChromium();
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const exporter = startExporter([
      "--live-view",
      "--model",
      fixturePath("hand_pose.onnx"),
      "--streams",
      "1",
      "--listen",
      `127.0.0.1:${port}`,
      "--status",
      "off",
    ]);
    let browser: HeadlessChromium | null = null;
    try {
      await pollUntil(`${base}/live/state`, (text, status) =>
        status === 200 &&
        JSON.parse(text).streams.some((s: { state: string }) => s.state === "up"), 60_000);
      browser = await HeadlessChromium.launch({ width: 1280, height: 800 });
      await browser.navigate(`${base}/`);
      await browser.waitFor(
        `((document.querySelector('[data-stream-id="s0"]') || {}).livePacket || {width: 0}).width > 0`,
        30_000,
      );
      const tile = await browser.evaluate<DrawnTile>(readTile("s0"));
      const rgba = Uint8Array.from(atob(tile.rgba), (c) => c.charCodeAt(0));
      const near = (i: number, want: number[]) =>
        want.every((v, c) => Math.abs(rgba[i + c]! - v) <= 12);
      const p = tile.packet;
      assertEquals(p.persons.map((x) => [x.keypoints.length, x.dims]), [[63, 3], [63, 3], [63, 3]]);
      const scale = Math.min(tile.width / p.sourceWidth, tile.height / p.sourceHeight);
      const ox = (tile.width - p.sourceWidth * scale) / 2;
      const oy = (tile.height - p.sourceHeight * scale) / 2;
      const centre = hexToRgb(SKELETON_COLOURS.centre);
      // The points overlap (their outlines cover the one before): the last of each person is whole.
      let last = 0;
      let inside = 0;
      for (const person of p.persons) {
        const x = ox + person.keypoints[3 * 20]! * scale;
        const y = oy + person.keypoints[3 * 20 + 1]! * scale;
        if (x < 1 || y < 1 || x >= tile.width - 1 || y >= tile.height - 1) continue;
        inside++;
        if (near((Math.floor(y) * tile.width + Math.floor(x)) * 4, centre)) last++;
      }
      assert(inside >= 2 && last === inside, `${last} of ${inside} last keypoints drawn as points`);
      let centred = 0;
      for (let i = 0; i < rgba.length; i += 4) if (near(i, centre)) centred++;
      assert(centred > 100, `${centred} pixels in the points' colour`);
      // No limb or keypoint in the COCO sides' colours anywhere on the canvas.
      const sides = [hexToRgb(SKELETON_COLOURS.left), hexToRgb(SKELETON_COLOURS.right)];
      let sided = 0;
      for (let i = 0; i < rgba.length; i += 4) if (sides.some((c) => near(i, c))) sided++;
      assertEquals(sided, 0, "no COCO skeleton colours");
    } finally {
      await browser?.close();
      exporter.child.kill("SIGTERM");
      await exporter.done;
      await forceStop(exporter);
    }
  },
});

/** The RGB of `hsl(h, s%, l%)`, as CSS defines it. */
function hslToRgb(h: number, s: number, l: number): number[] {
  const a = s * Math.min(l, 1 - l);
  const f = (n: number) => {
    const k = (n + h / 30) % 12;
    return Math.round(255 * (l - a * Math.max(-1, Math.min(k - 3, 9 - k, 1))));
  };
  return [f(0), f(8), f(4)];
}

Deno.test({
  name:
    "live view - Chromium labels each tracked skeleton with its track id, in its track's colour",
  async fn() {
    requireChromium();
    const port = freePort();
    const base = `http://127.0.0.1:${port}`;
    const dir = await Deno.makeTempDir({ prefix: "live-view-track-" });
    const sources = `${dir}/sources.txt`;
    await Deno.writeTextFile(sources, "walk=synthetic@15?scene=walk\n");
    const exporter = startExporter([
      "--live-view",
      "--sources-file",
      sources,
      "--listen",
      `127.0.0.1:${port}`,
      "--status",
      "off",
    ]);
    let browser: HeadlessChromium | null = null;
    try {
      await pollUntil(`${base}/live/state`, (text, status) =>
        status === 200 &&
        JSON.parse(text).streams.some((s: { state: string }) => s.state === "up"), 60_000);
      browser = await HeadlessChromium.launch({ width: 1280, height: 800 });
      await browser.navigate(`${base}/`);
      // From 2 s into the scene on, two to four people walk. A person seen in one frame only
      // has no id yet (a track is confirmed by its second frame, as ByteTrack does), so the
      // tile looked at is one drawn with two tracked persons at least.
      const tracked = `(((document.querySelector('[data-stream-id="walk"]') || {}).livePacket ||
        {}).persons || []).filter((p) => Number.isInteger(p.track)).length >= 2`;
      let tile: DrawnTile | null = null;
      for (let tries = 0; tries < 20 && tile === null; tries++) {
        await browser.waitFor(tracked, 30_000);
        const drawn = await browser.evaluate<DrawnTile>(readTile("walk"));
        if (drawn.packet.persons.filter((x) => Number.isInteger(x.track)).length >= 2) tile = drawn;
      }
      assert(tile !== null, "no tile drawn with two tracked persons");
      const p = tile.packet;
      const ids = p.persons.map((x) => x.track).filter((id) => id !== undefined);
      assert(ids.length >= 2 && ids.every((id) => Number.isInteger(id) && id! >= 1), `ids ${ids}`);
      assertEquals(new Set(ids).size, ids.length, "one id per person");
      const rgba = Uint8Array.from(atob(tile.rgba), (c) => c.charCodeAt(0));
      const scale = Math.min(tile.width / p.sourceWidth, tile.height / p.sourceHeight);
      const ox = (tile.width - p.sourceWidth * scale) / 2;
      const oy = (tile.height - p.sourceHeight * scale) / 2;
      const dpr = await browser.evaluate<number>("devicePixelRatio");
      // The label's strip, 3 px wide, left of the text over the box's top left corner (a label
      // near the right edge is moved left to stay whole: those are not looked at).
      let looked = 0;
      let coloured = 0;
      for (const person of p.persons) {
        if (person.track === undefined) continue;
        const x1 = ox + person.box[0]! * scale;
        if (x1 < 0 || x1 > tile.width - 80 * dpr) continue;
        looked++;
        const y = Math.max(0, oy + person.box[1]! * scale - 15 * dpr) + 7 * dpr;
        const i = (Math.floor(y) * tile.width + Math.floor(x1 + dpr)) * 4;
        const want = hslToRgb(Math.round((person.track! * 137.508) % 360), 0.85, 0.62);
        if (want.every((v, c) => Math.abs(rgba[i + c]! - v) <= 16)) coloured++;
      }
      assert(looked >= 1 && coloured === looked, `${coloured} of ${looked} labels in their colour`);
    } finally {
      await browser?.close();
      exporter.child.kill("SIGTERM");
      await exporter.done;
      await forceStop(exporter);
      await Deno.remove(dir, { recursive: true });
    }
  },
});
