/// <reference lib="dom" />
// Draws a tile's canvas: its picture fitted and centred, and each person's box, score and
// skeleton at the same scale and offset (poses are in source pixels).

import type { PacketHeader, PacketPerson } from "../snapshot_packet.ts";
import type { LiveConfig } from "./live_config.ts";
import { personLabel, trackColour } from "./tile_text.ts";

/** Where the source image lies on a canvas: its scale and the rectangle it fills. */
export interface Fit {
  /** Canvas pixels per source pixel. */
  scale: number;
  /** Left edge of the image on the canvas. */
  x: number;
  /** Top edge of the image on the canvas. */
  y: number;
  /** Width of the image on the canvas. */
  width: number;
  /** Height of the image on the canvas. */
  height: number;
}

/** A tile's picture at its own size: a canvas and the pixels last put on it. */
export interface Picture {
  canvas: HTMLCanvasElement;
  image: ImageData;
}

/** What {@linkcode drawTile} draws. */
export interface TileScene {
  /** The packet whose poses are drawn. */
  header: PacketHeader;
  /** The picture under them, null before the first one. */
  picture: HTMLCanvasElement | null;
  /** The page's drawing settings. */
  config: LiveConfig;
}

/**
 * The 2d context of `canvas`.
 *
 * @param canvas a canvas element
 * @returns its context
 * @throws {Error} when the browser gives none
 */
export function context2d(canvas: HTMLCanvasElement): CanvasRenderingContext2D {
  const ctx = canvas.getContext("2d");
  if (ctx === null) throw new Error("Cannot draw the live view: the canvas has no 2d context");
  return ctx;
}

/**
 * Fits the source image into a canvas, centred, keeping its aspect ratio.
 *
 * @param canvas the canvas size
 * @param header the packet, for the source size
 * @returns where the image lies
 */
export function fitSource(
  canvas: { width: number; height: number },
  header: Pick<PacketHeader, "sourceWidth" | "sourceHeight">,
): Fit {
  const s = Math.min(canvas.width / header.sourceWidth, canvas.height / header.sourceHeight);
  return {
    scale: s,
    x: (canvas.width - header.sourceWidth * s) / 2,
    y: (canvas.height - header.sourceHeight * s) / 2,
    width: header.sourceWidth * s,
    height: header.sourceHeight * s,
  };
}

/**
 * Puts a packet's RGB bytes on a picture of its size, reusing `previous` when it has that size.
 *
 * @param previous the tile's picture so far, or null
 * @param header the packet's header, for the picture size (not 0 x 0)
 * @param rgb the packet's picture bytes, `width * height * 3` of them
 * @returns the picture now showing them
 */
export function paintPicture(
  previous: Picture | null,
  header: Pick<PacketHeader, "width" | "height">,
  rgb: Uint8Array,
): Picture {
  let picture = previous;
  if (
    !picture || picture.canvas.width !== header.width || picture.canvas.height !== header.height
  ) {
    const canvas = document.createElement("canvas");
    canvas.width = header.width;
    canvas.height = header.height;
    picture = { canvas, image: new ImageData(header.width, header.height) };
  }
  const rgba = picture.image.data;
  for (let i = 0, o = 0, n = header.width * header.height * 3; i < n; i += 3, o += 4) {
    rgba[o] = rgb[i];
    rgba[o + 1] = rgb[i + 1];
    rgba[o + 2] = rgb[i + 2];
    rgba[o + 3] = 255;
  }
  context2d(picture.canvas).putImageData(picture.image, 0, 0);
  return picture;
}

/**
 * Draws a tile: sizes the canvas to its displayed size in device pixels, clears it, draws the
 * picture fitted into it and the skeletons over it.
 *
 * @param canvas the tile's canvas
 * @param scene the packet, picture and settings to draw
 */
export function drawTile(canvas: HTMLCanvasElement, scene: TileScene): void {
  const dpr = devicePixelRatio || 1;
  const w = Math.max(1, Math.round(canvas.clientWidth * dpr));
  const h = Math.max(1, Math.round(canvas.clientHeight * dpr));
  if (canvas.width !== w || canvas.height !== h) {
    canvas.width = w;
    canvas.height = h;
  }
  const ctx = context2d(canvas);
  ctx.fillStyle = "#07090c";
  ctx.fillRect(0, 0, w, h);
  const f = fitSource(canvas, scene.header);
  if (scene.picture) {
    ctx.imageSmoothingEnabled = true;
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(scene.picture, f.x, f.y, f.width, f.height);
  }
  drawSkeletons(ctx, scene.header.persons, f, dpr, scene.config);
}

/**
 * Each person's dashed box (in its track's colour) and label (track id, class name and score),
 * then the limbs of a 17-keypoint (COCO) model, then the keypoints on top: those of other
 * models as points in one colour.
 * Keypoints with a confidence below the threshold are left out; 2-value keypoints (no
 * confidence) are all drawn.
 */
function drawSkeletons(
  ctx: CanvasRenderingContext2D,
  persons: PacketPerson[],
  f: Fit,
  dpr: number,
  config: LiveConfig,
): void {
  const threshold = config.scoreThreshold;
  const unit = Math.max(1, f.width / 640) * dpr;
  const line = Math.max(2 * dpr, 2.5 * unit);
  const radius = Math.max(3 * dpr, 3.5 * unit);
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const p of persons) {
    const x1 = f.x + p.box[0] * f.scale, y1 = f.y + p.box[1] * f.scale;
    const x2 = f.x + p.box[2] * f.scale, y2 = f.y + p.box[3] * f.scale;
    const tracked = p.track !== undefined;
    ctx.strokeStyle = tracked ? trackColour(p.track!, 0.8) : "rgba(255, 255, 255, 0.28)";
    ctx.lineWidth = Math.max(1, dpr) * (tracked ? 1.5 : 1);
    ctx.setLineDash([4 * dpr, 4 * dpr]);
    ctx.strokeRect(x1, y1, x2 - x1, y2 - y1);
    ctx.setLineDash([]);
    const label = personLabel(p);
    ctx.font = Math.round(11 * dpr) + "px system-ui, sans-serif";
    const tw = ctx.measureText(label).width + 8 * dpr;
    const th = 15 * dpr;
    const ly = Math.max(0, y1 - th);
    // A person at the right edge keeps the whole label in view.
    const lx = Math.max(0, Math.min(x1, ctx.canvas.width - tw - (tracked ? 2 * dpr : 0)));
    ctx.fillStyle = "rgba(13, 16, 20, 0.75)";
    ctx.fillRect(lx, ly, tw + (tracked ? 2 * dpr : 0), th);
    if (tracked) {
      ctx.fillStyle = trackColour(p.track!, 1);
      ctx.fillRect(lx, ly, 3 * dpr, th);
    }
    ctx.fillStyle = "#e6e9ee";
    ctx.textBaseline = "middle";
    ctx.fillText(label, lx + 4 * dpr + (tracked ? 2 * dpr : 0), ly + th / 2);
  }
  const shown = (k: number[], d: number, i: number) => d < 3 || k[d * i + 2] >= threshold;
  for (const p of persons) {
    const k = p.keypoints;
    const d = p.dims ?? 3;
    if (k.length !== d * config.keypointSides.length) continue;
    for (const limb of config.limbs) {
      if (!shown(k, d, limb.a) || !shown(k, d, limb.b)) continue;
      const a = d * limb.a, b = d * limb.b;
      ctx.strokeStyle = "rgba(0, 0, 0, 0.55)";
      ctx.lineWidth = line + 2 * dpr;
      ctx.beginPath();
      ctx.moveTo(f.x + k[a] * f.scale, f.y + k[a + 1] * f.scale);
      ctx.lineTo(f.x + k[b] * f.scale, f.y + k[b + 1] * f.scale);
      ctx.stroke();
      ctx.strokeStyle = config.colours[limb.side];
      ctx.lineWidth = line;
      ctx.stroke();
    }
  }
  for (const p of persons) {
    const k = p.keypoints;
    const d = p.dims ?? 3;
    const count = Math.floor(k.length / d);
    const coco = count === config.keypointSides.length;
    for (let i = 0; i < count; i++) {
      if (!shown(k, d, i)) continue;
      ctx.beginPath();
      ctx.arc(f.x + k[d * i] * f.scale, f.y + k[d * i + 1] * f.scale, radius, 0, 2 * Math.PI);
      ctx.fillStyle = coco ? config.colours[config.keypointSides[i]] : config.colours.centre;
      ctx.fill();
      ctx.strokeStyle = "rgba(0, 0, 0, 0.7)";
      ctx.lineWidth = Math.max(1, dpr);
      ctx.stroke();
    }
  }
}
