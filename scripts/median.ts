// The one median of the scripts' figures.

/**
 * The middle value; of an even count, the mean of the middle two.
 *
 * @param values at least one number (left as they are)
 * @returns their median
 */
export function median(values: readonly number[]): number {
  const v = [...values].sort((a, b) => a - b);
  const mid = v.length >> 1;
  return v.length % 2 === 1 ? v[mid]! : (v[mid - 1]! + v[mid]!) / 2;
}
