// Optimal rectangular assignment (Hungarian method, shortest augmenting paths) on reusable buffers.

/**
 * Solves the linear assignment problem on a rows x cols cost matrix: each row gets at most one
 * column and each column at most one row, minimising the summed cost. It is the Hungarian
 * method in its shortest-augmenting-path form (Jonker-Volgenant's augmentation as Crouse 2016
 * and SciPy's `linear_sum_assignment` implement it), O(n² m) for n = min(rows, cols),
 * m = max(rows, cols).
 *
 * Two rules decide what counts as a match:
 * - **Forbidden pairs**: a non-finite cost (`Infinity`, `NaN`) is never a match. As in
 *   py-motmetrics, the solver first maximises the number of allowed pairs, then minimises
 *   their cost.
 * - **Threshold** (`solve(threshold)`): a pair whose cost is above the threshold is not a match,
 *   and the result is the optimal *partial* assignment, as `lap.lapjv(cost, cost_limit=...)`
 *   in ByteTrack: costs are clamped to the threshold before solving (leaving a row and a column
 *   unmatched costs as much as a pair at the threshold), then pairs above it are dropped. A
 *   plain full assignment followed by a filter is not optimal here: it can trade one cheap
 *   pair for two mediocre ones.
 *
 * All buffers are kept and grown between calls, so solving the same sizes again allocates
 * nothing.
 *
 * @example
 * ```ts
 * const solver = new LinearAssignment();
 * const cost = solver.prepare(2, 3);
 * cost.set([0.9, 0.1, 0.5, 0.2, 0.8, 0.7]); // row-major
 * solver.solve(0.8); // 2 matches
 * solver.rowToCol[0]; // 1
 * solver.rowToCol[1]; // 0
 * ```
 */
export class LinearAssignment {
  #rows = 0;
  #cols = 0;
  #cost = new Float64Array(0);
  /** The matrix actually solved: n x m with n <= m, clamped, forbidden entries made large. */
  #work = new Float64Array(0);
  #u = new Float64Array(1);
  #v = new Float64Array(1);
  #dist = new Float64Array(1);
  #rowOf = new Int32Array(1);
  #path = new Int32Array(1);
  #colOf = new Int32Array(1);
  #order = new Int32Array(1);
  #limit = new Float64Array(1);
  #rowToCol = new Int32Array(0);
  #colToRow = new Int32Array(0);

  /**
   * Sizes the problem and returns the cost buffer to fill, row-major: the cost of row `r` and
   * column `c` is at `r * cols + c`. The buffer may be longer than `rows * cols` and is valid
   * until the next `prepare`.
   *
   * @param rows Number of rows (e.g. tracks).
   * @param cols Number of columns (e.g. detections).
   * @returns The cost buffer.
   * @throws {RangeError} When a size is not a non-negative integer.
   */
  prepare(rows: number, cols: number): Float64Array {
    if (!Number.isInteger(rows) || rows < 0 || !Number.isInteger(cols) || cols < 0) {
      throw new RangeError(`Cannot size the assignment: not a matrix size: ${rows}x${cols}`);
    }
    this.#rows = rows;
    this.#cols = cols;
    const cells = rows * cols;
    if (this.#cost.length < cells) {
      const capacity = Math.max(cells, 2 * this.#cost.length);
      this.#cost = new Float64Array(capacity);
      this.#work = new Float64Array(capacity);
    }
    if (this.#rowToCol.length < rows) this.#rowToCol = new Int32Array(Math.max(rows, 16));
    if (this.#colToRow.length < cols) this.#colToRow = new Int32Array(Math.max(cols, 16));
    const side = Math.max(rows, cols) + 1;
    if (this.#u.length < side) {
      const n = Math.max(side, 2 * this.#u.length);
      this.#u = new Float64Array(n);
      this.#v = new Float64Array(n);
      this.#dist = new Float64Array(n);
      this.#rowOf = new Int32Array(n);
      this.#path = new Int32Array(n);
      this.#colOf = new Int32Array(n);
      this.#order = new Int32Array(n);
    }
    return this.#cost;
  }

  /**
   * The column assigned to each row after {@linkcode solve}, or -1; read the first `rows`
   * entries. Valid until the next `prepare`.
   */
  get rowToCol(): Int32Array {
    return this.#rowToCol;
  }

  /** The row assigned to each column after {@linkcode solve}, or -1; read the first `cols`. */
  get colToRow(): Int32Array {
    return this.#colToRow;
  }

  /**
   * Solves the prepared problem.
   *
   * @param threshold Pairs costing more than this are not matches; the assignment is the
   * optimal partial one under that rule. @default {Infinity}
   * @returns The number of matched pairs.
   */
  solve(threshold: number = Infinity): number {
    // Through a typed array the threshold is a plain double; as the parameter itself V8 can
    // keep it boxed and then box each cost compared with it (about 100 bytes per call).
    this.#limit[0] = threshold;
    const limit = this.#limit[0]!;
    const rows = this.#rows;
    const cols = this.#cols;
    const rowToCol = this.#rowToCol;
    const colToRow = this.#colToRow;
    rowToCol.fill(-1, 0, rows);
    colToRow.fill(-1, 0, cols);
    if (rows === 0 || cols === 0) return 0;
    const cost = this.#cost;
    const cells = rows * cols;
    const clamp = limit < Infinity;
    let lo = Infinity;
    let hi = -Infinity;
    let forbidden = false;
    for (let i = 0; i < cells; i++) {
      let c = cost[i]!;
      if (!Number.isFinite(c)) {
        forbidden = true;
        continue;
      }
      if (clamp && c > limit) c = limit;
      if (c < lo) lo = c;
      if (c > hi) hi = c;
    }
    if (lo === Infinity) return 0; // every pair forbidden
    // A forbidden pair costs more than any assignment with one forbidden pair fewer could save.
    const n = Math.min(rows, cols);
    const big = forbidden ? hi + (hi - lo + 1) * (n + 1) : 0;
    const transpose = rows > cols;
    const m = transpose ? rows : cols;
    const work = this.#work;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        let x = cost[r * cols + c]!;
        if (!Number.isFinite(x)) x = big;
        else if (clamp && x > limit) x = limit;
        work[transpose ? c * rows + r : r * cols + c] = x;
      }
    }
    this.#run(n, m);
    const rowOf = this.#rowOf;
    let matches = 0;
    for (let j = 0; j < m; j++) {
      const i = rowOf[j]!;
      if (i < 0) continue;
      const r = transpose ? j : i;
      const c = transpose ? i : j;
      const x = cost[r * cols + c]!;
      if (!Number.isFinite(x) || x > limit) continue;
      rowToCol[r] = c;
      colToRow[c] = r;
      matches++;
    }
    return matches;
  }

  /**
   * Solves `work` (n x m, n <= m): feasible duals by row (and column) reduction, a greedy
   * assignment on zero reduced costs, then one shortest augmenting path per row left, with the
   * duals updated once per path (as Crouse 2016 and SciPy do). Leaves the row assigned to each
   * column in `#rowOf`, -1 for none.
   */
  #run(n: number, m: number): void {
    const a = this.#work;
    const u = this.#u, v = this.#v;
    const rowOf = this.#rowOf, colOf = this.#colOf;
    rowOf.fill(-1, 0, m);
    colOf.fill(-1, 0, n);
    // Reduce rows (and columns, when square) to feasible duals, then assign every row whose
    // cheapest column is still free: random costs leave about half the rows for the searches,
    // tracking costs (one clear match per person) usually none.
    for (let i = 0; i < n; i++) {
      let low = Infinity;
      for (let j = i * m, end = j + m; j < end; j++) if (a[j]! < low) low = a[j]!;
      u[i] = low;
    }
    v.fill(n === m ? Infinity : 0, 0, m);
    if (n === m) {
      for (let i = 0; i < n; i++) {
        const base = i * m, ui = u[i]!;
        for (let j = 0; j < m; j++) {
          const x = a[base + j]! - ui;
          if (x < v[j]!) v[j] = x;
        }
      }
    }
    for (let i = 0; i < n; i++) {
      const base = i * m, ui = u[i]!;
      for (let j = 0; j < m; j++) {
        if (rowOf[j] === -1 && a[base + j]! - ui - v[j]! === 0) {
          rowOf[j] = i;
          colOf[i] = j;
          break;
        }
      }
    }
    for (let cur = 0; cur < n; cur++) {
      if (colOf[cur] === -1) this.#augment(cur, m);
    }
  }

  /**
   * One Dijkstra search from the free row `cur` to a free column over reduced costs, then the
   * dual update and the augmentation along the path. `order` holds the columns: those reached
   * (`[0, steps)`), those at the current distance (`[steps, level)`), then the rest, so the
   * nearest columns are found by one partition pass only when a distance level is used up.
   */
  #augment(cur: number, m: number): void {
    const a = this.#work;
    const u = this.#u, v = this.#v, dist = this.#dist;
    const rowOf = this.#rowOf, colOf = this.#colOf, path = this.#path;
    const order = this.#order;
    let base = cur * m;
    let ui = u[cur]!;
    for (let j = 0; j < m; j++) {
      order[j] = j;
      dist[j] = a[base + j]! - ui - v[j]!;
      path[j] = cur;
    }
    let level = partitionByMin(order, dist, 0, m);
    let zero = dist[order[0]!]!;
    let steps = 0;
    let j = order[steps++]!;
    while (rowOf[j] !== -1) {
      const i = rowOf[j]!;
      base = i * m;
      ui = u[i]! - zero;
      for (let k = level; k < m; k++) {
        const c = order[k]!;
        const value = a[base + c]! - ui - v[c]!;
        if (value >= dist[c]!) continue;
        dist[c] = value;
        path[c] = i;
        if (value === zero) {
          order[k] = order[level]!;
          order[level++] = c;
        }
      }
      if (steps >= level) {
        level = partitionByMin(order, dist, level, m);
        zero = dist[order[steps]!]!;
      }
      j = order[steps++]!;
    }
    // Duals: every reached column and its row move by how much nearer than the sink they were.
    const sum = dist[j]!;
    u[cur] = u[cur]! + sum;
    for (let k = 0; k < steps - 1; k++) {
      const c = order[k]!;
      const d = sum - dist[c]!;
      v[c] = v[c]! - d;
      const r = rowOf[c]!;
      u[r] = u[r]! + d;
    }
    // Flip the path: each column on it takes the row that reached it.
    for (;;) {
      const r = path[j]!;
      const previous = colOf[r]!;
      rowOf[j] = r;
      colOf[r] = j;
      if (r === cur) break;
      j = previous;
    }
  }
}

/**
 * Moves the columns of `order[from, to)` with the least `values` to the front of that range
 * and returns the end of that group.
 */
function partitionByMin(order: Int32Array, values: Float64Array, from: number, to: number): number {
  let end = from + 1;
  let least = values[order[from]!]!;
  for (let k = end; k < to; k++) {
    const c = order[k]!;
    const x = values[c]!;
    if (x > least) continue;
    if (x < least) {
      least = x;
      end = from;
    }
    order[k] = order[end]!;
    order[end++] = c;
  }
  return end;
}
