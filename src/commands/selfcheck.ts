// pose-exporter selfcheck: loads ONNX Runtime as the exporter does, runs one batch of the built-in demo
// model (or --model's) in the inference worker and prints a line per step; a failed step is one
// line and exit 1.

import { type CommandSpec, PROGRAM, readCommandLine } from "../cli/command_line.ts";
import { type FlagSpec, HELP_FLAG } from "../cli/flags.ts";
import { renderUsage } from "../cli/usage.ts";
import { envNameOf, exporterFlag } from "../config.ts";
import type { ProviderChoice } from "../pose/provider.ts";
import { EXIT } from "../exit_codes.ts";
import { Logger } from "../log.ts";
import { buildDemoModel } from "../pose/demo_model.ts";
import { loadModelFile, type PreparedModel, prepareModel } from "../pose/model_prep.ts";
import { type InputSize, parseInputSize } from "../pose/input_size.ts";
import { ortNativeDir } from "../pose/ort_libraries.ts";
import { batchShapes } from "../pose/batch_shapes.ts";
import { renderSyntheticCycle } from "../sources/synthetic_source.ts";
import type { Frame } from "../sources/frame.ts";

/** Frames in the checked batch: two synthetic frames with two figures each (fewer for a model fixed at batch 1). */
const BATCH = 2;

/**
 * The flags of `pose-exporter selfcheck`: the exporter's --provider and --device (their choices,
 * range and defaults from its table), read from the same variables as the exporter reads them.
 */
export const SELFCHECK_FLAGS = [
  {
    ...exporterFlag("provider"),
    env: envNameOf("provider"),
    help: "execution provider: auto (CUDA, else CPU), cuda or cpu",
  },
  { ...exporterFlag("device"), env: envNameOf("device"), help: "CUDA device ordinal" },
  {
    ...exporterFlag("model"),
    env: envNameOf("model"),
    help: "check this ONNX model instead of the built-in demo model: its layout, input size, " +
      "keypoints and classes, one batch and its decoding",
  },
  { ...exporterFlag("input-size"), env: envNameOf("input-size") },
  HELP_FLAG,
] as const satisfies readonly FlagSpec[];

/** The settings `selfcheck` runs with. */
interface SelfcheckSettings {
  provider: ProviderChoice;
  deviceId: number;
  modelPath: string | null;
  inputSize: InputSize | null;
}

const SELFCHECK: CommandSpec<(typeof SELFCHECK_FLAGS)[number]["name"], SelfcheckSettings> = {
  name: "selfcheck",
  flags: SELFCHECK_FLAGS,
  usage: renderUsage({
    synopsis: [`${PROGRAM} selfcheck [flags]`],
    about: [
      "Checks in seconds that this exporter can infer: loads ONNX Runtime (its native addon and " +
      `libonnxruntime.so.1), builds the built-in demo model, runs one batch of ${BATCH} synthetic ` +
      "frames in the inference worker and decodes the persons in them. Prints one line per step; " +
      `exit ${EXIT.ok} when all worked, else exit ${EXIT.failure} with one line naming the step ` +
      `that failed (for CUDA, the libraries missing); exit ${EXIT.usage} on bad flags.`,
      "With --model PATH it checks that model instead: it reports the layout it found, the " +
      "input size and where it came from, the keypoints and the classes, then runs and decodes " +
      "one batch (persons in synthetic frames are not expected from a real model).",
    ],
    flags: SELFCHECK_FLAGS,
    notes: [
      "Environment: like the exporter, POSE_EXPORTER_PROVIDER and POSE_EXPORTER_DEVICE set " +
      "--provider and --device, so that the check runs as the exporter would; flags win.",
    ],
  }),
  read: (values) => ({
    provider: values.choice("provider"),
    deviceId: values.required("device"),
    modelPath: values.string("model"),
    inputSize: parseInputSize(
      values.text("input-size").value,
      (why) => values.invalid("input-size", why),
    ),
  }),
};

/** Options of {@linkcode runSelfcheck}. */
export interface SelfcheckOptions {
  /** Execution provider to ask for. @default {"auto"} */
  provider?: ProviderChoice;
  /** CUDA device ordinal. @default {0} */
  deviceId?: number;
  /** The model to check; null for the built-in demo model. @default {null} */
  modelPath?: string | null;
  /** `--input-size` for a model with a dynamic height and width. @default {null} */
  inputSize?: InputSize | null;
  /** Receives each step's line. @default {console.log} */
  report?: (line: string) => void;
}

/** Thrown by {@linkcode runSelfcheck} when a step fails; `step` names it, `cause` keeps the error. */
export class SelfcheckError extends Error {
  readonly step: string;

  constructor(step: string, reason: string, options?: ErrorOptions) {
    super(`Failed at ${step}: ${reason}`, options);
    this.name = "SelfcheckError";
    this.step = step;
  }
}

function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split("\n")[0]!;
}

/**
 * Runs the check, reporting a line per step.
 *
 * @param options provider, device and where lines go
 * @throws {SelfcheckError} naming the step that failed
 * @example
 * ```ts ignore
 * await runSelfcheck({ provider: "cpu" });
 * ```
 */
export async function runSelfcheck(options: SelfcheckOptions = {}): Promise<void> {
  const report = options.report ?? ((line: string) => console.log(line));
  const provider = options.provider ?? "auto";
  const deviceId = options.deviceId ?? 0;

  // 1. ONNX Runtime: importing onnxruntime-node loads its addon and libonnxruntime.so.1.
  let ortVersion: string;
  try {
    const ort = await import("onnxruntime-node");
    ortVersion = ort.env.versions.node ?? ort.env.versions.common ?? "unknown";
  } catch (err) {
    throw new SelfcheckError("loading ONNX Runtime", firstLine(err), { cause: err });
  }
  // onnxruntime-node loads its addon from its own bin folder (extracted there in the binary).
  const dir = ortNativeDir();
  let natives: string[] = [];
  try {
    for (const entry of Deno.readDirSync(dir ?? "/nonexistent")) {
      if (/\.node$|\.so(\.\d+)*$/.test(entry.name)) natives.push(entry.name);
    }
  } catch {
    natives = [];
  }
  const where = dir === null
    ? "(its folder cannot be resolved)"
    : `${dir}/: ${natives.sort().join(", ")}`;
  report(`selfcheck: onnxruntime-node ${ortVersion} loaded from ${where}`);

  // 2. The model and a batch of synthetic frames with figures.
  const modelPath = options.modelPath ?? null;
  let model: PreparedModel;
  try {
    model = modelPath === null
      ? prepareModel(buildDemoModel(), "built-in demo model")
      : await loadModelFile(modelPath, { inputSize: options.inputSize ?? null });
  } catch (err) {
    const step = modelPath === null ? "building the demo model" : "loading the model";
    throw new SelfcheckError(step, firstLine(err), { cause: err });
  }
  const batch = Math.min(BATCH, model.fixedBatch ?? BATCH);
  const cycle = renderSyntheticCycle({ width: 1280, height: 720 }, {
    width: model.width,
    height: model.height,
  });
  const frames: Frame[] = cycle.frames.slice(0, batch).map((pixels, seq) => ({
    stream: seq,
    seq,
    capturedAt: performance.now(),
    pixels,
    letterbox: cycle.letterbox,
  }));
  if (modelPath === null) {
    report(
      `selfcheck: built-in demo model, input [${batch},${model.height},${model.width},3] uint8 ` +
        `(${batch} synthetic frames, 2 figures each)`,
    );
  } else {
    for (const line of describeModel(model)) report(`selfcheck: ${line}`);
  }

  // 3. The session, in the inference worker, on the asked provider (auto falls back as the exporter does).
  const notes: string[] = [];
  // The worker logs its provider choice (a CUDA fallback and why) as JSON lines: keep their text.
  const log = new Logger({
    format: "json",
    writer: {
      writeLine: (line) => {
        try {
          const { msg, reason } = JSON.parse(line) as { msg?: string; reason?: string };
          notes.push(reason ? `${msg}: ${reason}` : String(msg));
        } catch {
          notes.push(line);
        }
      },
    },
  });
  let runner;
  try {
    const { createWorkerRunner } = await import("../pose/worker_runner.ts");
    runner = await createWorkerRunner(model, {
      provider,
      deviceId,
      shapes: batchShapes(batch, model.fixedBatch),
      warmShapes: [],
      log,
      decoder: {},
    });
  } catch (err) {
    throw new SelfcheckError(`starting the ${provider} session`, firstLine(err), { cause: err });
  }
  try {
    const device = runner.provider === "cuda" ? ` device ${deviceId}` : "";
    const fallback = provider === "auto" && runner.provider === "cpu"
      ? ` (auto: ${notes.join("; ") || "CUDA not used"})`
      : "";
    report(`selfcheck: provider ${runner.provider}${device}${fallback}`);

    // 4. One batch, twice: the first run allocates, the second is the steady time.
    let output;
    const times: number[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        output = await runner.run(frames);
        times.push(output.seconds * 1000);
      }
    } catch (err) {
      throw new SelfcheckError(`running a batch on ${runner.provider}`, firstLine(err), {
        cause: err,
      });
    }
    report(
      `selfcheck: batch of ${batch} ran in ${times[1]!.toFixed(1)} ms ` +
        `(first run ${times[0]!.toFixed(1)} ms, with allocation)`,
    );

    // 5. The persons the worker decoded.
    const perFrame = output!.persons.map((p) => p.length);
    const persons = perFrame.reduce((n, c) => n + c, 0);
    if (persons === 0 && modelPath === null) {
      throw new SelfcheckError(
        "decoding",
        `no persons found in ${batch} frames that show 2 figures each (the model's output is wrong)`,
      );
    }
    const note = modelPath === null
      ? ""
      : ` in ${batch} synthetic frame${
        batch === 1 ? "" : "s"
      } (drawn figures: a real model need find none)`;
    report(`selfcheck: decoded ${persons} persons (${perFrame.join(" + ")})${note}`);
  } finally {
    await runner.release().catch(() => {});
  }
}

/**
 * What selfcheck reports of a model: its layout, input, keypoints and classes.
 *
 * @param model the prepared model
 * @returns one line per fact, without the `selfcheck: ` prefix
 */
export function describeModel(model: PreparedModel): string[] {
  const { layout, metadata } = model;
  const from = metadata === null
    ? "no Ultralytics metadata: read by its shapes"
    : `Ultralytics metadata${metadata.version ? ` (exported by ${metadata.version})` : ""}` +
      `${metadata.description ? `: ${metadata.description}` : ""}`;
  const batch = model.fixedBatch === null ? "dynamic batch" : `batch fixed at ${model.fixedBatch}`;
  const kind = layout.keypointDims === 3 ? "x, y, visibility" : "x, y";
  return [
    `model ${model.origin}: ${from}`,
    `layout ${layout.name}`,
    `input ${model.width}x${model.height} (${model.inputSizeSource}), ${model.precision}, ${batch}; ` +
    model.inputStage,
    `keypoints ${layout.keypoints} x ${layout.keypointDims} (${kind}); ` +
    `classes ${layout.classNames.map((n, i) => `${i}: ${n}`).join(", ")}`,
    ...(metadata?.keypointNames ? [`keypoint names ${metadata.keypointNames.join(", ")}`] : []),
    ...model.notes.map((n) => `note: ${n}`),
  ];
}

/**
 * `pose-exporter selfcheck [--provider auto|cuda|cpu] [--device N] [--model PATH]`.
 *
 * @param args the arguments after `selfcheck`
 * @param env the environment, for POSE_EXPORTER_PROVIDER and POSE_EXPORTER_DEVICE
 * @returns {@linkcode EXIT}: ok when every step worked, failure when one failed, usage for bad flags
 */
export async function selfcheckCommand(
  args: string[],
  env: Readonly<Record<string, string | undefined>> = Deno.env.toObject(),
): Promise<number> {
  const line = readCommandLine(SELFCHECK, { args, env });
  if ("exitCode" in line) return line.exitCode;
  const { provider, deviceId, modelPath, inputSize } = line.settings;
  try {
    await runSelfcheck({ provider, deviceId, modelPath, inputSize });
  } catch (err) {
    if (!(err instanceof SelfcheckError)) throw err;
    console.error(`${PROGRAM} selfcheck: ${err.message}`);
    return EXIT.failure;
  }
  console.log("selfcheck: ok");
  return EXIT.ok;
}
