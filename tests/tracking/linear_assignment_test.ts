import { assert, assertAlmostEquals, assertEquals, assertThrows } from "../_assert.ts";
import { LinearAssignment } from "../../src/tracking/linear_assignment.ts";

function seeded(seed: number): () => number {
  return () => (seed = (seed * 16807) % 2147483647) / 2147483647;
}

/**
 * Best value over every partial matching by brute force: `value(pairs)` scores a matching
 * (given as the column per row, -1 for none); smaller is better.
 */
function bruteForce(
  rows: number,
  cols: number,
  allowed: (r: number, c: number) => boolean,
  value: (assignment: number[]) => number,
): number {
  let best = Infinity;
  const assignment: number[] = [];
  const used = new Set<number>();
  const visit = (r: number) => {
    if (r === rows) {
      best = Math.min(best, value(assignment));
      return;
    }
    assignment[r] = -1;
    visit(r + 1);
    for (let c = 0; c < cols; c++) {
      if (used.has(c) || !allowed(r, c)) continue;
      used.add(c);
      assignment[r] = c;
      visit(r + 1);
      used.delete(c);
    }
  };
  visit(0);
  return best;
}

function solved(solver: LinearAssignment, rows: number): number[] {
  return Array.from(solver.rowToCol.subarray(0, rows));
}

function checkConsistent(solver: LinearAssignment, rows: number, cols: number): void {
  for (let r = 0; r < rows; r++) {
    const c = solver.rowToCol[r]!;
    if (c >= 0) assertEquals(solver.colToRow[c], r);
  }
  for (let c = 0; c < cols; c++) {
    const r = solver.colToRow[c]!;
    if (r >= 0) assertEquals(solver.rowToCol[r], c);
  }
}

Deno.test("LinearAssignment.solve() finds the minimum-cost full assignment of rectangular costs", () => {
  const random = seeded(5);
  const solver = new LinearAssignment();
  for (let trial = 0; trial < 300; trial++) {
    const rows = 1 + Math.floor(random() * 6);
    const cols = 1 + Math.floor(random() * 6);
    const cost = solver.prepare(rows, cols);
    const c = Array.from({ length: rows * cols }, () => Math.round(random() * 20) / 4);
    cost.set(c);
    const matches = solver.solve();
    assertEquals(matches, Math.min(rows, cols));
    checkConsistent(solver, rows, cols);
    const got = solved(solver, rows).reduce(
      (s, col, r) => s + (col >= 0 ? c[r * cols + col]! : 0),
      0,
    );
    // Full assignments only: every row (or every column) is used.
    const best = bruteForce(rows, cols, () => true, (a) => {
      const used = a.filter((x) => x >= 0).length;
      if (used < Math.min(rows, cols)) return Infinity;
      return a.reduce((s, col, r) => s + (col >= 0 ? c[r * cols + col]! : 0), 0);
    });
    assertAlmostEquals(got, best, 1e-9, `trial ${trial} ${rows}x${cols}: ${got} vs ${best}`);
  }
});

Deno.test("LinearAssignment.solve() with a threshold finds the optimal partial assignment", () => {
  const random = seeded(9);
  const solver = new LinearAssignment();
  const threshold = 0.8;
  for (let trial = 0; trial < 300; trial++) {
    const rows = 1 + Math.floor(random() * 6);
    const cols = 1 + Math.floor(random() * 6);
    const cost = solver.prepare(rows, cols);
    const c = Array.from({ length: rows * cols }, () => random() * 1.2);
    cost.set(c);
    solver.solve(threshold);
    checkConsistent(solver, rows, cols);
    const a = solved(solver, rows);
    // Leaving a row and a column unmatched costs as much as a pair at the threshold.
    const score = (x: number[]) =>
      x.reduce((s, col, r) => s + (col >= 0 ? c[r * cols + col]! - threshold : 0), 0);
    for (let r = 0; r < rows; r++) {
      if (a[r]! >= 0) assert(c[r * cols + a[r]!]! <= threshold, "no pair above the threshold");
    }
    const best = bruteForce(rows, cols, (r, col) => c[r * cols + col]! <= threshold, score);
    assertAlmostEquals(score(a), best, 1e-9, `trial ${trial}`);
  }
});

Deno.test("LinearAssignment.solve() keeps one cheap pair rather than two mediocre ones, as lapjv's cost_limit", () => {
  const solver = new LinearAssignment();
  solver.prepare(2, 2).set([0.1, 0.5, 0.5, 0.95]);
  // A full assignment would take (0,1) + (1,0) = 1.0 over (0,0) + (1,1) = 1.05; with the
  // threshold 0.8 the second pair of that choice is not allowed, and 0.1 - 0.8 beats
  // (0.5 - 0.8) * 2.
  assertEquals(solver.solve(0.8), 1);
  assertEquals(solved(solver, 2), [0, -1]);
  assertEquals(solver.solve(), 2);
  assertEquals(solved(solver, 2), [1, 0]);
});

Deno.test("LinearAssignment.solve() never matches a forbidden pair and maximises the allowed ones first", () => {
  const solver = new LinearAssignment();
  // Row 0 could take column 0 cheaply, but then row 1 (only column 0 allowed) would be left.
  solver.prepare(2, 2).set([0.1, 0.4, 0.3, NaN]);
  assertEquals(solver.solve(), 2);
  assertEquals(solved(solver, 2), [1, 0]);
  solver.prepare(2, 3).set([Infinity, NaN, Infinity, NaN, NaN, NaN]);
  assertEquals(solver.solve(), 0);
  assertEquals(solved(solver, 2), [-1, -1]);
  const random = seeded(3);
  for (let trial = 0; trial < 200; trial++) {
    const rows = 1 + Math.floor(random() * 5);
    const cols = 1 + Math.floor(random() * 5);
    const c = Array.from({ length: rows * cols }, () => (random() < 0.4 ? NaN : random()));
    solver.prepare(rows, cols).set(c);
    const matches = solver.solve();
    const a = solved(solver, rows);
    const allowed = (r: number, col: number) => !Number.isNaN(c[r * cols + col]!);
    a.forEach((col, r) => col >= 0 && assert(allowed(r, col)));
    // Most pairs first, then least cost: score = -1000 per pair + cost.
    const score = (x: number[]) =>
      x.reduce((s, col, r) => s + (col >= 0 ? c[r * cols + col]! - 1000 : 0), 0);
    assertAlmostEquals(score(a), bruteForce(rows, cols, allowed, score), 1e-9);
    assertEquals(matches, a.filter((x) => x >= 0).length);
  }
});

Deno.test("LinearAssignment.solve() handles empty problems and reuses its buffers", () => {
  const solver = new LinearAssignment();
  solver.prepare(0, 3);
  assertEquals(solver.solve(), 0);
  solver.prepare(3, 0);
  assertEquals(solver.solve(), 0);
  assertEquals(solved(solver, 3), [-1, -1, -1]);
  const first = solver.prepare(4, 4);
  first.set([1, 2, 3, 4, 2, 4, 6, 8, 3, 6, 9, 12, 4, 8, 12, 16]);
  solver.solve();
  assertEquals(solved(solver, 4), [3, 2, 1, 0]);
  assert(solver.prepare(3, 4) === first, "a smaller problem reuses the cost buffer");
});

Deno.test("LinearAssignment.prepare() refuses a size that is not a matrix size", () => {
  assertThrows(() => new LinearAssignment().prepare(-1, 2), RangeError, "-1x2");
});

/** The textbook O(n² m) Hungarian method (potentials, e-maxx form), for n <= m: the reference. */
function referenceMinimum(c: number[], n: number, m: number): number {
  const u = new Array(n + 1).fill(0), v = new Array(m + 1).fill(0);
  const p = new Array(m + 1).fill(0), way = new Array(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    p[0] = i;
    let j0 = 0;
    const minv = new Array(m + 1).fill(Infinity), used = new Array(m + 1).fill(false);
    do {
      used[j0] = true;
      const i0 = p[j0];
      let delta = Infinity, j1 = 0;
      for (let j = 1; j <= m; j++) {
        if (used[j]) continue;
        const cur = c[(i0 - 1) * m + j - 1]! - u[i0] - v[j];
        if (cur < minv[j]) [minv[j], way[j]] = [cur, j0];
        if (minv[j] < delta) [delta, j1] = [minv[j], j];
      }
      for (let j = 0; j <= m; j++) {
        if (used[j]) [u[p[j]], v[j]] = [u[p[j]] + delta, v[j] - delta];
        else minv[j] -= delta;
      }
      j0 = j1;
    } while (p[j0] !== 0);
    do {
      const j1 = way[j0];
      p[j0] = p[j1];
      j0 = j1;
    } while (j0);
  }
  let total = 0;
  for (let j = 1; j <= m; j++) if (p[j]) total += c[(p[j] - 1) * m + j - 1]!;
  return total;
}

Deno.test("LinearAssignment.solve() agrees with the textbook Hungarian method up to 50x50, ties included", () => {
  const random = seeded(21);
  const solver = new LinearAssignment();
  for (
    const [n, m, levels] of [[10, 10, 1e9], [10, 10, 4], [30, 45, 8], [50, 50, 1e9], [50, 50, 5]]
  ) {
    for (let trial = 0; trial < 5; trial++) {
      const c = Array.from({ length: n! * m! }, () => Math.floor(random() * levels!) / levels!);
      solver.prepare(n!, m!).set(c);
      solver.solve();
      let total = 0;
      for (let r = 0; r < n!; r++) total += c[r * m! + solver.rowToCol[r]!]!;
      assertAlmostEquals(total, referenceMinimum(c, n!, m!), 1e-9, `${n}x${m} trial ${trial}`);
      // And transposed (more rows than columns).
      const t = Array.from({ length: n! * m! }, (_, k) => c[(k % n!) * m! + Math.floor(k / n!)]!);
      solver.prepare(m!, n!).set(t);
      solver.solve();
      let transposed = 0;
      for (let r = 0; r < m!; r++) {
        if (solver.rowToCol[r]! >= 0) transposed += t[r * n! + solver.rowToCol[r]!]!;
      }
      assertAlmostEquals(transposed, total, 1e-9);
    }
  }
});
