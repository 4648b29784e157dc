// What the live view's browser code reads from the server: the drawing settings the page
// embeds (#live-config) and the streams' state that /live/state answers.

import type { BodySide } from "../skeleton.ts";

/** A limb to draw: two keypoint indices and the side that picks its colour. */
export interface LiveLimb {
  /** Index of one end (0..16). */
  a: number;
  /** Index of the other end (0..16). */
  b: number;
  /** Side of the body, for the colour. */
  side: BodySide;
}

/** The drawing settings in the page's `#live-config` element (written by `renderLivePage`). */
export interface LiveConfig {
  /** Keypoints below this confidence are not drawn. */
  scoreThreshold: number;
  /** Milliseconds between two picture requests per tile. */
  snapshotIntervalMs: number;
  /** The COCO skeleton's limbs, drawn for persons with 17 keypoints. */
  limbs: LiveLimb[];
  /** Side of each of the 17 COCO keypoints; persons with another count get points only. */
  keypointSides: BodySide[];
  /** Colour (`#rrggbb`) of each side. */
  colours: Record<BodySide, string>;
}

/** One stream in the answer of /live/state (a `LiveStreamInfo`, its numbers rounded). */
export interface StreamInfo {
  /** Stream id. */
  id: string;
  /** Lifecycle state: starting, up, down, retrying, finished, stopped. */
  state: string;
  /** Why the stream is not up, when it is not. */
  reason: string | null;
  /** Frames per second over the recent window. */
  fps: number;
  /** Latency quantiles in milliseconds, null before the first frame. */
  p50Ms: number | null;
  p99Ms: number | null;
  /** Persons in the latest frame. */
  persons: number;
  /** How the stream is decoded (cpu, nvdec, synthetic). */
  decoder?: string;
}

/** The answer of /live/state, as far as the page reads it. */
export interface StateAnswer {
  /** Every current stream, in tile order. */
  streams: StreamInfo[];
}
