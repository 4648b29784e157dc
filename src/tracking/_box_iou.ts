// Intersection over union of two boxes given as corners, shared by the tracker and the scorer.

/**
 * IoU of boxes `a` and `b`, each `[x1, y1, x2, y2]` (read from index 0). Empty or inverted
 * boxes have no area; the IoU of two empty boxes is 0.
 *
 * @param a First box, corners.
 * @param b Second box, corners.
 * @returns IoU in 0..1.
 */
export function boxIou(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const ax1 = a[0]!, ay1 = a[1]!, ax2 = a[2]!, ay2 = a[3]!;
  const bx1 = b[0]!, by1 = b[1]!, bx2 = b[2]!, by2 = b[3]!;
  const iw = Math.min(ax2, bx2) - Math.max(ax1, bx1);
  if (!(iw > 0)) return 0;
  const ih = Math.min(ay2, by2) - Math.max(ay1, by1);
  if (!(ih > 0)) return 0;
  const inter = iw * ih;
  const union = Math.max(0, ax2 - ax1) * Math.max(0, ay2 - ay1) +
    Math.max(0, bx2 - bx1) * Math.max(0, by2 - by1) - inter;
  return union > 0 ? inter / union : 0;
}
