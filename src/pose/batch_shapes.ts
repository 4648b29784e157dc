// The few fixed batch shapes a session runs at (each new shape grows ONNX Runtime's memory arena).

/**
 * The batch shapes used for a largest batch: powers of two below it, and it; the model's own
 * batch when its batch dimension is fixed. Computed once, on the main thread, and handed to the
 * session, the batcher (its largest) and the metrics (pose_batch_size's buckets).
 */
export function batchShapes(maxBatch: number, fixedBatch: number | null): number[] {
  if (fixedBatch !== null) return [fixedBatch];
  const shapes: number[] = [];
  for (let b = 1; b < maxBatch; b *= 2) shapes.push(b);
  shapes.push(maxBatch);
  return shapes;
}

/** The smallest of `shapes` (ascending) that holds `frames` frames. */
export function batchShapeFor(shapes: readonly number[], frames: number): number {
  for (const shape of shapes) if (shape >= frames) return shape;
  throw new RangeError(`Cannot run ${frames} frames: the largest batch shape is ${shapes.at(-1)}`);
}
