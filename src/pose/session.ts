// The model's session: the model loaded and checked, the worker runner that runs and decodes it,
// behind a swappable runner that the GPU solver may rebuild at another batch shape.

import type { Logger } from "../log.ts";
import { batchShapes } from "./batch_shapes.ts";
import { buildDemoModel } from "./demo_model.ts";
import type { InferenceRunner } from "./inference.ts";
import { loadModelFile, type PreparedModel, prepareModel } from "./model_prep.ts";
import type { ProviderChoice } from "./provider.ts";
import type { InputSize } from "./input_size.ts";
import { SwappableRunner } from "./swappable_runner.ts";
import { createWorkerRunner } from "./worker_runner.ts";

/** The model, its session and its decoder. */
export interface ModelConfig {
  /** Path of the ONNX model, or null for the built-in demo model. */
  modelPath: string | null;
  /** `--input-size`: what a model with a dynamic height and width is fed; null when not given. */
  inputSize: InputSize | null;
  provider: ProviderChoice;
  /** GPU index as nvidia-smi prints it. */
  deviceId: number;
  /** The largest batch, across streams. */
  batchSize: number;
  /** ONNX Runtime operator threads; 0 leaves the choice to ONNX Runtime (all cores). */
  inferenceThreads: number;
  scoreThreshold: number;
  iouThreshold: number;
  maxDetections: number;
  maxCandidates: number;
}

/** The model and the runner that runs it. */
export interface ModelSession {
  model: PreparedModel;
  runner: SwappableRunner;
  /** Builds a fresh session warmed at `shape` only (the GPU solver's rebuild). */
  rebuild: (shape: number) => Promise<InferenceRunner>;
}

/** Options of {@linkcode openSession}. */
export interface OpenSessionOptions {
  log: Logger;
  /** Called after the first session warmed up at each batch shape (GPU calibration). */
  onWarm?: (shape: number) => Promise<void>;
}

/**
 * Loads the model: `--model`'s file, or the built-in demo model without one.
 *
 * @throws {ModelLoadError | UnknownModelLayoutError} naming the file
 */
export async function loadModel(config: ModelConfig, log: Logger): Promise<PreparedModel> {
  const options = { inputSize: config.inputSize };
  if (config.modelPath === null) {
    log.warn("no --model given: using the built-in demo model, whose poses mean nothing");
  }
  const model = config.modelPath === null
    ? prepareModel(buildDemoModel(), "built-in demo model", options)
    : await loadModelFile(config.modelPath, options);
  for (const note of model.notes) log.warn(note, { model: model.origin });
  return model;
}

/**
 * Starts the session of `model` in a worker thread, warmed at each batch shape.
 *
 * @throws {ProviderUnavailableError} naming the library when `--provider cuda` cannot load
 */
export async function openSession(
  model: PreparedModel,
  config: ModelConfig,
  options: OpenSessionOptions,
): Promise<ModelSession> {
  const { log } = options;
  const runnerOptions = {
    provider: config.provider,
    deviceId: config.deviceId,
    shapes: batchShapes(config.batchSize, model.fixedBatch),
    intraOpThreads: config.inferenceThreads,
    log,
    decoder: {
      scoreThreshold: config.scoreThreshold,
      iouThreshold: config.iouThreshold,
      maxDetections: config.maxDetections,
      maxCandidates: config.maxCandidates,
    },
  };
  const runner = new SwappableRunner(
    await createWorkerRunner(model, { ...runnerOptions, onWarm: options.onWarm }),
  );
  const maxBatch = runner.shapes.at(-1)!;
  if (model.fixedBatch !== null && model.fixedBatch < config.batchSize) {
    log.warn(
      `the model's batch dimension is fixed at ${model.fixedBatch}: running at batch ${maxBatch}`,
      { model: model.origin },
    );
  }
  log.info("model ready", {
    model: model.origin,
    provider: runner.provider,
    layout: model.layout.name,
    input: `${model.width}x${model.height} (${model.inputSizeSource})`,
    batch_shapes: runner.shapes.join(","),
    precision: model.precision,
    input_stage: model.inputStage,
    classes: model.layout.classNames.join(","),
  });
  const rebuild = (shape: number) =>
    createWorkerRunner(model, { ...runnerOptions, provider: runner.provider, warmShapes: [shape] });
  return { model, runner, rebuild };
}
