// The live view's HTML: every current stream's tile is in the page as served, so it shows
// without script; the script then keeps the tiles fresh and follows added or removed streams.

import type { LiveStreamInfo } from "./live_view.ts";
import { COCO_LIMBS, keypointSide, limbSide, SKELETON_COLOURS } from "./skeleton.ts";

/** Options of {@linkcode renderLivePage}. */
export interface LivePageOptions {
  /** Keypoints below this confidence are not drawn. */
  scoreThreshold: number;
  /** Milliseconds between two picture requests per stream. */
  snapshotIntervalMs: number;
}

/**
 * Escapes text for HTML content and attribute values.
 *
 * @param text any text
 * @returns the text with `& < > " '` escaped
 */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/**
 * A number for a tile, with its unit: `—` alone when unknown.
 *
 * @param value the number, or null
 * @param digits decimals shown
 * @param unit appended to a known value
 * @returns the text
 */
export function formatNumber(value: number | null, digits: number, unit = ""): string {
  return value === null || !Number.isFinite(value) ? "—" : value.toFixed(digits) + unit;
}

/**
 * What a tile says over its picture before the first one arrives, or while the stream is not
 * up (the page's script words it the same way).
 *
 * @param info the stream
 * @returns the text
 */
export function overlayText(info: Pick<LiveStreamInfo, "state" | "reason">): string {
  const why = info.reason ?? "";
  if (info.state === "up") return "waiting for a picture…";
  if (info.state === "down") return "down" + (why ? ": " + why : "");
  if (info.state === "retrying") return "retrying" + (why ? " after: " + why : "");
  return info.state + (why ? ": " + why : "");
}

/** What a tile shows of a stream. */
export type TileInfo =
  & Pick<LiveStreamInfo, "id" | "state" | "reason" | "fps" | "p50Ms" | "p99Ms" | "persons">
  & { decoder?: string };

/**
 * One stream's tile. The page's script builds new tiles from the same markup (a template).
 *
 * @param info the stream
 * @returns the tile's HTML
 */
export function renderTile(info: TileInfo): string {
  const stat = (field: string, label: string, value: string) =>
    `<div><dt>${label}</dt><dd data-field="${field}">${value}</dd></div>`;
  return `<article class="tile" data-stream-id="${escapeHtml(info.id)}" data-state="${
    escapeHtml(info.state)
  }" tabindex="0" title="Click to enlarge">
<header><h2 data-field="id">${escapeHtml(info.id)}</h2><span class="decoder" data-field="decoder">${
    escapeHtml(info.decoder ?? "")
  }</span><span class="state" data-field="state">${escapeHtml(info.state)}</span></header>
<div class="view"><canvas width="640" height="360"></canvas>
<p class="overlay" data-field="overlay">${escapeHtml(overlayText(info))}</p></div>
<dl class="stats">${stat("fps", "fps", formatNumber(info.fps, 1))}${
    stat("p50", "p50", formatNumber(info.p50Ms, 1, " ms"))
  }${stat("p99", "p99", formatNumber(info.p99Ms, 1, " ms"))}${
    stat("persons", "persons", String(info.persons))
  }</dl>
</article>`;
}

/**
 * The whole live view page for the current streams.
 *
 * @param streams the streams, in tile order
 * @param options thresholds and rates the script uses
 * @returns the page's HTML
 */
export function renderLivePage(
  streams: readonly LiveStreamInfo[],
  options: LivePageOptions,
): string {
  const drawing = {
    scoreThreshold: options.scoreThreshold,
    snapshotIntervalMs: Math.round(options.snapshotIntervalMs),
    limbs: COCO_LIMBS.map((limb) => ({ a: limb[0], b: limb[1], side: limbSide(limb) })),
    keypointSides: Array.from({ length: 17 }, (_, k) => keypointSide(k)),
    colours: SKELETON_COLOURS,
  };
  const template = renderTile({
    id: "",
    state: "starting",
    reason: null,
    fps: 0,
    p50Ms: null,
    p99Ms: null,
    persons: 0,
  }).replace(' data-stream-id=""', ""); // the script sets the id of a new tile
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>pose-exporter · live view</title>
<link rel="icon" href="data:image/svg+xml,%3Csvg xmlns='http://www.w3.org/2000/svg' viewBox='0 0 16 16'%3E%3Ccircle cx='8' cy='8' r='6' fill='%2338bdf8'/%3E%3C/svg%3E">
<link rel="stylesheet" href="/live/style.css">
</head>
<body data-connection="live">
<header class="bar">
<h1>pose-exporter <span>live view</span></h1>
<p class="connection"><span class="dot"></span><span data-field="connection">live</span></p>
<nav><a href="/metrics">metrics</a><a href="/healthz">healthz</a><a href="/readyz">readyz</a></nav>
</header>
<p class="banner" role="status">Lost the connection to the exporter. Retrying…</p>
<noscript><p class="banner static">Pictures and skeletons need JavaScript; the figures below are as of this page load.</p></noscript>
<main class="grid" data-count="${streams.length}">
${streams.map(renderTile).join("\n")}
<p class="empty">No streams are configured.</p>
</main>
<footer>Pictures are taken only while this page is open, at most ${
    Math.round(1000 / options.snapshotIntervalMs)
  } per second per stream. Keypoints below confidence ${options.scoreThreshold} are not drawn. Click a tile to enlarge it.</footer>
<template id="tile-template">${template}</template>
<script id="live-config" type="application/json">${
    JSON.stringify(drawing).replace(/</g, "\\u003c")
  }</script>
<script src="/live/app.js"></script>
</body>
</html>
`;
}
