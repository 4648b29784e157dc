// Exact order statistics (the k-th smallest of a list) without sorting the list: quickselect.

/** Below this many elements a range is finished by insertion sort. */
const SMALL_RANGE = 16;

/**
 * Reorders `values[lo..hi]` (both inclusive) so that `values[k]` holds the value a full
 * ascending sort would put there, every element before it is `<=` and every one after is `>=`.
 * Expected time linear in the range (Hoare partition around a median of three); the values
 * must not hold NaN (a caller puts those aside first, as a typed-array sort puts them last).
 */
export function selectInPlace(values: Float64Array, lo: number, hi: number, k: number): void {
  while (hi - lo >= SMALL_RANGE) {
    const mid = (lo + hi) >>> 1;
    const a = values[lo]!;
    const b = values[mid]!;
    const c = values[hi]!;
    const pivot = a < b ? (b < c ? b : a < c ? c : a) : (a < c ? a : b < c ? c : b);
    let i = lo;
    let j = hi;
    while (i <= j) {
      while (values[i]! < pivot) i++;
      while (values[j]! > pivot) j--;
      if (i <= j) {
        const t = values[i]!;
        values[i] = values[j]!;
        values[j] = t;
        i++;
        j--;
      }
    }
    // Now values[lo..j] <= pivot, values[i..hi] >= pivot, and those between equal the pivot.
    if (k <= j) hi = j;
    else if (k >= i) lo = i;
    else return;
  }
  for (let i = lo + 1; i <= hi; i++) {
    const v = values[i]!;
    let j = i - 1;
    while (j >= lo && values[j]! > v) {
      values[j + 1] = values[j]!;
      j--;
    }
    values[j + 1] = v;
  }
}

/**
 * The values at sorted positions `ranks` (ascending, each in `0..n-1`) of `values[0..n-1]`,
 * written to `out` in the same order: what `values.subarray(0, n).sort()[rank]` reads, in
 * expected linear time for a handful of ranks. `values` is reordered; it must not hold NaN.
 *
 * @example
 * ```ts
 * const out = new Float64Array(2);
 * selectRanks(new Float64Array([5, 1, 4, 2, 3]), { n: 5, ranks: [0, 4], out });
 * // out is [1, 5]
 * ```
 */
export function selectRanks(
  values: Float64Array,
  options: { n: number; ranks: ArrayLike<number>; out: Float64Array },
): void {
  const { n, ranks, out } = options;
  let lo = 0;
  for (let r = 0; r < ranks.length; r++) {
    const k = ranks[r]!;
    if (k < lo) throw new Error(`Cannot select ranks out of order: ${k} after ${lo}`);
    selectInPlace(values, lo, n - 1, k);
    out[r] = values[k]!;
    lo = k;
  }
}
