// Loads an ONNX pose model, checks its layout and prepends the uint8 NHWC -> float NCHW input stage.

import {
  ElementType,
  formatDims,
  onnx,
  type OnnxProto,
  type ReadDim,
  readValueInfo,
} from "./onnx_graph.ts";

/** Number of values per anchor in the YOLOv8/YOLO11-pose output: 4 box, 1 score, 17 x (x, y, v). */
export const POSE_CHANNELS = 56;

/** COCO keypoints per person. */
export const KEYPOINTS = 17;

/** A model ready for ONNX Runtime, with what the pipeline needs to know of it. */
export interface PreparedModel {
  /** The model bytes, with the input stage prepended when it was needed. */
  bytes: Uint8Array;
  /** Name of the uint8 NHWC input fed by the pipeline. */
  inputName: string;
  /** Name of the pose output. */
  outputName: string;
  /** Input height in pixels. */
  height: number;
  /** Input width in pixels. */
  width: number;
  /** The batch size the model is fixed at, or null when its batch dimension is dynamic. */
  fixedBatch: number | null;
  /** Anchors in the output when the model declares them, else null (known after a run). */
  anchors: number | null;
  /** Whether the cast/scale/transpose stage was prepended (false when the model already takes uint8 NHWC). */
  inputStagePrepended: boolean;
  /** Where the model came from (its path, or "built-in demo model"), set once, for messages. */
  origin: string;
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

/** Thrown when a model's inputs or outputs match no known pose layout; names the shapes seen. */
export class UnknownModelLayoutError extends Error {
  readonly path: string;
  /** Shapes of the model's inputs and outputs, e.g. `images [1,3,640,640]`. */
  readonly shapes: string[];

  constructor(path: string, problem: string, shapes: string[]) {
    super(
      `Unknown model layout in ${path}: ${problem}; saw ${shapes.join(", ")}; ` +
        `expected a YOLOv8/YOLO11-pose model: input [N,3,H,W] float, output [N,${POSE_CHANNELS},anchors]`,
    );
    this.name = "UnknownModelLayoutError";
    this.path = path;
    this.shapes = shapes;
  }
}

const PREFIX = "pose_exporter_pre_";

/**
 * Reads a model file and prepares it with {@linkcode prepareModel}.
 *
 * @throws {ModelLoadError} when the file is missing, unreadable or not ONNX
 * @throws {UnknownModelLayoutError} when its shapes are not a pose model's
 */
export async function loadModelFile(path: string): Promise<PreparedModel> {
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
  return prepareModel(bytes, path);
}

function dimsEqual(dims: ReadDim[] | null, rank: number): dims is ReadDim[] {
  return dims !== null && dims.length === rank;
}

/**
 * Checks a model's layout and, for a float NCHW input, prepends Cast -> Div(255) ->
 * Transpose so the pipeline feeds the frames' bytes as a uint8 NHWC tensor.
 *
 * @param bytes the ONNX model
 * @param origin the file name (or "built-in demo model") for messages
 */
export function prepareModel(bytes: Uint8Array, origin: string): PreparedModel {
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
  const initializers = new Set((graph.initializer ?? []).map((t) => t.name));
  const inputs = (graph.input ?? []).filter((i) => !initializers.has(i.name ?? ""));
  const outputs = graph.output ?? [];
  const shapes = [
    ...inputs.map((i) => `input ${i.name} ${formatDims(readValueInfo(i).dims)}`),
    ...outputs.map((o) => `output ${o.name} ${formatDims(readValueInfo(o).dims)}`),
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
  const floatNchw = inputInfo.elemType === ElementType.FLOAT && dimsEqual(inputInfo.dims, 4) &&
    inputInfo.dims[1] === 3;
  const uint8Nhwc = inputInfo.elemType === ElementType.UINT8 && dimsEqual(inputInfo.dims, 4) &&
    inputInfo.dims[3] === 3;
  if (!floatNchw && !uint8Nhwc) {
    throw new UnknownModelLayoutError(
      origin,
      "the input is neither float [N,3,H,W] nor uint8 [N,H,W,3]",
      shapes,
    );
  }
  const dims = inputInfo.dims!;
  const height = floatNchw ? dims[2] : dims[1];
  const width = floatNchw ? dims[3] : dims[2];
  if (typeof height !== "number" || typeof width !== "number") {
    throw new UnknownModelLayoutError(
      origin,
      "the input's height and width must be fixed numbers",
      shapes,
    );
  }
  const output = outputs.find((o) => {
    const d = readValueInfo(o).dims;
    return d === null ||
      (d.length === 3 && (d[1] === POSE_CHANNELS || d[1] === null || typeof d[1] === "string"));
  });
  if (!output) {
    throw new UnknownModelLayoutError(
      origin,
      `no output of shape [N,${POSE_CHANNELS},anchors]`,
      shapes,
    );
  }
  const outDims = readValueInfo(output).dims;
  const batchDim = dims[0];
  const fixedBatch = typeof batchDim === "number" ? batchDim : null;
  const anchors = outDims && typeof outDims[2] === "number" ? outDims[2] : null;
  if (uint8Nhwc) {
    return {
      bytes,
      inputName: input.name ?? "",
      outputName: output.name ?? "",
      height,
      width,
      fixedBatch,
      anchors,
      inputStagePrepended: false,
      origin,
    };
  }
  const originalName = input.name ?? "";
  const newName = `${originalName}_uint8_nhwc`;
  const stage: OnnxProto.INodeProto[] = [
    {
      opType: "Cast",
      name: `${PREFIX}cast`,
      input: [newName],
      output: [`${PREFIX}float`],
      attribute: [castTo()],
    },
    {
      opType: "Div",
      name: `${PREFIX}scale`,
      input: [`${PREFIX}float`, `${PREFIX}255`],
      output: [`${PREFIX}scaled`],
    },
    {
      opType: "Transpose",
      name: `${PREFIX}nchw`,
      input: [`${PREFIX}scaled`],
      output: [originalName],
      attribute: [{
        name: "perm",
        type: onnx.AttributeProto.AttributeType.INTS,
        ints: [0, 3, 1, 2],
      }],
    },
  ];
  graph.node = [...stage.map((n) => onnx.NodeProto.create(n)), ...graph.node];
  graph.initializer = [
    ...(graph.initializer ?? []),
    onnx.TensorProto.create({
      name: `${PREFIX}255`,
      dims: [],
      dataType: ElementType.FLOAT,
      floatData: [255],
    }),
  ];
  const batch = batchDim === null || batchDim === undefined ? "batch" : batchDim;
  graph.input = [
    ...(graph.input ?? []).filter((i) => i !== input),
    onnx.ValueInfoProto.create({
      name: newName,
      type: {
        tensorType: {
          elemType: ElementType.UINT8,
          shape: {
            dim: [batch, height, width, 3].map((
              d,
            ) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
          },
        },
      },
    }),
  ];
  return {
    bytes: onnx.ModelProto.encode(model).finish(),
    inputName: newName,
    outputName: output.name ?? "",
    height,
    width,
    fixedBatch,
    anchors,
    inputStagePrepended: true,
    origin,
  };
}

function castTo(): OnnxProto.IAttributeProto {
  return { name: "to", type: onnx.AttributeProto.AttributeType.INT, i: ElementType.FLOAT };
}
