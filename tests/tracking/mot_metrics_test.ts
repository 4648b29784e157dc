import { assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import {
  formatMotRow,
  MotAccumulator,
  MotParseError,
  parseMotText,
  scoreMot,
} from "../../src/tracking/mot_metrics.ts";

/*
 * A case scored by hand. Boxes are MOTChallenge left,top,width,height; every box is 10 x 10.
 * Ground-truth objects 1 and 2, hypotheses 10, 20, 30.
 *
 * frame 1: o1 (0,0)   o2 (20,0)  | h10 (0,0)   h20 (21,0)
 *   IoU(o1,h10) = 1, d = 0. IoU(o2,h20) = 90 / 110 = 9/11, d = 2/11.
 *   Nobody was matched before: two MATCHes.
 * frame 2: o1 (1,0)   o2 (19,0)  | h10 (1,0)   h30 (19,0)
 *   o1 keeps h10 (d = 0): MATCH. o2 was last matched to h20, which is absent; the assignment
 *   pairs o2 with h30 (d = 0): a SWITCH (20 -> 30).
 * frame 3: o1 (2,0)   o2 (18,0)  | h10 (2,0)   h20 (18,0)   h30 (50,0)
 *   o1 keeps h10: MATCH. o2's last match h30 is present but does not overlap, so it is not kept;
 *   the assignment pairs o2 with h20 (d = 0): SWITCH (30 -> 20). h30 is a false positive.
 * frame 4: o1 (3,0)                | none
 *   o1 is a miss.
 * frame 5: o1 (0,0)   o2 (2,0)   | h10 (2,0)   h20 (0,0)
 *   IoU(o1,h10) = IoU(o2,h20) = 80 / 120 = 2/3 (d = 1/3); IoU(o1,h20) = IoU(o2,h10) = 1.
 *   The assignment alone would cross the pairs (total d 0), but both objects still overlap
 *   their last hypotheses by IoU >= 0.5, so both are kept: two MATCHes at d = 1/3.
 *
 * CLEAR: objects = 2+2+2+1+2 = 9, predictions = 2+2+3+0+2 = 9, matches = 2+1+1+0+2 = 6,
 *   switches = 2, false positives = 1, misses = 1.
 *   MOTA = 1 - (1 + 2 + 1) / 9 = 5/9. MOTP = (2/11 + 1/3 + 1/3) / (6 + 2) = (28/33) / 8 = 7/66.
 *   precision = recall = 8/9.
 * Identity: frames in which each pair overlaps by IoU >= 0.5:
 *   o1-h10: frames 1, 2, 3, 5 = 4    o1-h20: frame 5 = 1    o1-h30: 0
 *   o2-h20: frames 1, 3, 5 = 3       o2-h10: frame 5 = 1    o2-h30: frame 2 = 1
 *   Best one-to-one: o1-h10 + o2-h20 = 7 (o1-h10 + o2-h30 = 5, o1-h20 + o2-h10 = 2).
 *   IDTP = 7, IDFN = 9 - 7 = 2, IDFP = 9 - 7 = 2, IDP = IDR = 7/9, IDF1 = 14 / 18 = 7/9.
 */
const GT = `
1,1,0,0,10,10,1,1,1
1,2,20,0,10,10,1,1,1
2,1,1,0,10,10,1,1,1
2,2,19,0,10,10,1,1,1
3,1,2,0,10,10,1,1,1
3,2,18,0,10,10,1,1,1
4,1,3,0,10,10,1,1,1
5,1,0,0,10,10,1,1,1
5,2,2,0,10,10,1,1,1
`;
const RESULTS = `
1,10,0,0,10,10,1,-1,-1,-1
1,20,21,0,10,10,1,-1,-1,-1
2,10,1,0,10,10,1,-1,-1,-1
2,30,19,0,10,10,1,-1,-1,-1
3,10,2,0,10,10,1,-1,-1,-1
3,20,18,0,10,10,1,-1,-1,-1
3,30,50,0,10,10,1,-1,-1,-1
5,10,2,0,10,10,1,-1,-1,-1
5,20,0,0,10,10,1,-1,-1,-1
`;

Deno.test("scoreMot() gives the hand-computed CLEAR and identity metrics of a small case", () => {
  const s = scoreMot(parseMotText(GT), parseMotText(RESULTS));
  assertEquals(
    {
      frames: s.frames,
      objects: s.objects,
      predictions: s.predictions,
      uniqueObjects: s.uniqueObjects,
      matches: s.matches,
      switches: s.switches,
      falsePositives: s.falsePositives,
      misses: s.misses,
      idtp: s.idtp,
      idfp: s.idfp,
      idfn: s.idfn,
    },
    {
      frames: 5,
      objects: 9,
      predictions: 9,
      uniqueObjects: 2,
      matches: 6,
      switches: 2,
      falsePositives: 1,
      misses: 1,
      idtp: 7,
      idfp: 2,
      idfn: 2,
    },
  );
  assertAlmostEquals(s.mota, 5 / 9, 1e-12);
  assertAlmostEquals(s.motp, 7 / 66, 1e-12);
  assertAlmostEquals(s.precision, 8 / 9, 1e-12);
  assertAlmostEquals(s.recall, 8 / 9, 1e-12);
  assertAlmostEquals(s.idp, 7 / 9, 1e-12);
  assertAlmostEquals(s.idr, 7 / 9, 1e-12);
  assertAlmostEquals(s.idf1, 7 / 9, 1e-12);
});

Deno.test("scoreMot() scores identical ids perfectly, whatever the hypothesis ids are", () => {
  const gt = parseMotText(GT);
  const res = gt.map((r) => ({ ...r, id: r.id + 100, conf: 0.9 }));
  const s = scoreMot(gt, res);
  assertEquals([s.mota, s.motp, s.idf1, s.switches], [1, 0, 1, 0]);
});

Deno.test("scoreMot() skips ground truth marked conf 0 and pairs nothing below the IoU threshold", () => {
  const gt = parseMotText("1,1,0,0,10,10,0,1,1\n1,2,100,0,10,10,1,1,1\n");
  const res = parseMotText("1,7,0,0,10,10\n1,8,104,0,10,10\n");
  // The conf-0 object is not scored, so h7 is a false positive; IoU(o2,h8) = 60/140 < 0.5.
  const s = scoreMot(gt, res);
  assertEquals([s.objects, s.matches, s.falsePositives, s.misses], [1, 0, 2, 1]);
  const loose = scoreMot(gt, res, { iouThreshold: 0.4, skipZeroConfidence: false });
  assertEquals([loose.objects, loose.matches, loose.falsePositives], [2, 2, 0]);
});

Deno.test("MotAccumulator.update() counts a switch when an object returns with another hypothesis", () => {
  const acc = new MotAccumulator();
  acc.update([{ id: 1, box: [0, 0, 10, 10] }], [{ id: 5, box: [0, 0, 10, 10] }]);
  acc.update([], []);
  acc.update([{ id: 1, box: [0, 0, 10, 10] }], [{ id: 6, box: [0, 0, 10, 10] }]);
  const s = acc.scores();
  assertEquals([s.matches, s.switches, s.idtp], [1, 1, 1]);
});

Deno.test("parseMotText() reads MOTChallenge lines, defaulting missing columns", () => {
  const rows = parseMotText("\n3, 7, 1.5, 2, 30, 60\n4,8,0,0,1,1,0.5,1,0.25,-1\n");
  assertEquals(rows, [
    {
      frame: 3,
      id: 7,
      left: 1.5,
      top: 2,
      width: 30,
      height: 60,
      conf: 1,
      classId: -1,
      visibility: -1,
    },
    {
      frame: 4,
      id: 8,
      left: 0,
      top: 0,
      width: 1,
      height: 1,
      conf: 0.5,
      classId: 1,
      visibility: 0.25,
    },
  ]);
  assertEquals(formatMotRow(rows[1]!), "4,8,0,0,1,1,0.5,1,0.25");
});

Deno.test("parseMotText() names the line that is not a MOT line", () => {
  const err = assertThrows(
    () => parseMotText("1,1,0,0,10,10\n2,1,0,zero,10,10\n"),
    MotParseError,
    "line 2",
  );
  assertEquals((err as MotParseError).line, 2);
  assertThrows(() => parseMotText("1,1,0,0,10"), MotParseError, "at least 6");
});
