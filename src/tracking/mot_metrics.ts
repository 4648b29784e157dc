// Scores tracker output against ground truth in MOTChallenge form: CLEAR MOT and identity metrics.

import { boxIou } from "./_box_iou.ts";
import { LinearAssignment } from "./linear_assignment.ts";

/** One line of a MOTChallenge `gt.txt` or results file. */
export interface MotRow {
  /** Frame number, from 1. */
  frame: number;
  /** Object (ground truth) or hypothesis (results) id. */
  id: number;
  /** Box left, top, width and height in pixels. */
  left: number;
  top: number;
  width: number;
  height: number;
  /** Ground truth: 0 = ignore, 1 = evaluate; results: the detection confidence. */
  conf: number;
  /** Ground-truth class (1 = pedestrian); -1 in results. */
  classId: number;
  /** Ground-truth visibility 0..1; -1 in results. */
  visibility: number;
}

/** A line of a MOTChallenge file could not be read. */
export class MotParseError extends Error {
  /** 1-based line number of the bad line. */
  readonly line: number;

  /**
   * @param message What was wrong, quoting the line.
   * @param line 1-based line number.
   */
  constructor(message: string, line: number) {
    super(message);
    this.name = "MotParseError";
    this.line = line;
  }
}

/**
 * Parses MOTChallenge text (`gt.txt`, `det.txt` or a results file): comma-separated lines
 * `frame,id,left,top,width,height[,conf[,class[,visibility[,...]]]]`; blank lines are skipped,
 * missing columns default to conf 1, class -1, visibility -1.
 *
 * @param text The file's text.
 * @returns The rows in file order.
 * @throws {MotParseError} For a line with fewer than six numbers or a non-numeric field.
 *
 * @example
 * ```ts
 * const rows = parseMotText("1,1,10,20,30,60,1,1,1.0\n");
 * rows[0]!.width; // 30
 * ```
 */
export function parseMotText(text: string): MotRow[] {
  const rows: MotRow[] = [];
  const lines = text.split("\n");
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n]!.trim();
    if (line === "") continue;
    const fields = line.split(",").map((f) => f.trim());
    const values = fields.map(Number);
    if (values.length < 6 || values.some((v, i) => !Number.isFinite(v) || fields[i] === "")) {
      throw new MotParseError(
        `Cannot parse MOT line ${n + 1}: expected at least 6 comma-separated numbers: ${
          JSON.stringify(lines[n])
        }`,
        n + 1,
      );
    }
    rows.push({
      frame: values[0]!,
      id: values[1]!,
      left: values[2]!,
      top: values[3]!,
      width: values[4]!,
      height: values[5]!,
      conf: values[6] ?? 1,
      classId: values[7] ?? -1,
      visibility: values[8] ?? -1,
    });
  }
  return rows;
}

function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Math.round(value * 100) / 100);
}

/**
 * Formats a row as a MOTChallenge line (9 columns, no newline), pixel values to 2 decimals.
 *
 * @param row The row.
 * @returns `frame,id,left,top,width,height,conf,class,visibility`.
 */
export function formatMotRow(row: MotRow): string {
  return [
    row.frame,
    row.id,
    row.left,
    row.top,
    row.width,
    row.height,
    row.conf,
    row.classId,
    row.visibility,
  ].map(formatNumber).join(",");
}

/** Options of {@linkcode scoreMot} and {@linkcode MotAccumulator}. */
export interface MotScoreOptions {
  /** A ground-truth box and a hypothesis can pair only with at least this IoU. @default {0.5} */
  iouThreshold?: number;
  /** Skip ground-truth rows with conf 0 (MOTChallenge's "not evaluated"). @default {true} */
  skipZeroConfidence?: boolean;
}

/** CLEAR MOT and identity metrics, with py-motmetrics' definitions and names in comments. */
export interface MotScores {
  /** Frames seen (in either input). */
  frames: number;
  /** Ground-truth boxes over all frames (`num_objects`). */
  objects: number;
  /** Hypothesis boxes over all frames (`num_predictions`). */
  predictions: number;
  /** Distinct ground-truth ids (`num_unique_objects`). */
  uniqueObjects: number;
  /** Pairings that continue or start an object's correspondence (`num_matches`). */
  matches: number;
  /** Pairings of an object with another hypothesis than its last one (`num_switches`). */
  switches: number;
  /** Unpaired hypotheses (`num_false_positives`). */
  falsePositives: number;
  /** Unpaired ground-truth boxes (`num_misses`). */
  misses: number;
  /** 1 - (misses + switches + false positives) / objects (`mota`). */
  mota: number;
  /** Mean distance 1 - IoU over matches and switches (`motp`); MOTChallenge shows 1 - this. */
  motp: number;
  /** (matches + switches) / (matches + switches + false positives). */
  precision: number;
  /** (matches + switches) / objects. */
  recall: number;
  /** Identity true positives after the global id assignment (`idtp`). */
  idtp: number;
  idfp: number;
  idfn: number;
  /** idtp / (idtp + idfp). */
  idp: number;
  /** idtp / (idtp + idfn). */
  idr: number;
  /** 2 idtp / (objects + predictions). */
  idf1: number;
}

/**
 * Accumulates per-frame CLEAR MOT events as py-motmetrics' `MOTAccumulator` does, and the
 * frame counts needed for the identity metrics:
 *
 * 1. Distances are 1 - IoU; a pair with IoU below the threshold cannot match.
 * 2. An object still paired (within the threshold) with the hypothesis it was last matched to
 *    keeps it.
 * 3. The remaining objects and hypotheses are assigned optimally (most pairs, then least total
 *    distance); a pairing whose object was last matched to another hypothesis is a switch.
 * 4. Objects left are misses, hypotheses left are false positives.
 *
 * The identity metrics (Ristani et al. 2016) assign each object id to at most one hypothesis id
 * over the whole sequence, maximising the frames in which the two overlap within the threshold
 * (IDTP); py-motmetrics' min-cost form of the same assignment gives the same IDTP.
 *
 * @example
 * ```ts
 * const acc = new MotAccumulator();
 * acc.update([{ id: 1, box: [0, 0, 10, 10] }], [{ id: 7, box: [0, 0, 10, 10] }]);
 * acc.scores().mota; // 1
 * ```
 */
export class MotAccumulator {
  readonly iouThreshold: number;
  #solver = new LinearAssignment();
  /** Object id to the hypothesis id it was last matched to. */
  #last = new Map<number, number>();
  /** Per object id, per hypothesis id: frames in which they could pair. */
  #overlaps = new Map<number, Map<number, number>>();
  #objectIds = new Set<number>();
  #hypothesisIds = new Set<number>();
  #frames = 0;
  #objects = 0;
  #predictions = 0;
  #matches = 0;
  #switches = 0;
  #falsePositives = 0;
  #misses = 0;
  #distance = 0;

  /**
   * @param options The IoU threshold.
   * @throws {RangeError} When the threshold is not within 0..1.
   */
  constructor(options: Pick<MotScoreOptions, "iouThreshold"> = {}) {
    this.iouThreshold = options.iouThreshold ?? 0.5;
    if (!(this.iouThreshold >= 0 && this.iouThreshold <= 1)) {
      throw new RangeError(
        `Cannot score tracks: iouThreshold is not within 0..1: ${this.iouThreshold}`,
      );
    }
  }

  /**
   * Adds one frame.
   *
   * @param objects Ground-truth boxes of the frame, corners `[x1, y1, x2, y2]`.
   * @param hypotheses Tracker boxes of the frame, corners.
   */
  update(
    objects: readonly { id: number; box: ArrayLike<number> }[],
    hypotheses: readonly { id: number; box: ArrayLike<number> }[],
  ): void {
    const no = objects.length;
    const nh = hypotheses.length;
    this.#frames++;
    this.#objects += no;
    this.#predictions += nh;
    const maxDistance = 1 - this.iouThreshold;
    const dist = new Float64Array(no * nh);
    for (let i = 0; i < no; i++) {
      const o = objects[i]!;
      this.#objectIds.add(o.id);
      for (let j = 0; j < nh; j++) {
        const d = 1 - boxIou(o.box, hypotheses[j]!.box);
        if (d <= maxDistance) {
          dist[i * nh + j] = d;
          this.#countOverlap(o.id, hypotheses[j]!.id);
        } else {
          dist[i * nh + j] = NaN;
        }
      }
    }
    for (const h of hypotheses) this.#hypothesisIds.add(h.id);
    const objectDone = new Uint8Array(no);
    const hypothesisDone = new Uint8Array(nh);
    // 1. Keep correspondences that still hold.
    for (let i = 0; i < no; i++) {
      const previous = this.#last.get(objects[i]!.id);
      if (previous === undefined) continue;
      for (let j = 0; j < nh; j++) {
        if (hypothesisDone[j] || hypotheses[j]!.id !== previous) continue;
        const d = dist[i * nh + j]!;
        if (!Number.isNaN(d)) {
          objectDone[i] = 1;
          hypothesisDone[j] = 1;
          this.#matches++;
          this.#distance += d;
        }
        break;
      }
    }
    // 2. Assign the rest optimally.
    const cost = this.#solver.prepare(no, nh);
    for (let i = 0; i < no; i++) {
      for (let j = 0; j < nh; j++) {
        cost[i * nh + j] = objectDone[i] || hypothesisDone[j] ? NaN : dist[i * nh + j]!;
      }
    }
    this.#solver.solve();
    for (let i = 0; i < no; i++) {
      const j = this.#solver.rowToCol[i]!;
      if (j < 0) continue;
      const oid = objects[i]!.id;
      const hid = hypotheses[j]!.id;
      const previous = this.#last.get(oid);
      if (previous !== undefined && previous !== hid) this.#switches++;
      else this.#matches++;
      this.#last.set(oid, hid);
      this.#distance += dist[i * nh + j]!;
      objectDone[i] = 1;
      hypothesisDone[j] = 1;
    }
    // 3 and 4. What is left.
    for (let i = 0; i < no; i++) if (!objectDone[i]) this.#misses++;
    for (let j = 0; j < nh; j++) if (!hypothesisDone[j]) this.#falsePositives++;
  }

  #countOverlap(oid: number, hid: number): void {
    let row = this.#overlaps.get(oid);
    if (!row) this.#overlaps.set(oid, row = new Map());
    row.set(hid, (row.get(hid) ?? 0) + 1);
  }

  /**
   * The metrics so far. Ratios with a zero denominator are `NaN`.
   *
   * @returns CLEAR MOT and identity metrics.
   */
  scores(): MotScores {
    const objectIds = [...this.#objectIds];
    const hypothesisIds = [...this.#hypothesisIds];
    const column = new Map(hypothesisIds.map((id, j) => [id, j]));
    const cost = this.#solver.prepare(objectIds.length, hypothesisIds.length);
    cost.fill(0, 0, objectIds.length * hypothesisIds.length);
    objectIds.forEach((oid, i) => {
      for (const [hid, frames] of this.#overlaps.get(oid) ?? []) {
        cost[i * hypothesisIds.length + column.get(hid)!] = -frames;
      }
    });
    this.#solver.solve();
    let idtp = 0;
    for (let i = 0; i < objectIds.length; i++) {
      const j = this.#solver.rowToCol[i]!;
      if (j >= 0) idtp -= cost[i * hypothesisIds.length + j]!;
    }
    const detections = this.#matches + this.#switches;
    const objects = this.#objects;
    const predictions = this.#predictions;
    const idfp = predictions - idtp;
    const idfn = objects - idtp;
    return {
      frames: this.#frames,
      objects,
      predictions,
      uniqueObjects: objectIds.length,
      matches: this.#matches,
      switches: this.#switches,
      falsePositives: this.#falsePositives,
      misses: this.#misses,
      mota: 1 - (this.#misses + this.#switches + this.#falsePositives) / objects,
      motp: this.#distance / detections,
      precision: detections / (detections + this.#falsePositives),
      recall: detections / objects,
      idtp,
      idfp,
      idfn,
      idp: idtp / (idtp + idfp),
      idr: idtp / (idtp + idfn),
      idf1: 2 * idtp / (objects + predictions),
    };
  }
}

function cornersOf(row: MotRow): { id: number; box: [number, number, number, number] } {
  return { id: row.id, box: [row.left, row.top, row.left + row.width, row.top + row.height] };
}

/**
 * Scores results against ground truth, frame by frame over every frame number found in either.
 *
 * @param groundTruth Rows of `gt.txt`.
 * @param results Rows of the tracker's results.
 * @param options IoU threshold and the conf-0 rule.
 * @returns The metrics.
 *
 * @example
 * ```ts
 * const gt = parseMotText("1,1,0,0,10,20,1,1,1\n2,1,1,0,10,20,1,1,1\n");
 * const res = parseMotText("1,5,0,0,10,20,1,-1,-1\n2,5,1,0,10,20,1,-1,-1\n");
 * scoreMot(gt, res).idf1; // 1
 * ```
 */
export function scoreMot(
  groundTruth: readonly MotRow[],
  results: readonly MotRow[],
  options: MotScoreOptions = {},
): MotScores {
  const skipZero = options.skipZeroConfidence ?? true;
  const byFrame = new Map<number, { gt: MotRow[]; res: MotRow[] }>();
  const slot = (frame: number) => {
    let s = byFrame.get(frame);
    if (!s) byFrame.set(frame, s = { gt: [], res: [] });
    return s;
  };
  for (const row of groundTruth) if (!(skipZero && row.conf === 0)) slot(row.frame).gt.push(row);
  for (const row of results) slot(row.frame).res.push(row);
  const accumulator = new MotAccumulator(options);
  for (const frame of [...byFrame.keys()].sort((a, b) => a - b)) {
    const s = byFrame.get(frame)!;
    accumulator.update(s.gt.map(cornersOf), s.res.map(cornersOf));
  }
  return accumulator.scores();
}
