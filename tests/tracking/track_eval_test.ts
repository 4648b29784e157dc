// `deno task track-eval`: JSONL results against a gt.txt, checked on a case counted by hand.

import { assert, assertEquals, assertThrows } from "../_assert.ts";
import {
  evaluateTracks,
  formatEvaluation,
  resultsToMot,
  TrackEvalError,
} from "../../scripts/track_eval.ts";

const A = [0, 0, 10, 20];
const B = [100, 0, 110, 20];

/** Two people standing still, frames 1 to 6 (gt.txt: frame, id, left, top, width, height, ...). */
const GT = [1, 2, 3, 4, 5, 6].flatMap((f) => [
  `${f},1,0,0,10,20,1,1,1`,
  `${f},2,100,0,10,20,1,1,1`,
]).join("\n") + "\n";

function line(seq: number, persons: [number, number[]][], runId = "r1", stream = "cam") {
  return JSON.stringify({
    stream_id: stream,
    run_id: runId,
    frame: seq,
    persons: persons.map(([id, box]) => ({ box, score: 0.9, track_id: id, keypoints: [] })),
  });
}

/**
 * An earlier run and another stream (both ignored), then run r1: tracks 5 and 6 follow persons
 * 1 and 2 in frames 1-2, swap in frame 3 and stay swapped; frame 5 (seq 4) has no line.
 */
const RESULTS = [
  line(0, [[1, B]], "r0"),
  line(0, [[9, A]], "r1", "other"),
  line(0, [[5, A], [6, B]]),
  line(1, [[5, A], [6, B]]),
  line(2, [[5, B], [6, A]]),
  line(3, [[5, B], [6, A]]),
  line(5, [[5, B], [6, A]]),
].join("\n") + "\n";

Deno.test("evaluateTracks() scores a swap as py-motmetrics counts it (by hand)", () => {
  const e = evaluateTracks(RESULTS, GT, { streamId: "cam" });
  assertEquals([e.streamId, e.runId], ["cam", "r1"], "the stream's last run");
  // Scored frames 1, 2, 3, 4, 6 (frame 5 has no results line): 10 ground-truth boxes.
  assertEquals([e.objects, e.predictions, e.framesWithoutResults], [10, 10, 1]);
  // Frames 1, 2: 4 matches; frame 3: both re-paired, 2 switches; frames 4, 6: 4 matches.
  assertEquals([e.matches, e.switches, e.falsePositives, e.misses], [8, 2, 0, 0]);
  assertEquals(e.mota, 1 - 2 / 10);
  // Identity: person 1 <-> track 6 and person 2 <-> track 5 share 3 frames each: IDTP 6.
  assertEquals(e.idtp, 6);
  assertEquals(e.idf1, (2 * 6) / (10 + 10));
  assertEquals(e.motp, 0, "the boxes are exact");
  assert(formatEvaluation(e).includes("id switches 2"));
});

Deno.test("resultsToMot() picks the stream and run asked for, and names bad input", () => {
  const r0 = resultsToMot(RESULTS, { runId: "r0" });
  assertEquals([r0.streamId, r0.rows.length, r0.rows[0]!.frame], ["cam", 1, 1]);
  assertThrows(() => resultsToMot("{}\n"), TrackEvalError, "line 1");
  assertThrows(() => resultsToMot(RESULTS, { streamId: "nope" }), TrackEvalError, '"nope"');
  assertThrows(() => resultsToMot("not json\n"), TrackEvalError, "not JSON");
});

Deno.test("deno task track-eval prints the scores of a results file", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h25_eval" });
  try {
    await Deno.writeTextFile(`${dir}/out.jsonl`, RESULTS);
    await Deno.writeTextFile(`${dir}/gt.txt`, GT);
    const out = await new Deno.Command(Deno.execPath(), {
      args: [
        "run",
        "--allow-read",
        new URL("../../scripts/track_eval.ts", import.meta.url).pathname,
        "--results",
        `${dir}/out.jsonl`,
        "--gt",
        `${dir}/gt.txt`,
        "--stream",
        "cam",
        "--json",
      ],
      stdout: "piped",
      stderr: "piped",
    }).output();
    assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
    const e = JSON.parse(new TextDecoder().decode(out.stdout));
    assertEquals([e.mota, e.idf1, e.switches], [0.8, 0.6, 2]);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("evaluateTracks() refuses empty ground truth, or none in the results' frames", () => {
  assertThrows(
    () => evaluateTracks(RESULTS, "\n", { streamId: "cam", groundTruthName: "--gt g.txt" }),
    TrackEvalError,
    "no ground truth (--gt g.txt has no rows)",
  );
  assertThrows(
    () => evaluateTracks(RESULTS, "99,1,0,0,10,20,1,1,1\n", { streamId: "cam" }),
    TrackEvalError,
    "no ground truth in the results' frames 1..6 (the ground truth has none)",
  );
});

/** Runs `deno task track-eval` with `args`: its exit code and stdout and stderr. */
async function trackEval(args: string[]): Promise<{ code: number; out: string; err: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-read",
      new URL("../../scripts/track_eval.ts", import.meta.url).pathname,
      ...args,
    ],
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = (b: Uint8Array) => new TextDecoder().decode(b);
  return { code: out.code, out: text(out.stdout), err: text(out.stderr) };
}

Deno.test("deno task track-eval: an empty --gt is one line naming it, rc 1, no scores", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h25_eval" });
  try {
    await Deno.writeTextFile(`${dir}/out.jsonl`, RESULTS);
    await Deno.writeTextFile(`${dir}/gt.txt`, "");
    const r = await trackEval(["--results", `${dir}/out.jsonl`, "--gt", `${dir}/gt.txt`]);
    assertEquals(r.code, 1);
    assertEquals(r.out, "");
    assertEquals(
      r.err,
      `track-eval: Cannot score: no ground truth (--gt ${dir}/gt.txt has no rows)\n`,
    );
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("deno task track-eval: an unknown flag prints the usage, rc 2, naming the flag", async () => {
  const r = await trackEval(["--bogus"]);
  assertEquals(r.code, 2);
  const lines = r.err.trimEnd().split("\n");
  assertEquals(lines.length, 2, r.err);
  assert(lines[0]!.includes("--bogus"), r.err);
  assert(lines[1]!.startsWith("usage: deno task track-eval"), r.err);
  assert(!r.err.includes("TypeError"), r.err);
});

Deno.test("deno task track-eval: a missing file is one line naming the flag and the path, rc 1", async () => {
  const dir = await Deno.makeTempDir({ prefix: "h25_eval" });
  try {
    await Deno.writeTextFile(`${dir}/out.jsonl`, RESULTS);
    const missing = `${dir}/nonexist`;
    const gt = await trackEval(["--results", `${dir}/out.jsonl`, "--gt", missing]);
    assertEquals(gt.code, 1);
    assertEquals(gt.err.trimEnd().split("\n").length, 1, gt.err);
    assert(gt.err.startsWith(`track-eval: Cannot read --gt ${missing}: `), gt.err);
    const res = await trackEval(["--results", missing, "--gt", `${dir}/out.jsonl`]);
    assertEquals(res.code, 1);
    assert(res.err.startsWith(`track-eval: Cannot read --results ${missing}: `), res.err);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});
