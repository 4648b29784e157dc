// A deterministic scene of walking people with known identities, and its MOTChallenge ground truth.

import { formatMotRow } from "./mot_metrics.ts";

/**
 * Length of one cycle of the scene in milliseconds. The last person leaves 1.8 s before its end
 * and the next cycle's first ones enter 0.2 s after it: a gap of 2 s, twice the tracker's default
 * lost buffer, so every track of a cycle has ended (and the people count is 0) for about a second
 * before the next cycle's people are seen.
 */
export const SCENE_PERIOD_MS = 13_000;

/** People per cycle; cycle `c` uses ids `c * SCENE_PEOPLE + 1` to `(c + 1) * SCENE_PEOPLE`. */
export const SCENE_PEOPLE = 5;

/** A person seen by the camera at one instant, in source pixels. */
export interface ScenePerson {
  /** Ground-truth identity, from 1; never reused, also across cycles. */
  id: number;
  /** Box corners `[x1, y1, x2, y2]`, clipped to the frame. */
  box: [number, number, number, number];
  /** The whole box, not clipped (partly outside the frame while entering or leaving). */
  full: readonly [number, number, number, number];
  /** 17 COCO keypoints as x, y, visibility (0.9) triples, on a stick figure in the full box. */
  keypoints: Float32Array;
  /** Fraction of the full box that is in the frame and not behind an occluder, 0..1. */
  visibility: number;
}

/**
 * One person's `gt.txt` line (no newline) in frame `frame` (from 1): the box as left, top, width,
 * height, confidence 1 (evaluated), class 1 (pedestrian) and the person's visibility.
 */
export function groundTruthRow(frame: number, person: ScenePerson): string {
  return formatMotRow({
    frame,
    id: person.id,
    left: person.box[0],
    top: person.box[1],
    width: person.box[2] - person.box[0],
    height: person.box[3] - person.box[1],
    conf: 1,
    classId: 1,
    visibility: person.visibility,
  });
}

/** Options of {@linkcode SyntheticScene}. */
export interface SyntheticSceneOptions {
  /** Frame width in pixels. @default {1280} */
  width?: number;
  /** Frame height in pixels. @default {720} */
  height?: number;
  /**
   * Who walks where: `"mixed"`, people of different sizes at different depths (a 16:9 frame);
   * `"uniform"`, every person the same size, 0.175 x 0.3125 of the frame width (224 x 400 px at
   * 1280 wide, what the built-in demo model's fixed 112 x 200 box is at a 640 input), in
   * three bands one above the other (a square frame: 1280 x 1280).
   * @default {"mixed"}
   */
  layout?: "mixed" | "uniform";
}

/** Options of {@linkcode SyntheticScene.personsAt}. */
export interface PersonsAtOptions {
  /** Also return people less than half visible (to draw under the occluders). @default {false} */
  includeHidden?: boolean;
}

/** Options of {@linkcode SyntheticScene.groundTruth}. */
export interface GroundTruthOptions {
  /** Frame rate; frame `k` (from 1) is at `(k - 1) * 1000 / fps` ms. */
  fps: number;
  /** Length of the ground truth in milliseconds. @default {SCENE_PERIOD_MS} */
  durationMs?: number;
}

/** How one walker moves within a cycle; fractions of the frame unless noted. */
interface Walker {
  /** Box height as a fraction of the frame height. */
  height: number;
  /** Feet (box bottom) as a fraction of the frame height. */
  bottom: number;
  /** Enters (box just outside the frame) and leaves, in ms within the cycle. */
  startMs: number;
  endMs: number;
  path: "right" | "left" | "in-and-out";
  /** Steps per second, and the phase of the first step (radians). */
  stepHz: number;
  stepPhase: number;
}

/** Width of a person's box as a fraction of its height. */
const ASPECT = 0.42;

/** Width of a person's box as a fraction of its height in the uniform layout (112 / 200). */
const UNIFORM_ASPECT = 0.56;
/** Height of a person in the uniform layout as a fraction of the frame width (400 / 1280). */
const UNIFORM_HEIGHT_OF_WIDTH = 0.3125;

/**
 * The walkers: A and B cross in the middle (B nearer the camera, their boxes overlapping by IoU
 * up to about 0.4 so a detector's NMS keeps both), C walks behind a hanging sign for exactly one
 * second, D walks in from the right, turns and leaves, E enters late from the left and hurries
 * out. Nobody enters where someone left less than 1.2 s before (more than the tracker's lost
 * buffer), so a fresh person never meets a lost track, also across cycles (the last leaves at
 * 11.2 s, the next cycle's first enter at 13.2 s).
 */
const WALKERS: readonly Walker[] = [
  {
    height: 0.40,
    bottom: 0.72,
    startMs: 200,
    endMs: 7200,
    path: "right",
    stepHz: 1.8,
    stepPhase: 0,
  },
  {
    height: 0.46,
    bottom: 0.92,
    startMs: 200,
    endMs: 7200,
    path: "left",
    stepHz: 1.7,
    stepPhase: 2,
  },
  {
    height: 0.26,
    bottom: 0.34,
    startMs: 1000,
    endMs: 11000,
    path: "right",
    stepHz: 1.5,
    stepPhase: 1,
  },
  {
    height: 0.26,
    bottom: 0.34,
    startMs: 2000,
    endMs: 6500,
    path: "in-and-out",
    stepHz: 1.6,
    stepPhase: 4,
  },
  {
    height: 0.40,
    bottom: 0.98,
    startMs: 8400,
    endMs: 11200,
    path: "right",
    stepHz: 2.6,
    stepPhase: 3,
  },
];

/**
 * The walkers of the uniform layout, on a square frame (fractions of its height; every box
 * 0.3125 high): the same five walks as {@linkcode WALKERS}, the back row (C, who a tram hides,
 * and D) on top, A and B crossing below it with their boxes 256 px apart vertically at 1280 (IoU
 * up to 0.22), E along the bottom. Box centres sit on the demo model's 64-px cell centres.
 */
const UNIFORM_WALKERS: readonly Walker[] = [
  { ...WALKERS[0]!, height: UNIFORM_HEIGHT_OF_WIDTH, bottom: 872 / 1280 },
  { ...WALKERS[1]!, height: UNIFORM_HEIGHT_OF_WIDTH, bottom: 1128 / 1280 },
  { ...WALKERS[2]!, height: UNIFORM_HEIGHT_OF_WIDTH, bottom: 424 / 1280 },
  { ...WALKERS[3]!, height: UNIFORM_HEIGHT_OF_WIDTH, bottom: 424 / 1280 },
  { ...WALKERS[4]!, height: UNIFORM_HEIGHT_OF_WIDTH, bottom: 1256 / 1280 },
];

/** Index of the walker who passes behind the occluder. */
const OCCLUDED = 2;

/** Stick figure offsets from the box centre, fractions of box width and height (COCO order). */
const FIGURE: readonly (readonly [number, number])[] = [
  [0, -0.4],
  [-0.04, -0.43],
  [0.04, -0.43],
  [-0.09, -0.41],
  [0.09, -0.41],
  [-0.22, -0.27],
  [0.22, -0.27],
  [-0.3, -0.07],
  [0.3, -0.07],
  [-0.32, 0.1],
  [0.32, 0.1],
  [-0.14, 0.06],
  [0.14, 0.06],
  [-0.15, 0.26],
  [0.15, 0.26],
  [-0.16, 0.46],
  [0.16, 0.46],
];
/** How far each keypoint moves toward the walking direction (head) and with the stride (limbs). */
const FACING = [0.1, 0.08, 0.08, 0.04, 0.04, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];
const SWING = [0, 0, 0, 0, 0, 0, 0, 0.1, -0.1, 0.18, -0.18, 0, 0, -0.1, 0.1, -0.2, 0.2];

/** Pose of {@linkcode stickFigure}. */
export interface StickFigurePose {
  /** Walking direction: -1 left, 1 right, 0 facing the camera; the head turns with it. */
  facing: number;
  /** Stride, -1..1: arms and legs swing in opposite phase. */
  swing: number;
}

/**
 * The 17 COCO keypoints of a stick figure filling a box, with visibility 0.9 (the demo model's
 * figure, plus a head turned toward the walking direction and a stride).
 *
 * @param box The person's full box, corners `[x1, y1, x2, y2]`.
 * @param pose Facing and stride.
 * @returns 17 x, y, visibility triples.
 */
export function stickFigure(box: ArrayLike<number>, pose: StickFigurePose): Float32Array {
  const w = box[2]! - box[0]!;
  const h = box[3]! - box[1]!;
  const cx = box[0]! + w / 2;
  const cy = box[1]! + h / 2;
  const keypoints = new Float32Array(FIGURE.length * 3);
  for (let k = 0; k < FIGURE.length; k++) {
    const [fx, fy] = FIGURE[k]!;
    keypoints[3 * k] = cx + (fx + FACING[k]! * pose.facing + SWING[k]! * pose.swing) * w;
    keypoints[3 * k + 1] = cy + fy * h;
    keypoints[3 * k + 2] = 0.9;
  }
  return keypoints;
}

function overlapArea(
  a: readonly [number, number, number, number],
  b: readonly [number, number, number, number],
): number {
  const w = Math.min(a[2], b[2]) - Math.max(a[0], b[0]);
  const h = Math.min(a[3], b[3]) - Math.max(a[1], b[1]);
  return w > 0 && h > 0 ? w * h : 0;
}

/**
 * A scene of five people per 13-second cycle, as a pure function of time: people walk
 * continuously (a cycle starts and ends with nobody in view, so repeating it never makes anyone
 * jump), two cross each other, one is hidden behind an occluder for one second, people enter and
 * leave. A person counts as present while at least half of their box is in the frame and
 * uncovered (ids are those of MOTChallenge's `gt.txt`; boxes are clipped to the frame).
 *
 * To render it, draw each person of `personsAt(t, { includeHidden: true })` as a bright
 * figure (farthest first: smaller `box[3]`), then `occludersAt(t)` on top.
 *
 * @example
 * ```ts
 * const scene = new SyntheticScene();
 * const people = scene.personsAt(3700); // A and B crossing, C and D: ids 1 to 4
 * const gt = scene.groundTruth({ fps: 30 }); // gt.txt text
 * ```
 */
export class SyntheticScene {
  readonly width: number;
  readonly height: number;
  readonly periodMs = SCENE_PERIOD_MS;
  /** Opaque rectangles in front of the people, corners in pixels. */
  readonly occluders: readonly (readonly [number, number, number, number])[];
  /** Time within each cycle during which the occluded walker is hidden, `[from, to)` ms. */
  readonly occlusionMs: readonly [number, number];
  /** The layout (see {@linkcode SyntheticSceneOptions.layout}). */
  readonly layout: "mixed" | "uniform";
  #walkers: readonly Walker[];
  #aspect: number;
  /** The uniform layout's occluder: a long tram crossing the back row right to left. */
  #tram:
    | { width: number; speed: number; atMs: number; x: number; top: number; bottom: number }
    | null = null;

  /**
   * @param options Frame size.
   * @throws {RangeError} When a size is not a positive number.
   */
  constructor(options: SyntheticSceneOptions = {}) {
    this.layout = options.layout ?? "mixed";
    const uniform = this.layout === "uniform";
    this.width = options.width ?? 1280;
    this.height = options.height ?? (uniform ? 1280 : 720);
    // Uniform heights are fractions of the width, on a square frame; scaled to the height.
    this.#walkers = uniform
      ? UNIFORM_WALKERS.map((w) => ({ ...w, height: w.height * this.width / this.height }))
      : WALKERS;
    this.#aspect = uniform ? UNIFORM_ASPECT : ASPECT;
    if (!(this.width > 0 && this.height > 0)) {
      throw new RangeError(
        `Cannot build the scene: not a frame size: ${this.width}x${this.height}`,
      );
    }
    // A sign as wide as the occluded walker covers in one second, so the walker's centre is
    // behind it (more than half of the box covered) for exactly one second.
    const c = this.#walkers[OCCLUDED]!;
    const w = this.#aspect * c.height * this.height;
    const speed = (this.width + w) / (c.endMs - c.startMs); // px per ms
    const signWidth = speed * 1000;
    const centre = 0.7 * this.width;
    const top = (c.bottom - c.height - 0.05) * this.height;
    // The uniform layout's sign ends right below the back row, clear of A's band.
    const bottom = (c.bottom + (uniform ? 0.01 : 0.03)) * this.height;
    const reach = (x: number) => c.startMs + (x + w / 2) / speed;
    if (uniform) {
      // A static sign would hide the walker only bit by bit (a box-centre detector then sees
      // the visible strip and loses the walker's speed); a tram meeting the walker at 8 times
      // its speed covers and uncovers it within a few frames. It is as long as the two cover
      // in one second together, so the walker's centre is behind it for exactly one second,
      // centred where the sign of the mixed layout is.
      const tramSpeed = 8 * speed;
      const length = (speed + tramSpeed) * 1000;
      const atMs = reach(centre);
      this.#tram = { width: length, speed: tramSpeed, atMs, x: centre, top, bottom };
      this.occluders = [];
      this.occlusionMs = [atMs - 500, atMs + 500];
    } else {
      this.occluders = [[centre - signWidth / 2, top, centre + signWidth / 2, bottom]];
      this.occlusionMs = [reach(centre - signWidth / 2), reach(centre + signWidth / 2)];
    }
  }

  /**
   * The opaque rectangles in front of the people at `timeMs`: the static {@linkcode occluders},
   * or the uniform layout's moving tram.
   *
   * @param timeMs Time since the scene started, in milliseconds.
   * @returns Corners in pixels (a new array).
   */
  occludersAt(timeMs: number): (readonly [number, number, number, number])[] {
    const tram = this.#tram;
    if (tram === null) return [...this.occluders];
    const t = timeMs - Math.floor(timeMs / this.periodMs) * this.periodMs;
    const x = tram.x - tram.speed * (t - tram.atMs);
    return [[x - tram.width / 2, tram.top, x + tram.width / 2, tram.bottom]];
  }

  /**
   * The people in view at `timeMs` (the scene repeats every `periodMs`), in walker order.
   *
   * @param timeMs Time since the scene started, in milliseconds (0 or more).
   * @param options Whether to include people less than half visible.
   * @returns The people present, by walker order within the cycle.
   */
  personsAt(timeMs: number, options: PersonsAtOptions = {}): ScenePerson[] {
    const cycle = Math.floor(timeMs / this.periodMs);
    const t = timeMs - cycle * this.periodMs;
    const out: ScenePerson[] = [];
    const W = this.width;
    const H = this.height;
    const aspect = this.#aspect;
    const occluders = this.occludersAt(timeMs);
    this.#walkers.forEach((walker, index) => {
      if (t < walker.startMs || t > walker.endMs) return;
      const h = walker.height * H;
      const w = aspect * h;
      const u = (t - walker.startMs) / (walker.endMs - walker.startMs);
      let cx: number;
      let facing: number;
      if (walker.path === "in-and-out") {
        const amplitude = W + w / 2 - 0.8 * W;
        cx = W + w / 2 - amplitude * Math.sin(Math.PI * u);
        facing = -Math.cos(Math.PI * u);
      } else {
        const from = walker.path === "right" ? -w / 2 : W + w / 2;
        const to = walker.path === "right" ? W + w / 2 : -w / 2;
        cx = from + (to - from) * u;
        facing = walker.path === "right" ? 1 : -1;
      }
      const cy = walker.bottom * H - h / 2;
      const full = [cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2] as const;
      const box: [number, number, number, number] = [
        Math.max(0, full[0]),
        Math.max(0, full[1]),
        Math.min(W, full[2]),
        Math.min(H, full[3]),
      ];
      if (!(box[2] > box[0] && box[3] > box[1])) return;
      let seen = (box[2] - box[0]) * (box[3] - box[1]);
      for (const occluder of occluders) seen -= overlapArea(box, occluder);
      const visibility = Math.max(0, seen / (w * h));
      if (visibility < 0.5 && !options.includeHidden) return;
      const swing = Math.abs(facing) *
        Math.sin(2 * Math.PI * walker.stepHz * t / 1000 + walker.stepPhase);
      const keypoints = stickFigure(full, { facing, swing });
      out.push({ id: cycle * SCENE_PEOPLE + index + 1, box, full, keypoints, visibility });
    });
    return out;
  }

  /**
   * The scene's ground truth in MOTChallenge's `gt.txt` form, one line per person and frame:
   * `frame,id,left,top,width,height,1,1,visibility` (confidence 1 = evaluated, class 1 =
   * pedestrian), frames numbered from 1.
   *
   * @param options Frame rate and length.
   * @returns The text, newline-terminated lines.
   */
  groundTruth(options: GroundTruthOptions): string {
    const durationMs = options.durationMs ?? this.periodMs;
    if (!(options.fps > 0)) {
      throw new RangeError(`Cannot write ground truth: fps is ${options.fps}`);
    }
    const lines: string[] = [];
    for (let frame = 1;; frame++) {
      const t = (frame - 1) * 1000 / options.fps;
      if (t >= durationMs) break;
      for (const p of this.personsAt(t)) {
        lines.push(groundTruthRow(frame, p));
      }
    }
    return lines.map((line) => line + "\n").join("");
  }
}
