// Small helpers to build and inspect ONNX protobufs with npm:onnx-proto.

import onnxProto from "onnx-proto";
import type { onnx as OnnxProto } from "onnx-proto";

/** The onnx protobuf types, for type positions: `OnnxProto.ModelProto`. */
export type { OnnxProto };

/** The onnx protobuf classes (ModelProto, GraphProto, ...). */
export const onnx: typeof OnnxProto = onnxProto.onnx;

/** ONNX element type numbers used here. */
export const ElementType = {
  FLOAT: onnx.TensorProto.DataType.FLOAT,
  FLOAT16: onnx.TensorProto.DataType.FLOAT16,
  UINT8: onnx.TensorProto.DataType.UINT8,
  INT64: onnx.TensorProto.DataType.INT64,
} as const;

/** A dimension: a fixed size, or a symbolic name for a dynamic one. */
export type Dim = number | string;

/** Opset of the graphs built here; ONNX Runtime 1.29 runs it. */
export const BUILD_OPSET = 13;

/** A value description of a graph input or output. */
export function tensorValueInfo(
  name: string,
  elemType: number,
  dims: readonly Dim[],
): OnnxProto.IValueInfoProto {
  return {
    name,
    type: {
      tensorType: {
        elemType,
        shape: {
          dim: dims.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })),
        },
      },
    },
  };
}

/** A float32 initializer. */
export function floatTensor(
  name: string,
  dims: readonly number[],
  values: ArrayLike<number>,
): OnnxProto.ITensorProto {
  return { name, dims: [...dims], dataType: ElementType.FLOAT, floatData: Array.from(values) };
}

/** A float16 initializer (values rounded to float16, stored as raw little-endian bytes). */
export function float16Tensor(
  name: string,
  dims: readonly number[],
  values: ArrayLike<number>,
): OnnxProto.ITensorProto {
  const half = Float16Array.from(values as ArrayLike<number>);
  return {
    name,
    dims: [...dims],
    dataType: ElementType.FLOAT16,
    rawData: new Uint8Array(half.buffer),
  };
}

/** An int64 initializer. */
export function int64Tensor(
  name: string,
  dims: readonly number[],
  values: readonly number[],
): OnnxProto.ITensorProto {
  return { name, dims: [...dims], dataType: ElementType.INT64, int64Data: [...values] };
}

/** Attribute values accepted by {@linkcode node}. */
export type AttributeValue = number | number[] | string;

/** A graph node; integer attributes are written as ints, other numbers as floats. */
export function node(
  opType: string,
  inputs: string[],
  outputs: string[],
  attributes: Record<string, AttributeValue> = {},
): OnnxProto.INodeProto {
  const attribute: OnnxProto.IAttributeProto[] = Object.entries(attributes).map(([name, value]) => {
    const A = onnx.AttributeProto.AttributeType;
    if (typeof value === "string") {
      return { name, type: A.STRING, s: new TextEncoder().encode(value) };
    }
    if (Array.isArray(value)) return { name, type: A.INTS, ints: value };
    if (Number.isInteger(value)) return { name, type: A.INT, i: value };
    return { name, type: A.FLOAT, f: value };
  });
  return { opType, input: inputs, output: outputs, name: `${opType}_${outputs[0]}`, attribute };
}

/** Options of {@linkcode encodeModel}. */
export interface EncodeModelOptions {
  nodes: OnnxProto.INodeProto[];
  inputs: OnnxProto.IValueInfoProto[];
  outputs: OnnxProto.IValueInfoProto[];
  initializers?: OnnxProto.ITensorProto[];
  /** Graph name. @default {"graph"} */
  name?: string;
  /** `metadata_props` entries, as Ultralytics writes its metadata. @default {{}} */
  metadata?: Readonly<Record<string, string>>;
}

/** Serialises a one-graph model at {@linkcode BUILD_OPSET}. */
export function encodeModel(options: EncodeModelOptions): Uint8Array {
  const model = onnx.ModelProto.create({
    irVersion: 7,
    producerName: "pose-exporter",
    opsetImport: [{ domain: "", version: BUILD_OPSET }],
    graph: {
      name: options.name ?? "graph",
      node: options.nodes,
      input: options.inputs,
      output: options.outputs,
      initializer: options.initializers ?? [],
    },
    metadataProps: Object.entries(options.metadata ?? {}).map(([key, value]) => ({ key, value })),
  });
  return onnx.ModelProto.encode(model).finish();
}

/** A dimension read back from a model: a number, a symbolic name, or null when absent. */
export type ReadDim = number | string | null;

/** Reads a value's element type and dimensions. */
export function readValueInfo(
  info: OnnxProto.IValueInfoProto,
): { elemType: number; dims: ReadDim[] | null } {
  const tensorType = info.type?.tensorType;
  const elemType = tensorType?.elemType ?? 0;
  const dims = tensorType?.shape?.dim?.map((d): ReadDim => {
    if (d.dimValue !== null && d.dimValue !== undefined) {
      const v = typeof d.dimValue === "number" ? d.dimValue : d.dimValue.toNumber();
      if (v > 0) return v;
    }
    return d.dimParam ? d.dimParam : null;
  }) ?? null;
  return { elemType, dims };
}

/** Renders dimensions as `[1,56,8400]`, dynamic ones by name or `?`. */
export function formatDims(dims: readonly ReadDim[] | null): string {
  return dims ? `[${dims.map((d) => d ?? "?").join(",")}]` : "[unknown rank]";
}
