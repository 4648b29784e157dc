// Float16 models: whether a graph has float16 parts, and the same graph in float32 for the CPU provider.
//
// ONNX Runtime's CPU provider has float16 kernels for few operators; for the others it inserts a
// Cast to float32 and back around each node (1.29 does not refuse such a model). Converting the
// graph once at load runs every node in float32 whatever kernels a build has; on x86-64 it gave
// the same speed and the same outputs as ONNX Runtime's own casts (docs/measurements.md). The
// conversion touches the weights once, at load; no per-frame value is converted in JavaScript.

import { ElementType, onnx, type OnnxProto } from "./onnx_graph.ts";

const F16 = ElementType.FLOAT16;
const F32 = ElementType.FLOAT;

function graphsOf(node: OnnxProto.INodeProto): OnnxProto.IGraphProto[] {
  const out: OnnxProto.IGraphProto[] = [];
  for (const a of node.attribute ?? []) {
    if (a.g) out.push(a.g);
    for (const g of a.graphs ?? []) out.push(g);
  }
  return out;
}

function valueInfos(graph: OnnxProto.IGraphProto): OnnxProto.IValueInfoProto[] {
  return [...(graph.input ?? []), ...(graph.output ?? []), ...(graph.valueInfo ?? [])];
}

/**
 * Whether a graph holds float16 values: inputs, outputs, weights, casts to float16 or constants.
 *
 * @param graph the graph
 * @returns true when some part of it is float16
 */
export function hasFloat16(graph: OnnxProto.IGraphProto): boolean {
  if (valueInfos(graph).some((v) => v.type?.tensorType?.elemType === F16)) return true;
  if ((graph.initializer ?? []).some((t) => t.dataType === F16)) return true;
  for (const n of graph.node ?? []) {
    for (const a of n.attribute ?? []) {
      if ((a.name === "to" || a.name === "dtype") && Number(a.i) === F16) return true;
      if (a.t?.dataType === F16 || (a.tensors ?? []).some((t) => t.dataType === F16)) return true;
    }
    if (graphsOf(n).some(hasFloat16)) return true;
  }
  return false;
}

/** A float16 tensor's values as float32 (raw little-endian bytes, or one value per int32). */
function toFloat32Tensor(t: OnnxProto.ITensorProto): OnnxProto.ITensorProto {
  let half: Float16Array;
  if (t.rawData && t.rawData.length > 0) {
    const copy = new Uint8Array(t.rawData); // aligned
    half = new Float16Array(copy.buffer, 0, copy.length / 2);
  } else {
    half = new Float16Array(new Uint16Array((t.int32Data ?? []).map(Number)).buffer);
  }
  const floats = Float32Array.from(half);
  return onnx.TensorProto.create({
    ...t,
    dataType: F32,
    int32Data: [],
    rawData: new Uint8Array(floats.buffer),
  });
}

function convertGraph(graph: OnnxProto.IGraphProto): void {
  for (const v of valueInfos(graph)) {
    const tt = v.type?.tensorType;
    if (tt && tt.elemType === F16) tt.elemType = F32;
  }
  graph.initializer = (graph.initializer ?? []).map((t) =>
    t.dataType === F16 ? toFloat32Tensor(t) : t
  );
  for (const n of graph.node ?? []) {
    for (const a of n.attribute ?? []) {
      if ((a.name === "to" || a.name === "dtype") && Number(a.i) === F16) a.i = F32;
      if (a.t && a.t.dataType === F16) a.t = toFloat32Tensor(a.t);
      if (a.tensors) {
        a.tensors = a.tensors.map((t) => (t.dataType === F16 ? toFloat32Tensor(t) : t));
      }
    }
    for (const g of graphsOf(n)) convertGraph(g);
  }
}

/**
 * The same model with every float16 value, weight and cast made float32 (for ONNX Runtime's
 * CPU provider). A float32 model comes back unchanged.
 *
 * @param bytes the ONNX model
 * @returns the float32 model
 */
export function convertToFloat32(bytes: Uint8Array): Uint8Array {
  const model = onnx.ModelProto.decode(bytes);
  if (!model.graph || !hasFloat16(model.graph)) return bytes;
  convertGraph(model.graph);
  return onnx.ModelProto.encode(model).finish();
}
