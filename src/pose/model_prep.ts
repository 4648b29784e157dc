// Loads an ONNX pose model, reads its metadata and layout, and puts the uint8 NHWC input stage in front.

import { ElementType, formatDims, onnx, type OnnxProto, readValueInfo } from "./onnx_graph.ts";
import {
  ModelMetadataError,
  readUltralyticsMetadata,
  type UltralyticsMetadata,
} from "./model_metadata.ts";
import { detectLayout, type ModelLayout, UnknownModelLayoutError } from "./model_layout.ts";
import { appendFloat32Cast, prependInputStage } from "./input_stage.ts";
import { hasFloat16 } from "./float16.ts";
import { type InputSize, type InputSizeSource, resolveInputSize } from "./input_size.ts";

export { UnknownModelLayoutError } from "./model_layout.ts";
export type { ModelLayout } from "./model_layout.ts";

/** Values per anchor of the COCO-17 person layout: 4 box, 1 score, 17 x (x, y, v). */
export const POSE_CHANNELS = 56;

/** COCO keypoints per person. */
export const KEYPOINTS = 17;

/** A model ready for ONNX Runtime, with what the pipeline needs to know of it. */
export interface PreparedModel {
  /** The model bytes, with the input stage prepended when it was needed. */
  bytes: Uint8Array;
  /** Name of the uint8 NHWC input fed by the pipeline. */
  inputName: string;
  /** The outputs the decoder reads, float32, in its order (one, or RTMO's dets then keypoints). */
  outputNames: string[];
  /** Input height in pixels (the frames' height). */
  height: number;
  /** Input width in pixels. */
  width: number;
  /** Where the input size came from: the model's fixed shape, the flag, the metadata or 640. */
  inputSizeSource: InputSizeSource;
  /** The batch size the model is fixed at, or null when its batch dimension is dynamic. */
  fixedBatch: number | null;
  /** Anchors (or rows) in the output when the model declares them, else null (known after a run). */
  anchors: number | null;
  /** The output layout: decoder family, keypoints, classes. */
  layout: ModelLayout;
  /** float16 when the graph computes in float16 (run in float32 on the CPU provider). */
  precision: "float32" | "float16";
  /** Whether the input stage was prepended (false when the model already takes uint8 NHWC). */
  inputStagePrepended: boolean;
  /** The input stage in words, e.g. `uint8 NHWC -> float16 RGB 0..1 NCHW, in the graph`. */
  inputStage: string;
  /** Ultralytics' metadata, null when the model has none. */
  metadata: UltralyticsMetadata | null;
  /** What to say once when the model is loaded (a size rounded to the stride, a flag ignored). */
  notes: string[];
  /** Where the model came from (its path, or "built-in demo model"), set once, for messages. */
  origin: string;
}

/** Options of {@linkcode prepareModel} and {@linkcode loadModelFile}. */
export interface PrepareModelOptions {
  /** `--input-size`: the size to feed a model whose height and width are dynamic. @default {null} */
  inputSize?: InputSize | null;
}

/** Protobuf messages, and so ONNX models without external data, cannot exceed 2 GiB. */
export const MAX_MODEL_BYTES = 2 ** 31;

/** Thrown when a model file cannot be read or parsed; names the file and the reason. */
export class ModelLoadError extends Error {
  readonly path: string;

  constructor(path: string, reason: string, options?: ErrorOptions) {
    super(`Cannot load model ${path}: ${reason}`, options);
    this.name = "ModelLoadError";
    this.path = path;
  }
}

/**
 * Reads a model file and prepares it with {@linkcode prepareModel}.
 *
 * @param path the model file
 * @param options the input size for dynamic models
 * @throws {ModelLoadError} when the file is missing, unreadable or not ONNX
 * @throws {UnknownModelLayoutError} when its shapes are not a pose model's
 */
export async function loadModelFile(
  path: string,
  options: PrepareModelOptions = {},
): Promise<PreparedModel> {
  let bytes: Uint8Array;
  try {
    const { size } = await Deno.stat(path);
    if (size > MAX_MODEL_BYTES) {
      throw new ModelLoadError(
        path,
        `the file is ${(size / 2 ** 30).toFixed(1)} GiB; an ONNX model cannot exceed 2 GiB`,
      );
    }
    bytes = await Deno.readFile(path);
  } catch (err) {
    if (err instanceof ModelLoadError) throw err;
    if (err instanceof Deno.errors.NotFound) {
      throw new ModelLoadError(path, "file not found", { cause: err });
    }
    if (err instanceof Deno.errors.IsADirectory) {
      throw new ModelLoadError(path, "it is a directory", { cause: err });
    }
    throw new ModelLoadError(path, (err as Error).message, { cause: err });
  }
  return prepareModel(bytes, path, options);
}

/**
 * Reads a model's metadata and layout and, for a float NCHW input, prepends the input stage
 * (Cast -> Div(255) -> Transpose, with a channel swap for BGR models, in float16 for float16
 * models) so the pipeline feeds the frames' bytes as a uint8 NHWC tensor; float16 outputs get
 * a Cast to float32.
 *
 * @param bytes the ONNX model
 * @param origin the file name (or "built-in demo model") for messages
 * @param options the input size for dynamic models
 * @throws {ModelLoadError} when the bytes are not an ONNX model, or its metadata is unreadable
 * @throws {UnknownModelLayoutError} naming the shapes when no known layout fits
 */
export function prepareModel(
  bytes: Uint8Array,
  origin: string,
  options: PrepareModelOptions = {},
): PreparedModel {
  if (bytes.length === 0) throw new ModelLoadError(origin, "the file is empty");
  let model: OnnxProto.ModelProto;
  try {
    model = onnx.ModelProto.decode(bytes);
  } catch (err) {
    throw new ModelLoadError(origin, `not an ONNX model (${(err as Error).message})`, {
      cause: err,
    });
  }
  const graph = model.graph;
  if (!graph || !graph.node || graph.node.length === 0 || (graph.output ?? []).length === 0) {
    throw new ModelLoadError(origin, "not an ONNX model (no graph with nodes and outputs)");
  }
  let metadata: UltralyticsMetadata | null;
  try {
    metadata = readUltralyticsMetadata(model);
  } catch (err) {
    if (!(err instanceof ModelMetadataError)) throw err;
    throw new ModelLoadError(origin, err.message, { cause: err });
  }
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ""));
  const outputs = graph.output ?? [];
  const typeName = (t: number) =>
    t === ElementType.FLOAT16 ? " float16" : t === ElementType.UINT8 ? " uint8" : "";
  const shapes = [
    ...inputs.map((i) => {
      const v = readValueInfo(i);
      return `input ${i.name} ${formatDims(v.dims)}${typeName(v.elemType)}`;
    }),
    ...outputs.map((o) => {
      const v = readValueInfo(o);
      return `output ${o.name} ${formatDims(v.dims)}${typeName(v.elemType)}`;
    }),
  ];
  if (inputs.length !== 1) {
    throw new UnknownModelLayoutError(
      origin,
      `expected one image input, found ${inputs.length}`,
      shapes,
    );
  }
  const input = inputs[0]!;
  const inputInfo = readValueInfo(input);
  const dims = inputInfo.dims;
  const floatType = inputInfo.elemType === ElementType.FLOAT ||
    inputInfo.elemType === ElementType.FLOAT16;
  const floatNchw = floatType && dims?.length === 4 && dims[1] === 3;
  const uint8Nhwc = inputInfo.elemType === ElementType.UINT8 && dims?.length === 4 &&
    dims[3] === 3;
  if (!floatNchw && !uint8Nhwc) {
    throw new UnknownModelLayoutError(
      origin,
      "the input is neither float32/float16 [N,3,H,W] nor uint8 [N,H,W,3]",
      shapes,
    );
  }
  const detected = detectLayout(
    outputs.map((o) => ({ name: o.name ?? "", dims: readValueInfo(o).dims })),
    metadata,
  );
  if ("problem" in detected) throw new UnknownModelLayoutError(origin, detected.problem, shapes);
  const { layout } = detected;
  const hDim = floatNchw ? dims![2] : dims![1];
  const wDim = floatNchw ? dims![3] : dims![2];
  const size = resolveInputSize({
    fixed: {
      width: typeof wDim === "number" ? wDim : null,
      height: typeof hDim === "number" ? hDim : null,
    },
    requested: options.inputSize ?? null,
    imgsz: metadata?.imgsz ?? null,
    stride: metadata?.stride ?? 32,
  });
  const batchDim = dims![0];
  const fixedBatch = typeof batchDim === "number" ? batchDim : null;
  const first = readValueInfo(outputs.find((o) => o.name === detected.outputNames[0])!).dims;
  const anchorsDim = layout.family === "yolo-anchors" ? first?.[2] : first?.[1];
  const precision = hasFloat16(graph) ? "float16" : "float32";
  const notes = [...size.notes];
  let inputName = input.name ?? "";
  let inputStage = "uint8 NHWC, as the model takes it";
  if (floatNchw) {
    const elemType = inputInfo.elemType === ElementType.FLOAT16
      ? ElementType.FLOAT16
      : ElementType.FLOAT;
    inputName = prependInputStage(graph, input, {
      elemType,
      channels: layout.input.channels,
      range: layout.input.range,
      batch: fixedBatch ?? "batch",
      height: size.height,
      width: size.width,
    });
    inputStage = `uint8 NHWC -> ${elemType === ElementType.FLOAT16 ? "float16" : "float32"} ` +
      `${layout.input.channels.toUpperCase()} ${layout.input.range} NCHW, in the graph`;
  }
  const outputNames = detected.outputNames.map((name) => {
    const o = outputs.find((v) => v.name === name)!;
    return readValueInfo(o).elemType === ElementType.FLOAT16
      ? appendFloat32Cast(graph, name)
      : name;
  });
  const changed = floatNchw || outputNames.some((n, i) => n !== detected.outputNames[i]);
  return {
    bytes: changed ? onnx.ModelProto.encode(model).finish() : bytes,
    inputName,
    outputNames,
    height: size.height,
    width: size.width,
    inputSizeSource: size.source,
    fixedBatch,
    anchors: typeof anchorsDim === "number" ? anchorsDim : null,
    layout,
    precision,
    inputStagePrepended: floatNchw,
    inputStage,
    metadata,
    notes,
    origin,
  };
}
