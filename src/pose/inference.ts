// Runs the prepared model on onnxruntime-node, CUDA or CPU, over batches padded to a few fixed shapes.

import * as ort from "onnxruntime-node";
import { type Frame, LETTERBOX_GRAY } from "../sources/frame.ts";
import type { Person, RawOutput } from "./decoder.ts";
import { batchShapeFor } from "./batch_shapes.ts";
import { ModelLoadError, type PreparedModel } from "./model_prep.ts";
import { checkOutputDims, UnknownModelLayoutError } from "./model_layout.ts";
import { convertToFloat32 } from "./float16.ts";
import type { Provider, ProviderChoice } from "./provider.ts";
import type { Logger } from "../log.ts";
import {
  missingCudaProviderFiles,
  ortNativeDir,
  removeOrtDebugLog,
  unresolvedDependencies,
} from "./ort_libraries.ts";

// Every process that loads ONNX Runtime (the exporter, selfcheck, the benchmark, tests) removes
// the empty debug log it leaves, at exit.
globalThis.addEventListener("unload", () => removeOrtDebugLog());

/** The raw output of one model run. */
export interface ModelOutput {
  /** The outputs the decoder reads, float32, in the layout's order (`PreparedModel.outputNames`). */
  outputs: RawOutput[];
  /** The batch shape the frames were padded to. */
  shape: number;
  /** Seconds the model run took. */
  seconds: number;
}

/** The decoded output of one batch: what the pipeline gets from a runner. */
export interface InferenceOutput {
  /** The poses of each frame, in source pixels. */
  persons: Person[][];
  /** The batch shape the frames were padded to. */
  shape: number;
  /** Seconds the model run took. */
  seconds: number;
  /** Seconds decoding and NMS took. */
  decodeSeconds: number;
}

/**
 * Runs batches of frames through a model and decodes the poses. The exporter's is the
 * `WorkerRunner` (worker_runner.ts), which runs an {@linkcode OrtRunner} in a worker thread, behind
 * a `SwappableRunner` the GPU solver can rebuild; tests use fakes.
 */
export interface InferenceRunner {
  /** The execution provider in use. */
  readonly provider: Provider;
  /** Batch shapes this runner uses, ascending. */
  readonly shapes: readonly number[];
  /** Runs `frames` (at most the largest shape); their pixels are copied before this returns. */
  run(frames: readonly Frame[]): Promise<InferenceOutput>;
  /** Releases the session and its memory. */
  release(): Promise<void>;
}

/** Thrown when the requested execution provider cannot be used; names what is missing. */
export class ProviderUnavailableError extends Error {
  readonly provider: string;

  constructor(provider: string, reason: string, options?: ErrorOptions) {
    super(`Cannot use execution provider ${provider}: ${reason}`, options);
    this.name = "ProviderUnavailableError";
    this.provider = provider;
  }
}

/** What a batch slot is filled from: a frame's pixels and the rows they hold. */
export type FramePixels = Pick<Frame, "pixels" | "rows">;

/**
 * Checks that `frame`'s pixels fit a model input of `frameBytes` bytes (`rowBytes` per row).
 *
 * @throws {RangeError} naming the sizes when they do not
 */
export function checkFramePixels(frame: FramePixels, frameBytes: number, rowBytes: number): void {
  const rows = frame.rows;
  const expected = rows ? rows.height * rowBytes : frameBytes;
  if (
    frame.pixels.length !== expected ||
    (rows !== undefined && (rows.top < 0 || (rows.top + rows.height) * rowBytes > frameBytes))
  ) {
    const what = rows ? ` for rows ${rows.top}..${rows.top + rows.height}` : "";
    throw new RangeError(
      `Cannot run a frame of ${frame.pixels.length} bytes${what}: the model takes ${frameBytes}`,
    );
  }
}

/**
 * A batch input buffer whose slots are filled from frames: a whole letterboxed frame is copied
 * as it is; a band of rows is copied into place, and the gray padding around it is written only
 * when the slot last held another geometry (so it costs nothing frame after frame).
 */
export class BatchInput {
  /** The batch's bytes: slots of `frameBytes`, one after the other. */
  readonly buffer: Uint8Array;
  readonly frameBytes: number;
  readonly rowBytes: number;
  /** Per slot, the band its padding was written for (top * 65536 + height + 1), or 0. */
  readonly #bands: Int32Array;

  constructor(buffer: Uint8Array, model: { width: number; height: number }) {
    this.buffer = buffer;
    this.rowBytes = model.width * 3;
    this.frameBytes = this.rowBytes * model.height;
    this.#bands = new Int32Array(Math.floor(buffer.length / this.frameBytes));
  }

  /**
   * Fills slot `slot` from `frame` (checked).
   *
   * @throws {RangeError} when the frame's size does not fit the model input
   */
  place(slot: number, frame: FramePixels): void {
    checkFramePixels(frame, this.frameBytes, this.rowBytes);
    const start = slot * this.frameBytes;
    const rows = frame.rows;
    if (rows === undefined) {
      this.buffer.set(frame.pixels, start);
      this.#bands[slot] = 0;
      return;
    }
    const bandStart = start + rows.top * this.rowBytes;
    const bandEnd = bandStart + frame.pixels.length;
    const band = rows.top * 65536 + rows.height + 1;
    if (this.#bands[slot] !== band) {
      this.buffer.fill(LETTERBOX_GRAY, start, bandStart);
      this.buffer.fill(LETTERBOX_GRAY, bandEnd, start + this.frameBytes);
      this.#bands[slot] = band;
    }
    this.buffer.set(frame.pixels, bandStart);
  }
}

/** Copies each frame's pixels into `buffer` one after the other, padding bands; checks their size. */
export function copyFrames(frames: readonly Frame[], buffer: Uint8Array, frameBytes: number): void {
  for (let i = 0; i < frames.length; i++) {
    const frame = frames[i]!;
    if (frame.rows === undefined) {
      checkFramePixels(frame, frameBytes, 1);
      buffer.set(frame.pixels, i * frameBytes);
      continue;
    }
    const rowBytes = frame.pixels.length / frame.rows.height;
    checkFramePixels(frame, frameBytes, rowBytes);
    const start = i * frameBytes;
    const bandStart = start + frame.rows.top * rowBytes;
    buffer.fill(LETTERBOX_GRAY, start, bandStart);
    buffer.set(frame.pixels, bandStart);
    buffer.fill(LETTERBOX_GRAY, bandStart + frame.pixels.length, start + frameBytes);
  }
}

/** Options of {@linkcode createOrtRunner}. */
export interface OrtRunnerOptions {
  provider: ProviderChoice;
  /** CUDA device ordinal. @default {0} */
  deviceId?: number;
  /** The batch shapes, ascending, from {@linkcode batchShapes}. */
  shapes: readonly number[];
  /** Logs the provider choice and fallbacks. */
  log?: Logger;
  /** Threads for the CPU provider's operators; 0 lets ONNX Runtime choose. @default {0} */
  intraOpThreads?: number;
  /** Batch shapes to warm up, ascending. @default {every shape} */
  warmShapes?: readonly number[];
  /** Called after each shape is warmed (for the GPU memory calibration). */
  onWarm?: (shape: number) => Promise<void>;
}

/**
 * Runs a prepared model with onnxruntime-node and returns its raw output (the inference worker
 * decodes it). Build it with {@linkcode createOrtRunner}.
 */
export class OrtRunner {
  readonly provider: Provider;
  readonly shapes: readonly number[];
  #session: ort.InferenceSession;
  #model: PreparedModel;
  #frameBytes: number;
  #inputs: Map<number, { input: BatchInput; tensor: ort.Tensor }>;

  constructor(
    session: ort.InferenceSession,
    model: PreparedModel,
    provider: Provider,
    shapes: number[],
  ) {
    this.#session = session;
    this.#model = model;
    this.provider = provider;
    this.shapes = shapes;
    this.#frameBytes = model.height * model.width * 3;
    this.#inputs = new Map(shapes.map((shape) => {
      const buffer = new Uint8Array(shape * this.#frameBytes);
      const tensor = new ort.Tensor("uint8", buffer, [shape, model.height, model.width, 3]);
      return [shape, { input: new BatchInput(buffer, model), tensor }];
    }));
  }

  /** The smallest shape that holds `frames` frames. */
  shapeFor(frames: number): number {
    return batchShapeFor(this.shapes, frames);
  }

  /** Runs `frames` (at most the largest shape); their pixels are copied before this returns. */
  run(frames: readonly Frame[]): Promise<ModelOutput> {
    const shape = this.shapeFor(frames.length);
    const input = this.#inputs.get(shape)!;
    for (let i = 0; i < frames.length; i++) input.input.place(i, frames[i]!);
    return this.#runTensor(input.tensor, shape);
  }

  /**
   * The input of batch shape `shape`, to fill slot by slot and then run with
   * {@linkcode runInput} (the inference worker fills it from shared frame slots).
   */
  input(shape: number): BatchInput {
    const input = this.#inputs.get(shape);
    if (!input) throw new RangeError(`Cannot fill a batch of ${shape}: shapes are ${this.shapes}`);
    return input.input;
  }

  /** Runs the input of shape `shape` as filled through {@linkcode input}. */
  runInput(shape: number): Promise<ModelOutput> {
    return this.#runTensor(this.#inputs.get(shape)!.tensor, shape);
  }

  /** Runs a batch already laid out in `buffer` (shape x H x W x 3 bytes), e.g. sent from another thread. */
  runBuffer(buffer: Uint8Array, shape: number): Promise<ModelOutput> {
    if (buffer.length !== shape * this.#frameBytes) {
      throw new RangeError(`Cannot run ${buffer.length} bytes as a batch of ${shape} frames`);
    }
    const m = this.#model;
    return this.#runTensor(new ort.Tensor("uint8", buffer, [shape, m.height, m.width, 3]), shape);
  }

  /** Runs one blank batch at `shape` (the first run at a shape allocates its memory). */
  async warm(shape: number): Promise<void> {
    await this.#runTensor(this.#inputs.get(shape)!.tensor, shape);
  }

  async #runTensor(tensor: ort.Tensor, shape: number): Promise<ModelOutput> {
    // Padding slots keep whatever they held: their outputs are never read.
    const started = performance.now();
    const m = this.#model;
    let results: ort.InferenceSession.ReturnType;
    try {
      results = await this.#session.run({ [m.inputName]: tensor });
    } catch (err) {
      const reason = (err as Error).message?.split("\n")[0] ?? String(err);
      throw new Error(`Model run of ${m.origin} failed at batch ${shape}: ${reason}`, {
        cause: err,
      });
    }
    const seconds = (performance.now() - started) / 1000;
    const outputs = m.outputNames.map((name): RawOutput => {
      const output = results[name];
      if (!output) throw new Error(`Model run of ${m.origin} returned no output named ${name}`);
      if (!(output.data instanceof Float32Array)) {
        throw new UnknownModelLayoutError(
          m.origin,
          `its output ${name} came out as ${output.type}`,
          [
            `output ${name} [${output.dims.join(",")}] ${output.type}`,
          ],
        );
      }
      return { data: output.data, dims: output.dims };
    });
    const problem = checkOutputDims(m.layout, outputs.map((o) => o.dims), shape);
    if (problem !== null) {
      throw new UnknownModelLayoutError(
        m.origin,
        problem,
        outputs.map((o, i) =>
          `output ${m.outputNames[i]} [${o.dims.join(",")}] for batch ${shape}`
        ),
      );
    }
    return { outputs, shape, seconds };
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}

/**
 * The bytes a session on `provider` loads: a float16 model converted to float32 for the CPU
 * provider (said once in the log), else the prepared model as it is.
 *
 * @param model the prepared model
 * @param provider where it will run
 * @param log where the conversion is said
 * @returns the model bytes
 */
export function sessionBytes(model: PreparedModel, provider: Provider, log?: Logger): Uint8Array {
  if (model.precision !== "float16" || provider !== "cpu") return model.bytes;
  log?.info("float16 model runs in float32 on the CPU provider", {
    model: model.origin,
    reason: "ONNX Runtime's CPU provider has float16 kernels for few operators and casts " +
      "around the others; the graph is converted once at load instead",
  });
  return convertToFloat32(model.bytes);
}

/** The session options every runner uses, for a provider (also used by the benchmark's raw loop). */
export function sessionOptions(
  provider: Provider,
  options: Pick<OrtRunnerOptions, "deviceId" | "intraOpThreads">,
): ort.InferenceSession.SessionOptions {
  const executionProviders: ort.InferenceSession.ExecutionProviderConfig[] = provider === "cuda"
    ? [{ name: "cuda", deviceId: options.deviceId ?? 0 }]
    : ["cpu"];
  return {
    executionProviders,
    graphOptimizationLevel: "all",
    intraOpNumThreads: options.intraOpThreads ?? 0,
    // Idle operator threads sleep instead of spinning, leaving the cores to ffmpeg and the
    // event loop between batches (spinning cost ~2x the CPU on 2 shared cores here).
    extra: { session: { intra_op: { allow_spinning: "0" }, inter_op: { allow_spinning: "0" } } },
  };
}

/**
 * Creates a session for a prepared model on the chosen provider and warms it at every
 * batch shape (which also checks the output layout). With "auto", CUDA is tried first and
 * CPU used when CUDA does not load; the log says which and why.
 *
 * A float16 model runs as it is on CUDA and is converted to float32 for the CPU provider
 * (whose float16 kernels are few), which the log says once.
 *
 * @throws {ProviderUnavailableError} when "cuda" was asked for and cannot load
 * @throws {UnknownModelLayoutError} naming the file when an output does not fit its layout
 */
export async function createOrtRunner(
  model: PreparedModel,
  options: OrtRunnerOptions,
): Promise<OrtRunner> {
  const shapes = [...options.shapes];
  let tryProviders: Provider[] = options.provider === "auto" ? ["cuda", "cpu"] : [options.provider];
  if (options.provider !== "cpu") {
    const missing = missingCudaProviderFiles();
    if (missing.length > 0) {
      const reason =
        `${missing.join(" and ")} not found in ${ortNativeDir() ?? "onnxruntime-node's folder"}` +
        ` (deno task cuda-setup installs the CUDA provider)`;
      if (options.provider === "cuda") throw new ProviderUnavailableError("cuda", reason);
      options.log?.info("CUDA execution provider not installed, using CPU", { reason });
      tryProviders = ["cpu"];
    }
  }
  let lastError: unknown;
  for (const provider of tryProviders) {
    let session: ort.InferenceSession;
    try {
      session = await ort.InferenceSession.create(
        sessionBytes(model, provider, options.log),
        sessionOptions(provider, options),
      );
    } catch (err) {
      lastError = err;
      let reason = (err as Error).message.split("\n")[0] ?? String(err);
      if (provider === "cuda") {
        // ONNX Runtime's message does not say which library failed: ask the loader.
        const missing = await unresolvedDependencies(
          `${ortNativeDir()}/libonnxruntime_providers_cuda.so`,
        );
        if (missing.length > 0) {
          reason =
            `libonnxruntime_providers_cuda.so cannot load: ${missing.join(", ")} not found ` +
            `(install the CUDA runtime, cuBLAS and cuDNN 9 or add their folders to LD_LIBRARY_PATH)`;
        }
      }
      if (provider === "cuda" && options.provider === "cuda") {
        throw new ProviderUnavailableError("cuda", reason, { cause: err });
      }
      if (provider === "cuda") {
        options.log?.warn("CUDA execution provider unavailable, falling back to CPU", { reason });
        continue;
      }
      throw new ModelLoadError(model.origin, `ONNX Runtime cannot open it on cpu: ${reason}`, {
        cause: err,
      });
    }
    const runner = new OrtRunner(session, model, provider, shapes);
    for (const shape of options.warmShapes ?? shapes) {
      await runner.warm(shape);
      await options.onWarm?.(shape);
    }
    return runner;
  }
  throw lastError;
}
