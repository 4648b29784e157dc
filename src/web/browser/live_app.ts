/// <reference lib="dom" />
// The live view's browser code, bundled into /live/app.js by `deno task gen-live-script`: plain
// fetch polling of the streams' state and of each tile's snapshot packet, drawn on a canvas
// with the skeletons. Tiles of streams added or removed at run time appear and vanish.

// The bundle is served as a classic script: this directive keeps it strict.
"use strict";

import { decodeSnapshotPacket, type PacketHeader } from "../snapshot_packet.ts";
import type { LiveConfig, StateAnswer, StreamInfo } from "./live_config.ts";
import { drawTile, paintPicture, type Picture } from "./tile_canvas.ts";
import { formatValue, overlayText } from "./tile_text.ts";

/** A tile's element, with the packet drawn on it now (read by the headless browser test). */
interface TileElement extends HTMLElement {
  livePacket?: PacketHeader;
}

/** One stream's tile and what it has received. */
interface Tile {
  id: string;
  el: TileElement;
  canvas: HTMLCanvasElement;
  view: HTMLElement;
  /** Token of the latest packet, sent back as `after`. */
  token: number;
  /** The packet drawn now. */
  packet: PacketHeader | null;
  picture: Picture | null;
  /** The source aspect ratio set on the view, as CSS text. */
  sourceKey: string;
  hasPicture: boolean;
  /** The stream's latest state, once the state poll has seen it. */
  info: StreamInfo | null;
}

const STATE_INTERVAL_MS = 500;
const STATE_TIMEOUT_MS = 4000;

const config = JSON.parse(document.getElementById("live-config")!.textContent!) as LiveConfig;
const grid = document.querySelector("main.grid") as HTMLElement;
const template = document.getElementById("tile-template") as HTMLTemplateElement;
const tiles = new Map<string, Tile>();
let connected = true;

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

function field(tile: Tile, name: string): Element | null {
  return tile.el.querySelector('[data-field="' + name + '"]');
}

function setText(el: Element | null, text: string): void {
  if (el && el.textContent !== text) el.textContent = text;
}

function setConnection(ok: boolean): void {
  if (ok === connected) return;
  connected = ok;
  document.body.dataset.connection = ok ? "live" : "lost";
  setText(document.querySelector('[data-field="connection"]'), ok ? "live" : "connection lost");
}

function adopt(el: TileElement): Tile {
  const tile: Tile = {
    id: el.dataset.streamId as string,
    el,
    canvas: el.querySelector("canvas") as HTMLCanvasElement,
    view: el.querySelector(".view") as HTMLElement,
    token: 0,
    packet: null,
    picture: null,
    sourceKey: "",
    hasPicture: false,
    info: null,
  };
  el.addEventListener("click", () => toggleEnlarged(tile));
  el.addEventListener("keydown", (e) => {
    if (e.key === "Enter" || e.key === " ") {
      e.preventDefault();
      toggleEnlarged(tile);
    }
  });
  if (typeof ResizeObserver !== "undefined") {
    new ResizeObserver(() => {
      if (tile.packet) draw(tile);
    }).observe(tile.view);
  }
  tiles.set(tile.id, tile);
  pollSnapshots(tile);
  return tile;
}

function toggleEnlarged(tile: Tile): void {
  const on = !tile.el.classList.contains("enlarged");
  tiles.forEach((t) => t.el.classList.remove("enlarged"));
  if (on) tile.el.classList.add("enlarged");
  document.body.classList.toggle("has-enlarged", on);
}

document.addEventListener("keydown", (e) => {
  if (e.key === "Escape") {
    tiles.forEach((t) => t.el.classList.remove("enlarged"));
    document.body.classList.remove("has-enlarged");
  }
});

function createTile(info: StreamInfo): Tile {
  const el = template.content.firstElementChild!.cloneNode(true) as TileElement;
  el.dataset.streamId = info.id;
  setText(el.querySelector('[data-field="id"]'), info.id);
  grid.insertBefore(el, grid.querySelector(".empty"));
  return adopt(el);
}

function update(tile: Tile, info: StreamInfo): void {
  tile.info = info;
  if (tile.el.dataset.state !== info.state) tile.el.dataset.state = info.state;
  setText(field(tile, "state"), info.state);
  setText(field(tile, "decoder"), info.decoder || "");
  setText(field(tile, "fps"), formatValue(info.fps, 1));
  setText(field(tile, "p50"), formatValue(info.p50Ms, 1, " ms"));
  setText(field(tile, "p99"), formatValue(info.p99Ms, 1, " ms"));
  setText(field(tile, "persons"), String(info.persons));
  setText(field(tile, "overlay"), overlayText(info, tile.hasPicture));
}

async function pollState(): Promise<void> {
  for (;;) {
    const started = performance.now();
    try {
      const res = await fetch("/live/state", {
        cache: "no-store",
        signal: AbortSignal.timeout(STATE_TIMEOUT_MS),
      });
      if (!res.ok) throw new Error("state answered " + res.status);
      const state = (await res.json()) as StateAnswer;
      setConnection(true);
      const seen = new Set<string>();
      state.streams.forEach((info) => {
        seen.add(info.id);
        const tile = tiles.get(info.id) || createTile(info);
        update(tile, info);
      });
      tiles.forEach((tile, id) => {
        if (!seen.has(id)) {
          tiles.delete(id);
          tile.el.remove();
        }
      });
      grid.dataset.count = String(tiles.size);
      if (!document.querySelector(".tile.enlarged")) {
        document.body.classList.remove("has-enlarged");
      }
    } catch {
      setConnection(false);
    }
    await sleep(Math.max(50, STATE_INTERVAL_MS - (performance.now() - started)));
  }
}

async function pollSnapshots(tile: Tile): Promise<void> {
  while (tiles.get(tile.id) === tile) {
    const started = performance.now();
    if (connected && !document.hidden) {
      try {
        const url = "/live/snapshot?stream=" + encodeURIComponent(tile.id) + "&after=" +
          tile.token;
        const res = await fetch(url, {
          cache: "no-store",
          signal: AbortSignal.timeout(STATE_TIMEOUT_MS),
        });
        if (res.status === 200) {
          receive(tile, new Uint8Array(await res.arrayBuffer()));
        }
      } catch {
        // The state poll reports a lost connection.
      }
    }
    await sleep(Math.max(20, config.snapshotIntervalMs - (performance.now() - started)));
  }
}

function receive(tile: Tile, bytes: Uint8Array): void {
  const { header, rgb } = decodeSnapshotPacket(bytes);
  tile.token = header.token;
  if (header.width > 0 && header.height > 0) {
    tile.picture = paintPicture(tile.picture, header, rgb);
    tile.hasPicture = true;
  }
  const key = header.sourceWidth + " / " + header.sourceHeight;
  if (tile.sourceKey !== key) {
    tile.sourceKey = key;
    tile.view.style.aspectRatio = key;
  }
  tile.packet = header;
  tile.el.dataset.seq = String(header.seq);
  tile.el.livePacket = header; // what is drawn now, for headless checks
  if (tile.info) setText(field(tile, "overlay"), overlayText(tile.info, tile.hasPicture));
  draw(tile);
}

function draw(tile: Tile): void {
  if (!tile.packet) return;
  drawTile(tile.canvas, {
    header: tile.packet,
    picture: tile.picture ? tile.picture.canvas : null,
    config,
  });
}

document.querySelectorAll<TileElement>("main.grid .tile").forEach((el) => adopt(el));
document.addEventListener("visibilitychange", () => {
  if (!document.hidden) {
    tiles.forEach((t) => {
      if (t.packet) draw(t);
    });
  }
});
pollState();
