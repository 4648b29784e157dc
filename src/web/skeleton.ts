// The COCO-17 skeleton as the live view draws it: limbs, sides and colours.

/** Which side of the body a keypoint or limb belongs to; it picks the colour. */
export type BodySide = "left" | "right" | "centre";

/** The 17 COCO keypoints in model output order. */
export const COCO_KEYPOINT_NAMES = [
  "nose",
  "left_eye",
  "right_eye",
  "left_ear",
  "right_ear",
  "left_shoulder",
  "right_shoulder",
  "left_elbow",
  "right_elbow",
  "left_wrist",
  "right_wrist",
  "left_hip",
  "right_hip",
  "left_knee",
  "right_knee",
  "left_ankle",
  "right_ankle",
] as const;

/** Limbs as pairs of keypoint indices (the skeleton Ultralytics draws for COCO pose). */
export const COCO_LIMBS: readonly (readonly [number, number])[] = [
  [15, 13],
  [13, 11],
  [16, 14],
  [14, 12],
  [11, 12],
  [5, 11],
  [6, 12],
  [5, 6],
  [5, 7],
  [6, 8],
  [7, 9],
  [8, 10],
  [1, 2],
  [0, 1],
  [0, 2],
  [1, 3],
  [2, 4],
  [3, 5],
  [4, 6],
];

/** Colours of the skeleton, by side, as `#rrggbb`. */
export const SKELETON_COLOURS: Readonly<Record<BodySide, string>> = {
  left: "#38bdf8",
  right: "#fb923c",
  centre: "#facc15",
};

/**
 * The side of keypoint `index` (0..16): left, right, or centre for the nose.
 *
 * @param index a COCO keypoint index
 * @returns its side
 */
export function keypointSide(index: number): BodySide {
  const name = COCO_KEYPOINT_NAMES[index];
  if (name === undefined) throw new RangeError(`Cannot name keypoint ${index}: COCO has 0..16`);
  return name.startsWith("left_") ? "left" : name.startsWith("right_") ? "right" : "centre";
}

/**
 * The side of a limb: that of its ends when they agree, else centre.
 *
 * @param limb a pair of keypoint indices
 * @returns its side
 */
export function limbSide(limb: readonly [number, number]): BodySide {
  const a = keypointSide(limb[0]);
  return a === keypointSide(limb[1]) ? a : "centre";
}

/**
 * `#rrggbb` as [r, g, b].
 *
 * @param hex a colour such as `#38bdf8`
 * @returns its channels, 0..255
 */
export function hexToRgb(hex: string): [number, number, number] {
  const m = /^#([0-9a-f]{2})([0-9a-f]{2})([0-9a-f]{2})$/i.exec(hex);
  if (!m) throw new Error(`Cannot read colour: ${hex}`);
  return [parseInt(m[1]!, 16), parseInt(m[2]!, 16), parseInt(m[3]!, 16)];
}
