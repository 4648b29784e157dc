// The live view's binary answer: a little-endian u32 header length, a JSON header (the
// picture's geometry and the poses of that very frame), then the raw RGB24 bytes. The server
// encodes it and the browser code (src/web/browser/) decodes it, so this module imports nothing.

/**
 * What {@linkcode toPacketPersons} reads of a person. A `Person` of `src/pose/decoder.ts` fits;
 * it is spelled out here so that the browser bundle does not pull in the pose decoder.
 */
export interface PosePerson {
  /** Person score, 0..1. */
  score: number;
  /** Box corners [x1, y1, x2, y2] in source pixels. */
  box: readonly number[];
  /** The model's keypoints, `keypointDims` values each (x, y[, visibility]), in source pixels. */
  keypoints: ArrayLike<number>;
  /** Values per keypoint: 3 or 2. @default {3} */
  keypointDims?: 2 | 3;
  /** Class name, for a model with several classes. */
  className?: string;
  /** Track id (the tracking stage's, unique per stream in a run); absent while untracked. */
  trackId?: number;
}

/** A person as the page receives it: numbers rounded, keypoints as a flat list. */
export interface PacketPerson {
  score: number;
  /** [x1, y1, x2, y2] in source pixels. */
  box: number[];
  /** K x `dims` values: x, y in source pixels[, confidence]. 17 COCO keypoints for a COCO model. */
  keypoints: number[];
  /** Values per keypoint: 3 (x, y, confidence) or 2 (x, y, always drawn). */
  dims: 2 | 3;
  /** Class name, for a model with several classes. */
  label?: string;
  /** Track id, as `track_id` in the JSONL; absent while the person is not tracked. */
  track?: number;
}

/** The JSON header of a snapshot packet. */
export interface PacketHeader {
  /** Changes with every new picture; the page sends it back as `after` to skip repeats. */
  token: number;
  /** Stream id. */
  stream: string;
  /** Sequence number of the frame within its stream. */
  seq: number;
  /** Picture size in pixels; 0 x 0 when there is no picture yet, only poses. */
  width: number;
  height: number;
  /** Source image size: poses are in these pixels. */
  sourceWidth: number;
  sourceHeight: number;
  /** Milliseconds from the frame's capture to this answer. */
  ageMs: number;
  persons: PacketPerson[];
}

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function round(value: number, digits: number): number {
  const f = 10 ** digits;
  return Math.round(value * f) / f;
}

/**
 * Persons in the packet's form: coordinates to 0.1 px, scores to 0.001.
 *
 * @param persons decoded persons, in source pixels
 * @returns the same persons as plain arrays
 */
export function toPacketPersons(persons: readonly PosePerson[]): PacketPerson[] {
  return persons.map((p) => {
    const dims = p.keypointDims ?? 3;
    const keypoints = new Array<number>(p.keypoints.length);
    for (let i = 0; i < p.keypoints.length; i++) {
      keypoints[i] = round(p.keypoints[i]!, i % dims === 2 ? 3 : 1);
    }
    const packet: PacketPerson = {
      score: round(p.score, 3),
      box: p.box.map((v) => round(v, 1)),
      keypoints,
      dims,
    };
    if (p.className !== undefined) packet.label = p.className;
    if (p.trackId !== undefined) packet.track = p.trackId;
    return packet;
  });
}

/**
 * Builds a packet: header length, header, then `rgb` (which must hold exactly
 * `header.width * header.height * 3` bytes).
 *
 * @param header the JSON header
 * @param rgb the picture bytes
 * @returns the packet bytes
 */
export function encodeSnapshotPacket(
  header: PacketHeader,
  rgb: Uint8Array,
): Uint8Array<ArrayBuffer> {
  const expected = header.width * header.height * 3;
  if (rgb.length !== expected) {
    throw new RangeError(
      `Cannot encode a ${header.width}x${header.height} snapshot: it needs ${expected} RGB bytes, got ${rgb.length}`,
    );
  }
  const json = encoder.encode(JSON.stringify(header));
  const packet = new Uint8Array(4 + json.length + rgb.length);
  new DataView(packet.buffer).setUint32(0, json.length, true);
  packet.set(json, 4);
  packet.set(rgb, 4 + json.length);
  return packet;
}

/**
 * Reads a packet (the live view's browser code calls it on each snapshot it receives).
 *
 * @param packet the packet bytes
 * @returns its header and a view of its RGB bytes
 */
export function decodeSnapshotPacket(
  packet: Uint8Array,
): { header: PacketHeader; rgb: Uint8Array } {
  if (packet.length < 4) {
    throw new RangeError(`Cannot read a snapshot packet of ${packet.length} bytes`);
  }
  const length = new DataView(packet.buffer, packet.byteOffset, packet.byteLength).getUint32(
    0,
    true,
  );
  const header = JSON.parse(decoder.decode(packet.subarray(4, 4 + length))) as PacketHeader;
  return { header, rgb: packet.subarray(4 + length) };
}
