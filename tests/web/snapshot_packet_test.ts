import { assertEquals } from "../_assert.ts";
import {
  decodeSnapshotPacket,
  encodeSnapshotPacket,
  toPacketPersons,
} from "../../src/web/snapshot_packet.ts";

Deno.test("toPacketPersons() keeps the model's keypoints, their values per keypoint and the class name", () => {
  const persons = toPacketPersons([
    {
      score: 0.87654,
      box: [1.04, 2.06, 3, 4],
      keypoints: Float32Array.from([10.04, 20.06, 0.12345, 11, 21, 0.5]),
    },
    {
      score: 0.5,
      box: [0, 0, 10, 10],
      keypoints: Float32Array.from([1.26, 2.34, 3, 4]),
      keypointDims: 2,
      className: "dog",
    },
    { score: 0.9, box: [0, 0, 4, 8], keypoints: Float32Array.from([1, 2]), trackId: 7 },
  ]);
  assertEquals(persons, [
    {
      score: 0.877,
      box: [1, 2.1, 3, 4],
      keypoints: [10, 20.1, 0.123, 11, 21, 0.5],
      dims: 3,
    },
    { score: 0.5, box: [0, 0, 10, 10], keypoints: [1.3, 2.3, 3, 4], dims: 2, label: "dog" },
    { score: 0.9, box: [0, 0, 4, 8], keypoints: [1, 2], dims: 3, track: 7 },
  ]);
  const header = {
    token: 1,
    stream: "s",
    seq: 0,
    width: 0,
    height: 0,
    sourceWidth: 1280,
    sourceHeight: 720,
    ageMs: 0,
    persons,
  };
  assertEquals(
    decodeSnapshotPacket(encodeSnapshotPacket(header, new Uint8Array(0))).header,
    header,
  );
});
