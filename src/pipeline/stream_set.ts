// The running streams: each one's index, source and lifecycle; streams added, removed or
// restarted while the batcher, the session and the other streams go on.

import type { Logger } from "../log.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { FrameSource } from "../sources/frame.ts";
import { createSource, type SourceFactoryOptions } from "../sources/source_factory.ts";
import type { SourceSpec } from "../sources/source_uri.ts";
import { StreamLifecycle } from "../sources/stream_lifecycle.ts";
import type { Batcher } from "./batcher.ts";

/** One running stream. */
export interface RunningStream {
  /** Its index: `Frame.stream`, and its series in the metrics. Never reused. */
  readonly index: number;
  readonly spec: SourceSpec;
  readonly lifecycle: StreamLifecycle;
  readonly source: FrameSource;
}

/** What a change of the set did, stream by stream. */
export interface StreamChanges {
  added: string[];
  removed: string[];
  restarted: string[];
  unchanged: string[];
}

/** What {@linkcode StreamSet} works with. */
export interface StreamSetParts {
  batcher: Batcher;
  metrics: PoseMetrics;
  log: Logger;
  /** Builds a stream's source. @default {createSource with `sourceOptions`} */
  createSource?: (spec: SourceSpec, lifecycle: StreamLifecycle) => FrameSource;
  /** What every source shares (model size, ffmpeg settings). */
  sourceOptions?: SourceFactoryOptions;
}

/**
 * The set of running streams. Indexes grow and are never reused, so a frame of a removed
 * stream still in a batch can never be counted for another one.
 */
export class StreamSet {
  #parts: StreamSetParts;
  #byId = new Map<string, RunningStream>();
  #ids: string[] = [];
  #stopping = new Set<Promise<void>>();

  constructor(parts: StreamSetParts) {
    this.#parts = parts;
  }

  /** The running streams, in the order they were added. */
  get streams(): RunningStream[] {
    return [...this.#byId.values()];
  }

  /** The id of stream index `index`, also after it was removed ("" when never used). */
  idOf(index: number): string {
    return this.#ids[index] ?? "";
  }

  /** The running stream with this id. */
  get(id: string): RunningStream | undefined {
    return this.#byId.get(id);
  }

  /** Starts a stream for `spec` under a new index. */
  add(spec: SourceSpec): RunningStream {
    const { batcher, metrics, log } = this.#parts;
    if (this.#byId.has(spec.id)) throw new Error(`Cannot add stream ${spec.id}: it runs already`);
    const index = this.#ids.length;
    this.#ids.push(spec.id);
    const lifecycle = new StreamLifecycle(index, spec.id, { metrics, log });
    metrics.addStream(index, spec.id);
    batcher.addStream(index);
    const source = this.#parts.createSource
      ? this.#parts.createSource(spec, lifecycle)
      : createSource(spec, lifecycle, this.#parts.sourceOptions!);
    const stream: RunningStream = { index, spec, lifecycle, source };
    this.#byId.set(spec.id, stream);
    metrics.startStream(index);
    source.start(batcher);
    return stream;
  }

  /**
   * Stops stream `id`: its source is stopped, its queued frames are dropped and counted
   * (without a stream label), and every series with its id leaves the metrics.
   */
  async remove(id: string): Promise<void> {
    const stream = this.#byId.get(id);
    if (!stream) return;
    this.#byId.delete(id);
    const { batcher, metrics } = this.#parts;
    const stopped = stream.source.stop();
    this.#stopping.add(stopped);
    try {
      await stopped;
    } finally {
      this.#stopping.delete(stopped);
    }
    const queued = batcher.removeStream(stream.index);
    for (const frame of queued) frame.release?.();
    if (queued.length > 0) metrics.removedStreamDrops.inc(0, queued.length);
    metrics.removeStream(stream.index);
  }

  /**
   * Makes the running set equal `specs`: new ids start, missing ids stop, an id whose URI
   * changed restarts; an unchanged stream is not touched (its counters go on).
   */
  async apply(specs: readonly SourceSpec[]): Promise<StreamChanges> {
    const changes: StreamChanges = { added: [], removed: [], restarted: [], unchanged: [] };
    const wanted = new Map(specs.map((s) => [s.id, s]));
    const removals: Promise<void>[] = [];
    for (const id of this.#byId.keys()) {
      if (!wanted.has(id)) {
        changes.removed.push(id);
        removals.push(this.remove(id));
      }
    }
    for (const spec of specs) {
      const running = this.#byId.get(spec.id);
      if (running === undefined) {
        changes.added.push(spec.id);
      } else if (running.spec.uri !== spec.uri) {
        changes.restarted.push(spec.id);
        removals.push(this.remove(spec.id));
      } else {
        changes.unchanged.push(spec.id);
      }
    }
    await Promise.all(removals);
    for (const spec of specs) if (!this.#byId.has(spec.id)) this.add(spec);
    return changes;
  }

  /**
   * Stops every source, each marked stopped. Resolves when all have stopped or `deadline`
   * resolves first; returns the ids of the sources that had not stopped by then.
   */
  async stopAll(deadline: Promise<void>): Promise<string[]> {
    const pending = new Set<string>();
    const stops = this.streams.map(async ({ spec, source, lifecycle }) => {
      pending.add(spec.id);
      await source.stop();
      lifecycle.stopped();
      pending.delete(spec.id);
    });
    await Promise.race([Promise.all([...stops, ...this.#stopping]), deadline]);
    return [...pending];
  }
}
