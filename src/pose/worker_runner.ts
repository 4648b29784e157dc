// An InferenceRunner whose session lives in a worker thread: the main event loop stays free during model runs.

import type { Provider } from "./provider.ts";
import { batchShapeFor } from "./batch_shapes.ts";
import {
  checkFramePixels,
  type InferenceOutput,
  type InferenceRunner,
  type OrtRunnerOptions,
  ProviderUnavailableError,
} from "./inference.ts";
import { ModelLoadError, type PreparedModel, UnknownModelLayoutError } from "./model_prep.ts";
import type { Frame } from "../sources/frame.ts";
import type { PoseDecoderOptions } from "./decoder.ts";
import type { WorkerReply, WorkerRequest } from "./worker_protocol.ts";

/** Options of {@linkcode createWorkerRunner}. */
export interface WorkerRunnerOptions extends OrtRunnerOptions {
  /** How the worker decodes the poses (only poses cross threads). @default {the decoder's defaults} */
  decoder?: PoseDecoderOptions;
}

type Pending = { resolve: (reply: WorkerReply) => void; reject: (err: Error) => void };

/** Error classes that callers branch on, rebuilt with their fields when they cross the worker. */
const KNOWN_ERRORS: Record<string, { prototype: Error }> = {
  ModelLoadError,
  ProviderUnavailableError,
  UnknownModelLayoutError,
};

function rebuildError(
  reply: { name: string; message: string; fields: Record<string, string | string[]> },
): Error {
  const known = KNOWN_ERRORS[reply.name];
  const err: Error = known ? Object.create(known.prototype) : new Error(reply.message);
  Object.assign(err, reply.fields, { name: reply.name, message: reply.message });
  if (known) err.stack = `${reply.name}: ${reply.message}\n    (raised in the inference worker)`;
  return err;
}

/**
 * Runs batches in an inference worker. Frames whose pixels lie in a `SharedArrayBuffer` (the
 * frame slots of the pipe readers, the synthetic cycles) go by reference: the worker copies
 * them into its batch input, so the main thread copies no pixel. Other frames are copied into
 * a pooled buffer that is transferred (not copied) to the worker and back. Only the poses come
 * back. Up to two batches may be in flight, so the next batch is gathered while the model runs.
 */
export class WorkerRunner implements InferenceRunner {
  readonly provider: Provider;
  readonly shapes: readonly number[];
  #worker: Worker;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #frameBytes: number;
  #rowBytes: number;
  #pools = new Map<number, ArrayBuffer[]>();
  #failed: Error | null = null;
  /** Shared memory already sent to the worker, by id. */
  #shared = new WeakMap<SharedArrayBuffer, number>();
  #nextShared = 1;
  /** Tells the worker to drop shared memory this thread no longer holds. */
  #forget = new FinalizationRegistry<number>((id) => {
    if (this.#failed) return;
    try {
      this.#worker.postMessage({ type: "forget", id } satisfies WorkerRequest);
    } catch {
      // the worker has ended
    }
  });

  private constructor(
    worker: Worker,
    provider: Provider,
    shapes: readonly number[],
    model: { width: number; height: number },
  ) {
    this.#worker = worker;
    this.provider = provider;
    this.shapes = shapes;
    this.#rowBytes = model.width * 3;
    this.#frameBytes = this.#rowBytes * model.height;
  }

  static async create(model: PreparedModel, options: WorkerRunnerOptions): Promise<WorkerRunner> {
    const worker = new Worker(new URL("./inference_worker.ts", import.meta.url).href, {
      type: "module",
    });
    const pending = new Map<number, Pending>();
    let instance: WorkerRunner | null = null;
    const fail = (err: Error) => {
      for (const p of (instance ? instance.#pending : pending).values()) p.reject(err);
      (instance ? instance.#pending : pending).clear();
      if (instance) instance.#failed = err;
    };
    worker.onmessage = (event: MessageEvent<WorkerReply>) => {
      const reply = event.data;
      if (reply.type === "log") {
        options.log?.writer.writeLine(reply.line);
        return;
      }
      const map = instance ? instance.#pending : pending;
      const waiter = map.get(reply.id);
      if (!waiter) return;
      map.delete(reply.id);
      if (reply.type === "error") waiter.reject(rebuildError(reply));
      else waiter.resolve(reply);
    };
    worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      fail(new Error(`Inference worker failed: ${event.message}`));
    };
    const ask = (request: WorkerRequest): Promise<WorkerReply> =>
      new Promise((resolve, reject) => {
        pending.set(request.id, { resolve, reject });
        worker.postMessage(request);
      });
    try {
      const ready = await ask({
        type: "init",
        id: 0,
        model: { ...model, bytes: new Uint8Array(model.bytes) },
        options: {
          provider: options.provider,
          deviceId: options.deviceId ?? 0,
          shapes: [...options.shapes],
          intraOpThreads: options.intraOpThreads ?? 0,
          logFormat: options.log?.format ?? "text",
          decoder: options.decoder ?? {},
        },
      });
      if (ready.type !== "ready") {
        throw new Error(`Inference worker answered ${ready.type} to init`);
      }
      let id = 1;
      for (const shape of options.warmShapes ?? options.shapes) {
        await ask({ type: "warm", id: id++, shape });
        await options.onWarm?.(shape);
      }
      instance = new WorkerRunner(
        worker,
        ready.provider,
        options.shapes,
        model,
      );
      instance.#nextId = id;
      return instance;
    } catch (err) {
      worker.terminate();
      throw err;
    }
  }

  /** The smallest shape that holds `frames` frames. */
  shapeFor(frames: number): number {
    return batchShapeFor(this.shapes, frames);
  }

  #ask(request: WorkerRequest, transfer: Transferable[] = []): Promise<WorkerReply> {
    if (this.#failed) return Promise.reject(this.#failed);
    return new Promise((resolve, reject) => {
      this.#pending.set(request.id, { resolve, reject });
      this.#worker.postMessage(request, transfer);
    });
  }

  /** The id of shared memory `memory` in the worker, sent there the first time. */
  #shareId(memory: SharedArrayBuffer): number {
    let id = this.#shared.get(memory);
    if (id === undefined) {
      id = this.#nextShared++;
      this.#shared.set(memory, id);
      this.#forget.register(memory, id);
      this.#worker.postMessage({ type: "share", id, buffer: memory } satisfies WorkerRequest);
    }
    return id;
  }

  run(frames: readonly Frame[]): Promise<InferenceOutput> {
    if (this.#failed) return Promise.reject(this.#failed);
    let shape: number;
    let buffer: ArrayBuffer | null = null;
    const refs: number[] = new Array(frames.length * 4);
    try {
      shape = this.shapeFor(frames.length);
      let inlineAt = 0;
      for (let f = 0; f < frames.length; f++) {
        const frame = frames[f]!;
        const pixels = frame.pixels;
        checkFramePixels(frame, this.#frameBytes, this.#rowBytes);
        refs[f * 4 + 2] = pixels.length;
        refs[f * 4 + 3] = frame.rows?.top ?? -1;
        if (pixels.buffer instanceof SharedArrayBuffer) {
          refs[f * 4] = this.#shareId(pixels.buffer);
          refs[f * 4 + 1] = pixels.byteOffset;
          continue;
        }
        if (buffer === null) {
          let pool = this.#pools.get(shape);
          if (!pool) this.#pools.set(shape, pool = []);
          buffer = pool.pop() ?? new ArrayBuffer(shape * this.#frameBytes);
        }
        new Uint8Array(buffer, inlineAt, pixels.length).set(pixels);
        refs[f * 4] = 0;
        refs[f * 4 + 1] = inlineAt;
        inlineAt += pixels.length;
      }
    } catch (err) {
      if (buffer !== null) this.#pools.get(this.shapeFor(frames.length))?.push(buffer);
      return Promise.reject(err);
    }
    const id = this.#nextId++;
    const letterboxes = frames.map((f) => f.letterbox);
    const request: WorkerRequest = { type: "run", id, shape, refs, buffer, letterboxes };
    return this.#ask(request, buffer ? [buffer] : []).then((reply) => {
      if (reply.type !== "result") {
        throw new Error(`Inference worker answered ${reply.type} to run`);
      }
      if (reply.input) this.#pools.get(reply.shape)!.push(reply.input);
      return {
        persons: reply.persons,
        shape: reply.shape,
        seconds: reply.seconds,
        decodeSeconds: reply.decodeSeconds,
      };
    });
  }

  async release(): Promise<void> {
    try {
      if (!this.#failed) await this.#ask({ type: "release", id: this.#nextId++ });
    } finally {
      this.#worker.terminate();
    }
  }
}

/** Starts an inference worker for `model` and warms it; the worker-side equivalent of createOrtRunner. */
export function createWorkerRunner(
  model: PreparedModel,
  options: WorkerRunnerOptions,
): Promise<WorkerRunner> {
  return WorkerRunner.create(model, options);
}
