// The roster of running streams: the one table of streams (index, id, spec, lifecycle, decoder,
// source) and the one way to change it, at start and on every reload alike.

import type { Logger } from "../log.ts";
import type { PoseMetrics } from "../metrics/pose_metrics.ts";
import type { DecoderChoice } from "../sources/nvdec_probe.ts";
import type { FrameSink, FrameSource } from "../sources/frame.ts";
import { uncheckedChoice } from "../sources/source_factory.ts";
import type { SourceSpec } from "../sources/source_uri.ts";
import { StreamLifecycle } from "../sources/stream_lifecycle.ts";
import { SourcesFileError } from "../sources/sources_file.ts";
import type { RunningStream, StreamChanges, StreamKey, StreamListener } from "./running_stream.ts";
import type { PreparedStreams, StreamSpecs } from "./stream_specs.ts";

/** What {@linkcode StreamRoster} works with. */
export interface StreamRosterParts {
  /** Where every source puts its frames (the pipeline's intake). */
  sink: FrameSink;
  /** The lifecycles report their transitions here. */
  metrics: PoseMetrics;
  log: Logger;
  /** Builds a stream's source. */
  createSource: (stream: Omit<RunningStream, "source">) => FrameSource;
  /** Told of each stream added and removed, in this order (removals in reverse order). */
  listeners: readonly StreamListener[];
  /** Where {@linkcode StreamRoster.sync} reads the wanted streams. */
  specs?: StreamSpecs;
  /** The model's input size, for the decoder tests. @default {640 x 640} */
  model?: { width: number; height: number };
}

/**
 * The running streams. Indexes grow and are never reused, so a frame of a removed stream still
 * in a batch can never be counted for another one; {@linkcode StreamRoster.idOf} still names it.
 */
export class StreamRoster {
  #parts: StreamRosterParts;
  #byId = new Map<string, RunningStream>();
  /** Every stream ever added, by index: the one index-to-id table. */
  #keys: StreamKey[] = [];
  #stopping = new Set<Promise<void>>();

  constructor(parts: StreamRosterParts) {
    this.#parts = parts;
  }

  /** The running streams, in the order they were added. */
  get streams(): RunningStream[] {
    return [...this.#byId.values()];
  }

  /** The id of stream index `index`, also after it was removed ("" when never used). */
  idOf(index: number): string {
    return this.#keys[index]?.id ?? "";
  }

  /** The running stream with this id. */
  get(id: string): RunningStream | undefined {
    return this.#byId.get(id);
  }

  /**
   * The one way from the configuration to running streams, at start and on reload: reads the
   * wanted streams, checks their tools, chooses their decoders, and applies them. When a step
   * fails the running streams are kept as they are.
   *
   * @param options `newFilesMustExist` refuses a new or changed file source whose file does not
   *   exist (on reload: a line saved half-way, `b=synthet`, is a typo, not a camera to retry)
   * @throws {SourcesFileError | MissingToolError | DecoderUnavailableError} from the steps
   */
  async sync(options: { newFilesMustExist?: boolean } = {}): Promise<StreamChanges> {
    const specs = this.#parts.specs;
    if (specs === undefined) throw new Error("Cannot sync a roster without specs");
    const wanted = await specs.read();
    if (options.newFilesMustExist) await this.#checkNewFiles(wanted, specs.sourcesFile);
    const prepared = await specs.prepare(wanted, this.#parts.model ?? { width: 640, height: 640 });
    return await this.apply(prepared);
  }

  /** Refuses new or changed file sources whose file is not there. */
  async #checkNewFiles(wanted: readonly SourceSpec[], file: string | null): Promise<void> {
    const problems: string[] = [];
    for (const spec of wanted) {
      if (spec.kind !== "ffmpeg" || spec.input !== "file") continue;
      if (this.#byId.get(spec.id)?.spec.uri === spec.uri) continue;
      try {
        await Deno.stat(spec.target);
      } catch (err) {
        if (!(err instanceof Deno.errors.NotFound)) continue;
        problems.push(
          `stream ${JSON.stringify(spec.id)}: no such file ${JSON.stringify(spec.target)} ` +
            "(a line saved half-way? a scheme this build does not read?)",
        );
      }
    }
    if (problems.length > 0) throw new SourcesFileError(file ?? "--source", problems);
  }

  /**
   * Makes the running set equal `wanted`: new ids start, missing ids stop, an id whose URI
   * changed restarts; an unchanged stream is not touched (its counters and tracks go on).
   */
  async apply(wanted: PreparedStreams): Promise<StreamChanges> {
    const changes: StreamChanges = { added: [], removed: [], restarted: [], unchanged: [] };
    const byId = new Map(wanted.specs.map((s) => [s.id, s]));
    const removals: Promise<void>[] = [];
    for (const id of this.#byId.keys()) {
      if (!byId.has(id)) {
        changes.removed.push(id);
        removals.push(this.#remove(id));
      }
    }
    for (const spec of wanted.specs) {
      const running = this.#byId.get(spec.id);
      if (running === undefined) {
        changes.added.push(spec.id);
      } else if (running.spec.uri !== spec.uri) {
        changes.restarted.push(spec.id);
        removals.push(this.#remove(spec.id));
      } else {
        changes.unchanged.push(spec.id);
      }
    }
    await Promise.all(removals);
    for (const spec of wanted.specs) {
      if (!this.#byId.has(spec.id)) this.#add(spec, wanted.decoders.get(spec.id));
    }
    return changes;
  }

  /** Starts a stream for `spec` under a new index; every listener learns of it first. */
  #add(spec: SourceSpec, decoder: DecoderChoice | undefined): void {
    const { metrics, log, listeners } = this.#parts;
    const key: StreamKey = { index: this.#keys.length, id: spec.id };
    this.#keys.push(key);
    for (const listener of listeners) listener.streamAdded(key);
    const row = {
      ...key,
      spec,
      lifecycle: new StreamLifecycle(key, { metrics, log }),
      decoder: decoder ?? uncheckedChoice(spec, { decode: "auto" }),
    };
    const stream: RunningStream = { ...row, source: this.#parts.createSource(row) };
    this.#byId.set(spec.id, stream);
    stream.source.start(this.#parts.sink);
  }

  /** Stops stream `id`; once its source has stopped, every listener learns of it. */
  async #remove(id: string): Promise<void> {
    const stream = this.#byId.get(id);
    if (!stream) return;
    this.#byId.delete(id);
    const stopped = stream.source.stop();
    this.#stopping.add(stopped);
    try {
      await stopped;
    } finally {
      this.#stopping.delete(stopped);
    }
    const key: StreamKey = { index: stream.index, id: stream.id };
    for (const listener of [...this.#parts.listeners].reverse()) listener.streamRemoved(key);
  }

  /**
   * Stops every source, each marked stopped. Resolves when all have stopped or `deadline`
   * resolves first; returns the ids of the sources that had not stopped by then.
   */
  async stopAll(deadline: Promise<void>): Promise<string[]> {
    const pending = new Set<string>();
    const stops = this.streams.map(async ({ id, source, lifecycle }) => {
      pending.add(id);
      await source.stop();
      lifecycle.stopped();
      pending.delete(id);
    });
    await Promise.race([Promise.all([...stops, ...this.#stopping]), deadline]);
    return [...pending];
  }
}
