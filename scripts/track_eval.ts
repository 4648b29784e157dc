// `deno task track-eval`: scores the exporter's JSONL results against a MOTChallenge gt.txt with
// the CLEAR MOT and identity metrics (MOTA, MOTP, IDF1, id switches) as py-motmetrics defines them.
//
//   deno task track-eval --results out.jsonl --gt gt.txt [--stream ID] [--run-id ID] [--json]
//
// The JSONL line of frame `seq` is the gt.txt frame `seq + 1` (as the scene source writes it);
// every person with a `track_id` is a hypothesis. Only the frames the results have a line for
// are scored (a frame dropped before decoding is counted apart, as `frames_without_results`).

import { parseArgs } from "node:util";
import {
  MotParseError,
  type MotRow,
  type MotScores,
  parseMotText,
  scoreMot,
} from "../src/tracking/mot_metrics.ts";

/** Options of {@linkcode resultsToMot}. */
export interface ResultsToMotOptions {
  /** The stream whose lines are read. @default {the first line's stream} */
  streamId?: string;
  /** The run whose lines are read (appended runs). @default {the last run of the stream} */
  runId?: string;
}

/** Options of {@linkcode evaluateTracks}. */
export interface EvaluateTracksOptions extends ResultsToMotOptions {
  /** How messages name the ground truth, e.g. `--gt gt.txt`. @default {"the ground truth"} */
  groundTruthName?: string;
}

/** Hypotheses read from a JSONL results file. */
export interface MotHypotheses {
  streamId: string;
  /** The run read, or null for lines without a run id (tracking off). */
  runId: string | null;
  rows: MotRow[];
  /** The gt.txt frame numbers the results have a line for. */
  frames: Set<number>;
}

/** The JSONL could not be read as results. */
export class TrackEvalError extends Error {
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TrackEvalError";
  }
}

interface ResultLine {
  stream_id: string;
  run_id?: string;
  frame: number;
  persons: { box: number[]; score: number; track_id?: number }[];
}

/**
 * Reads the hypotheses of one stream and run from JSONL results.
 *
 * @param text the JSONL text
 * @param options which stream and run
 * @returns the hypotheses as MOT rows (frame = seq + 1) and the frames read
 * @throws {TrackEvalError} naming the line that is not a result line, or a missing stream
 */
export function resultsToMot(text: string, options: ResultsToMotOptions = {}): MotHypotheses {
  const lines: ResultLine[] = [];
  text.split("\n").forEach((raw, n) => {
    if (raw.trim() === "") return;
    let line: ResultLine;
    try {
      line = JSON.parse(raw);
    } catch (err) {
      throw new TrackEvalError(`Cannot read results line ${n + 1}: not JSON`, { cause: err });
    }
    if (typeof line.stream_id !== "string" || !Number.isInteger(line.frame)) {
      throw new TrackEvalError(`Cannot read results line ${n + 1}: no stream_id and frame`);
    }
    lines.push(line);
  });
  const streamId = options.streamId ?? lines[0]?.stream_id;
  if (streamId === undefined) throw new TrackEvalError("Cannot score: the results are empty");
  const ofStream = lines.filter((l) => l.stream_id === streamId);
  if (ofStream.length === 0) {
    throw new TrackEvalError(`Cannot score: no results line of stream ${JSON.stringify(streamId)}`);
  }
  const runId = options.runId ?? ofStream.at(-1)!.run_id ?? null;
  const rows: MotRow[] = [];
  const frames = new Set<number>();
  for (const line of ofStream) {
    if ((line.run_id ?? null) !== runId) continue;
    const frame = line.frame + 1;
    frames.add(frame);
    for (const p of line.persons) {
      if (p.track_id === undefined) continue;
      const [x1 = 0, y1 = 0, x2 = 0, y2 = 0] = p.box;
      rows.push({
        frame,
        id: p.track_id,
        left: x1,
        top: y1,
        width: x2 - x1,
        height: y2 - y1,
        conf: p.score,
        classId: -1,
        visibility: -1,
      });
    }
  }
  if (frames.size === 0) {
    throw new TrackEvalError(`Cannot score: no results line of run ${JSON.stringify(runId)}`);
  }
  return { streamId, runId, rows, frames };
}

/** What {@linkcode evaluateTracks} reports. */
export interface TrackEvaluation extends MotScores {
  streamId: string;
  runId: string | null;
  /** Ground-truth frames (within the results' first to last frame) with no results line. */
  framesWithoutResults: number;
}

/**
 * Scores results against ground truth over the frames the results have a line for.
 *
 * @param resultsText the JSONL
 * @param groundTruthText the gt.txt
 * @param options which stream and run, and how to name the ground truth in messages
 * @returns the scores
 * @throws {TrackEvalError} when the ground truth has no rows, or none in the results' frames
 */
export function evaluateTracks(
  resultsText: string,
  groundTruthText: string,
  options: EvaluateTracksOptions = {},
): TrackEvaluation {
  const hyp = resultsToMot(resultsText, options);
  const gtAll = parseMotText(groundTruthText);
  const gtName = options.groundTruthName ?? "the ground truth";
  if (gtAll.length === 0) {
    throw new TrackEvalError(`Cannot score: no ground truth (${gtName} has no rows)`);
  }
  const first = Math.min(...hyp.frames);
  const last = Math.max(...hyp.frames);
  const gtFrames = new Set(gtAll.map((r) => r.frame).filter((f) => f >= first && f <= last));
  let framesWithoutResults = 0;
  for (const f of gtFrames) if (!hyp.frames.has(f)) framesWithoutResults++;
  const gt = gtAll.filter((r) => hyp.frames.has(r.frame));
  if (gt.length === 0) {
    throw new TrackEvalError(
      `Cannot score: no ground truth in the results' frames ${first}..${last} (${gtName} has none)`,
    );
  }
  return {
    streamId: hyp.streamId,
    runId: hyp.runId,
    ...scoreMot(gt, hyp.rows),
    framesWithoutResults,
  };
}

/** The scores as a few lines of text. */
export function formatEvaluation(e: TrackEvaluation): string {
  const pct = (v: number) => (100 * v).toFixed(1);
  return [
    `stream ${e.streamId}, run ${e.runId ?? "-"}: ${e.frames} frames, ${e.objects} ground-truth ` +
    `boxes of ${e.uniqueObjects} people, ${e.predictions} tracked boxes` +
    (e.framesWithoutResults > 0 ? `, ${e.framesWithoutResults} frames without results` : ""),
    `MOTA ${pct(e.mota)}%  IDF1 ${pct(e.idf1)}%  MOTP ${(1 - e.motp).toFixed(3)} (mean IoU)  ` +
    `id switches ${e.switches}`,
    `matches ${e.matches}  misses ${e.misses}  false positives ${e.falsePositives}  ` +
    `precision ${pct(e.precision)}%  recall ${pct(e.recall)}%  IDP ${pct(e.idp)}%  IDR ${
      pct(e.idr)
    }%`,
  ].join("\n");
}

const USAGE = "usage: deno task track-eval --results FILE.jsonl --gt gt.txt [--stream ID] " +
  "[--run-id ID] [--json]";

/** Writes one line to stderr. */
async function complain(text: string): Promise<void> {
  await Deno.stderr.write(new TextEncoder().encode(text + "\n"));
}

/** Reads the file of flag `flag`, or a TrackEvalError naming the flag and the path. */
async function readFlagFile(flag: string, path: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (err) {
    throw new TrackEvalError(`Cannot read ${flag} ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

async function main(): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: Deno.args,
      options: {
        results: { type: "string" },
        gt: { type: "string" },
        stream: { type: "string" },
        "run-id": { type: "string" },
        json: { type: "boolean" },
        help: { type: "boolean", short: "h" },
      },
    }));
  } catch (err) {
    // node:util's parseArgs throws a TypeError for an unknown flag, a missing value or an
    // argument that is not a flag; its message names it.
    await complain(`track-eval: ${(err as Error).message}\n${USAGE}`);
    return 2;
  }
  if (values.help || values.results === undefined || values.gt === undefined) {
    if (values.help) {
      await Deno.stdout.write(new TextEncoder().encode(USAGE + "\n"));
      return 0;
    }
    const missing = values.results === undefined ? "--results" : "--gt";
    await complain(`track-eval: ${missing} is required\n${USAGE}`);
    return 2;
  }
  try {
    const results = await readFlagFile("--results", values.results);
    const groundTruth = await readFlagFile("--gt", values.gt);
    let e: TrackEvaluation;
    try {
      e = evaluateTracks(results, groundTruth, {
        streamId: values.stream,
        runId: values["run-id"],
        groundTruthName: `--gt ${values.gt}`,
      });
    } catch (err) {
      if (!(err instanceof MotParseError)) throw err;
      throw new TrackEvalError(`Cannot read --gt ${values.gt}: ${err.message}`, { cause: err });
    }
    const out = values.json ? JSON.stringify(e) : formatEvaluation(e);
    await Deno.stdout.write(new TextEncoder().encode(out + "\n"));
    return 0;
  } catch (err) {
    if (!(err instanceof TrackEvalError)) throw err;
    await complain(`track-eval: ${err.message}`);
    return 1;
  }
}

if (import.meta.main) Deno.exit(await main());
