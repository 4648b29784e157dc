// What a tile says in words: its numbers with their units, the line over its picture and the
// label of each person (with the colour of its track).

import type { PacketPerson } from "../snapshot_packet.ts";
import type { StreamInfo } from "./live_config.ts";

/**
 * A number for a tile: `—` when unknown, else `value` to `digits` decimals and `unit`.
 *
 * @param value the number, null or undefined when unknown
 * @param digits decimals shown
 * @param unit appended to a known value
 * @returns the text
 */
export function formatValue(
  value: number | null | undefined,
  digits: number,
  unit = "",
): string {
  if (value === null || value === undefined || !isFinite(value)) return "\u2014";
  return value.toFixed(digits) + unit;
}

/**
 * The line over a tile's picture: empty for a stream that is up and has a picture, else what
 * it waits for or why it is not up (worded as the served page's `overlayText` does).
 *
 * @param info the stream's state
 * @param hasPicture whether the tile has shown a picture
 * @returns the text
 */
export function overlayText(
  info: Pick<StreamInfo, "state" | "reason">,
  hasPicture: boolean,
): string {
  if (info.state === "up") return hasPicture ? "" : "waiting for a picture\u2026";
  const why = info.reason ? info.reason : "";
  if (info.state === "down") return "down" + (why ? ": " + why : "");
  if (info.state === "retrying") return "retrying" + (why ? " after: " + why : "");
  return info.state + (why ? ": " + why : "");
}

/**
 * The text over a person's box: the track id (`#7`), the class name of a model with several
 * classes, and the score (`#7 93%`, `dog 80%`).
 *
 * @param p the person
 * @returns the label
 */
export function personLabel(p: Pick<PacketPerson, "track" | "label" | "score">): string {
  return (p.track !== undefined ? "#" + p.track + " " : "") +
    (p.label !== undefined ? p.label + " " : "") + Math.round(p.score * 100) + "%";
}

/**
 * A colour of its own for each track id (hues 137.5 degrees apart, the golden angle, so that
 * ids next to each other look different), to follow one person across frames.
 *
 * @param track the track id
 * @param alpha opacity, 0..1
 * @returns a CSS colour
 */
export function trackColour(track: number, alpha: number): string {
  return "hsla(" + Math.round((track * 137.508) % 360) + ", 85%, 62%, " + alpha + ")";
}
