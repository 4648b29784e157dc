// An InferenceRunner whose session lives in a worker thread: the main event loop stays free during model runs.

import type { Provider } from "./provider.ts";
import { batchShapeFor } from "./batch_shapes.ts";
import {
  copyFrames,
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
 * Runs batches in an inference worker. Frames are copied into a pooled batch buffer that is
 * transferred (not copied) to the worker and back; the output comes back the same way. Up to
 * two batches may be in flight, so the next batch is gathered while the model runs.
 */
export class WorkerRunner implements InferenceRunner {
  readonly provider: Provider;
  readonly shapes: readonly number[];
  #worker: Worker;
  #pending = new Map<number, Pending>();
  #nextId = 1;
  #frameBytes: number;
  #pools = new Map<number, ArrayBuffer[]>();
  #failed: Error | null = null;

  private constructor(
    worker: Worker,
    provider: Provider,
    shapes: readonly number[],
    frameBytes: number,
  ) {
    this.#worker = worker;
    this.provider = provider;
    this.shapes = shapes;
    this.#frameBytes = frameBytes;
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
        model.width * model.height * 3,
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

  run(frames: readonly Frame[]): Promise<InferenceOutput> {
    let shape: number;
    let buffer: ArrayBuffer;
    try {
      shape = this.shapeFor(frames.length);
      let pool = this.#pools.get(shape);
      if (!pool) this.#pools.set(shape, pool = []);
      buffer = pool.pop() ?? new ArrayBuffer(shape * this.#frameBytes);
      copyFrames(frames, new Uint8Array(buffer), this.#frameBytes);
    } catch (err) {
      return Promise.reject(err);
    }
    const id = this.#nextId++;
    const letterboxes = frames.map((f) => f.letterbox);
    return this.#ask({ type: "run", id, shape, buffer, letterboxes }, [buffer]).then((reply) => {
      if (reply.type !== "result") {
        throw new Error(`Inference worker answered ${reply.type} to run`);
      }
      this.#pools.get(reply.shape)!.push(reply.input);
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
