// The synthetic source's scene form: people who walk continuously, cross, pass behind a sign,
// enter and leave (tracking/synthetic_scene.ts), drawn frame by frame, with their ground truth
// written as MOTChallenge's gt.txt.

import {
  computeLetterbox,
  type Frame,
  type FrameSink,
  type FrameSource,
  LETTERBOX_GRAY,
} from "./frame.ts";
import { FramePool } from "./frame_pool.ts";
import type { StreamLifecycle } from "./stream_lifecycle.ts";
import { groundTruthRow, SyntheticScene } from "../tracking/synthetic_scene.ts";

/** What `synthetic:...?scene=walk[&gt=PATH]` asks for. */
export interface SceneSpec {
  /** The scene's name; `walk` is the one scene. */
  name: "walk";
  /** Where the ground truth goes (MOTChallenge gt.txt, frame n = the stream's frame seq n - 1). */
  groundTruthPath: string | null;
}

/** The scene's names. */
export const SCENE_NAMES = ["walk"] as const;

/**
 * Parses the query of a `synthetic` URI with a `scene` parameter: `scene=walk`, optionally
 * `&gt=PATH` (the ground truth file, written as frames are made). A `gt` path is checked at
 * once (a typo'd path should not run for hours without its file): it must not be a directory
 * and its directory must exist.
 *
 * @param query the text after `?`
 * @returns the scene spec
 * @throws {Error} naming an unknown or repeated parameter, an unknown scene or a `gt` path that
 *   cannot be written
 */
export function parseSceneQuery(query: string): SceneSpec {
  const params = new URLSearchParams(query);
  let name: SceneSpec["name"] | null = null;
  let groundTruthPath: string | null = null;
  const seen = new Set<string>();
  for (const [key, value] of params) {
    if (seen.has(key)) {
      throw new Error(`repeated parameter ${JSON.stringify(key)}: give it once`);
    }
    seen.add(key);
    if (key === "scene") {
      if (!(SCENE_NAMES as readonly string[]).includes(value)) {
        throw new Error(`unknown scene ${JSON.stringify(value)}: synthetic takes ?scene=walk`);
      }
      name = value as SceneSpec["name"];
    } else if (key === "gt") {
      if (value === "") throw new Error("empty gt=: give the path of the ground truth file");
      checkGroundTruthPath(value);
      groundTruthPath = value;
    } else {
      throw new Error(
        `unknown parameter ${JSON.stringify(key)}: synthetic takes ?scene=walk[&gt=PATH]`,
      );
    }
  }
  if (name === null) throw new Error("gt= needs scene=walk");
  return { name, groundTruthPath };
}

/** The file system's answer for `path`: its info, null when it does not exist (or cannot). */
function statOrNull(path: string): Deno.FileInfo | null {
  try {
    return Deno.statSync(path);
  } catch (err) {
    if (err instanceof Deno.errors.NotFound || err instanceof Deno.errors.NotADirectory) {
      return null;
    }
    throw err;
  }
}

/**
 * Refuses a ground-truth path that cannot be a file: a directory, or one in a directory that
 * does not exist. Without read permission nothing is checked (the write then fails at start).
 */
function checkGroundTruthPath(path: string): void {
  const cut = path.lastIndexOf("/");
  const dir = cut < 0 ? "." : cut === 0 ? "/" : path.slice(0, cut);
  try {
    const info = statOrNull(path);
    if (info?.isDirectory) {
      throw new Error(`gt=${path} is a directory: give the path of a file`);
    }
    const dirInfo = statOrNull(dir);
    if (dirInfo === null) {
      throw new Error(`gt=${path}: its directory ${JSON.stringify(dir)} does not exist`);
    }
    if (!dirInfo.isDirectory) {
      throw new Error(`gt=${path}: ${JSON.stringify(dir)} is not a directory`);
    }
  } catch (err) {
    if (err instanceof Deno.errors.NotCapable) return;
    if (err instanceof Deno.errors.PermissionDenied) {
      throw new Error(`gt=${path} cannot be written: ${(err as Error).message}`);
    }
    throw err;
  }
}

/** Options of {@linkcode SceneSource}. */
export interface SceneSourceOptions {
  /** Stream id. */
  id: string;
  /** Index of the stream. */
  stream: number;
  /** Simulated camera size in pixels (the scene's frame; square for the uniform layout). */
  sourceWidth: number;
  sourceHeight: number;
  /** Model input size in pixels. */
  width: number;
  height: number;
  /** Frames per second (above 0): frame `seq` shows the scene at `seq * 1000 / fps` ms. */
  fps: number;
  scene: SceneSpec;
  lifecycle?: StreamLifecycle;
  /**
   * Called when the ground truth cannot be written (the stream goes on without it). Without it,
   * the stream goes down (a logged `stream down` and a counted failure) and stops: a run asked
   * for its ground truth should not go on for hours without it.
   */
  onError?: (err: Error) => void;
}

const GROUND: readonly [number, number, number] = [28, 30, 38];
const PERSON: readonly [number, number, number] = [190, 184, 178];
/** A brighter torso, 0.15 of the frame width square, so each person has one brightest spot. */
const TORSO: readonly [number, number, number] = [245, 242, 238];
const TORSO_OF_WIDTH = 0.15;
const SIGN: readonly [number, number, number] = [70, 60, 52];
/** Frames of ground truth gathered before one append to the file. */
const GT_FLUSH_FRAMES = 30;

/**
 * Paints rectangles into frames of one width: one full-width template row per colour, copied
 * once per rectangle and then repeated down it with `copyWithin` (no per-pixel JavaScript).
 */
class Painter {
  #width: number;
  #rows = new Map<string, Uint8Array>();

  constructor(width: number) {
    this.#width = width;
  }

  #row(rgb: readonly [number, number, number]): Uint8Array {
    const key = rgb.join(",");
    let row = this.#rows.get(key);
    if (row === undefined) {
      row = new Uint8Array(this.#width * 3);
      for (let i = 0; i < row.length; i += 3) row.set(rgb, i);
      this.#rows.set(key, row);
    }
    return row;
  }

  /** Fills [x0, x1) x [y0, y1) of `pixels` (model pixels, clipped) with `rgb`. */
  fill(
    pixels: Uint8Array,
    rect: { x0: number; y0: number; x1: number; y1: number },
    rgb: readonly [number, number, number],
  ): void {
    const width = this.#width;
    const rows = pixels.length / (width * 3);
    const x0 = Math.max(0, Math.round(rect.x0));
    const x1 = Math.min(width, Math.round(rect.x1));
    const y0 = Math.max(0, Math.round(rect.y0));
    const y1 = Math.min(rows, Math.round(rect.y1));
    if (x1 <= x0 || y1 <= y0) return;
    const span = (x1 - x0) * 3;
    const first = (y0 * width + x0) * 3;
    const template = this.#row(rgb);
    pixels.set(template.subarray(0, span), first);
    for (let y = y0 + 1; y < y1; y++) {
      pixels.copyWithin((y * width + x0) * 3, first, first + span);
    }
  }
}

/**
 * A synthetic camera showing {@linkcode SyntheticScene}'s uniform layout (people the size the
 * demo model detects), drawn into pooled frames at `fps`: frame `seq` shows the scene at
 * `seq * 1000 / fps` ms, whatever the wall clock, so a frame dropped downstream is a frame
 * missing from the results, not a jump of the scene. With `gt`, every frame's ground truth is
 * appended to that file (MOTChallenge gt.txt, its frame number `seq + 1`).
 */
export class SceneSource implements FrameSource {
  readonly id: string;
  readonly scene: SyntheticScene;
  #options: SceneSourceOptions;
  #pool: FramePool;
  #painter: Painter;
  #letterbox;
  #seq = 0;
  #stopped = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextDue = 0;
  #gtLines: string[] = [];
  #gtFrames = 0;
  #gtWrite: Promise<void> = Promise.resolve();
  #gtStarted = false;
  #gtFailed = false;

  constructor(options: SceneSourceOptions) {
    if (!(options.fps > 0)) {
      throw new RangeError(
        `Cannot show the scene at ${options.fps} fps: give synthetic@FPS above 0`,
      );
    }
    this.id = options.id;
    this.#options = options;
    this.scene = new SyntheticScene({
      width: options.sourceWidth,
      height: options.sourceHeight,
      layout: "uniform",
    });
    this.#letterbox = computeLetterbox(
      { width: options.sourceWidth, height: options.sourceHeight },
      { width: options.width, height: options.height },
    );
    this.#pool = new FramePool(options.width * options.height * 3);
    this.#painter = new Painter(options.width);
  }

  start(sink: FrameSink): void {
    this.#stopped = false;
    if (!this.#gtStarted && this.#options.scene.groundTruthPath !== null) {
      this.#gtStarted = true;
      // A new run writes a new file (its frames count from 1 again).
      this.#gtWrite = Deno.writeTextFile(this.#options.scene.groundTruthPath, "").catch((err) =>
        this.#groundTruthFailed(err as Error)
      );
    }
    this.#options.lifecycle?.up({
      size: `${this.#options.sourceWidth}x${this.#options.sourceHeight}`,
    });
    this.#nextDue = performance.now();
    this.#tick(sink);
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#options.lifecycle?.stopped();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#flushGroundTruth();
    return this.#gtWrite;
  }

  /** Draws frame `seq` into `pixels`: ground, people farthest first, then the sign. */
  #draw(pixels: Uint8Array, timeMs: number): void {
    const lb = this.#letterbox;
    const painter = this.#painter;
    const o = this.#options;
    pixels.fill(LETTERBOX_GRAY);
    const scaledW = o.sourceWidth * lb.scale;
    const scaledH = o.sourceHeight * lb.scale;
    painter.fill(
      pixels,
      { x0: lb.padX, y0: lb.padY, x1: lb.padX + scaledW, y1: lb.padY + scaledH },
      GROUND,
    );
    const people = this.scene.personsAt(timeMs, { includeHidden: true });
    people.sort((a, b) => a.box[3] - b.box[3]);
    const toModel = (box: readonly number[]) => ({
      x0: lb.padX + box[0]! * lb.scale,
      y0: lb.padY + box[1]! * lb.scale,
      x1: lb.padX + box[2]! * lb.scale,
      y1: lb.padY + box[3]! * lb.scale,
    });
    const half = TORSO_OF_WIDTH * o.sourceWidth / 2;
    for (const p of people) {
      painter.fill(pixels, toModel(p.box), PERSON);
      // The torso of the full box (its centre), clipped to the visible box.
      const cx = (p.full[0] + p.full[2]) / 2, cy = (p.full[1] + p.full[3]) / 2;
      const torso = [
        Math.max(p.box[0], cx - half),
        Math.max(p.box[1], cy - half),
        Math.min(p.box[2], cx + half),
        Math.min(p.box[3], cy + half),
      ];
      painter.fill(pixels, toModel(torso), TORSO);
    }
    for (const sign of this.scene.occludersAt(timeMs)) painter.fill(pixels, toModel(sign), SIGN);
  }

  #emit(sink: FrameSink): void {
    const started = performance.now();
    const seq = this.#seq++;
    const timeMs = seq * 1000 / this.#options.fps;
    const pixels = this.#pool.acquire();
    this.#draw(pixels, timeMs);
    if (this.#options.scene.groundTruthPath !== null) this.#recordGroundTruth(seq, timeMs);
    const capturedAt = performance.now();
    const pool = this.#pool;
    const frame: Frame = {
      stream: this.#options.stream,
      seq,
      capturedAt,
      readMs: capturedAt - started,
      pixels,
      letterbox: this.#letterbox,
      release: () => pool.release(pixels),
    };
    sink.push(frame);
  }

  #recordGroundTruth(seq: number, timeMs: number): void {
    for (const p of this.scene.personsAt(timeMs)) {
      this.#gtLines.push(groundTruthRow(seq + 1, p) + "\n");
    }
    if (++this.#gtFrames >= GT_FLUSH_FRAMES) this.#flushGroundTruth();
  }

  /** The ground truth cannot be written: `onError`, else the stream goes down and stops. */
  #groundTruthFailed(err: Error): void {
    if (this.#options.onError !== undefined) {
      this.#options.onError(err);
      return;
    }
    if (this.#gtFailed) return;
    this.#gtFailed = true;
    const wasStopped = this.#stopped;
    this.#stopped = true;
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#gtLines = [];
    if (!wasStopped) {
      this.#options.lifecycle?.down(
        "exited",
        `cannot write the ground truth gt=${this.#options.scene.groundTruthPath}: ${err.message}`,
      );
    }
  }

  #flushGroundTruth(): void {
    const path = this.#options.scene.groundTruthPath;
    this.#gtFrames = 0;
    if (path === null || this.#gtFailed || this.#gtLines.length === 0) return;
    const text = this.#gtLines.join("");
    this.#gtLines = [];
    this.#gtWrite = this.#gtWrite.then(() =>
      Deno.writeTextFile(path, text, { append: true }).catch((err) =>
        this.#groundTruthFailed(err as Error)
      )
    );
  }

  #tick(sink: FrameSink): void {
    if (this.#stopped) return;
    const now = performance.now();
    const period = 1000 / this.#options.fps;
    if (now - this.#nextDue > 5 * period) {
      // Held up (a blocked event loop): like a camera, skip the frames missed, and the scene
      // moves on with the clock (their seq numbers and ground truth are skipped too).
      this.#seq += Math.floor((now - this.#nextDue) / period);
      this.#nextDue = now;
    }
    while (this.#nextDue <= now) {
      this.#emit(sink);
      this.#nextDue += period;
    }
    this.#timer = setTimeout(
      () => this.#tick(sink),
      Math.max(0, this.#nextDue - performance.now()),
    );
  }
}
