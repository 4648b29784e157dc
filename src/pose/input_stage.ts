// Graph edits at the model's edges: the uint8 NHWC input stage in front, float32 casts behind.

import { ElementType, onnx, type OnnxProto } from "./onnx_graph.ts";

/** Prefix of every node and value the edits add. */
export const STAGE_PREFIX = "pose_exporter_pre_";

/** What the prepended input stage turns the frames' RGB bytes into. */
export interface InputStageOptions {
  /** Element type of the model's input: float32 or float16. */
  elemType: typeof ElementType.FLOAT | typeof ElementType.FLOAT16;
  /** Channel order the model takes (the frames are RGB). */
  channels: "rgb" | "bgr";
  /** Value range the model takes: `0..1` divides by 255, `0..255` leaves the values. */
  range: "0..1" | "0..255";
  /** Batch dimension of the new input: a number, or a symbolic name. */
  batch: number | string;
  height: number;
  width: number;
}

function scalar(name: string, elemType: number, value: number): OnnxProto.ITensorProto {
  return elemType === ElementType.FLOAT16
    ? {
      name,
      dims: [],
      dataType: elemType,
      rawData: new Uint8Array(new Float16Array([value]).buffer),
    }
    : { name, dims: [], dataType: elemType, floatData: [value] };
}

const INT = onnx.AttributeProto.AttributeType.INT;
const INTS = onnx.AttributeProto.AttributeType.INTS;

/**
 * Replaces the graph's image input by a uint8 NHWC input of the frames' bytes, followed by the
 * nodes that make what the model takes: [Gather BGR ->] Cast -> [Div 255 ->] Transpose to NCHW.
 * The pixels are never touched in JavaScript.
 *
 * @param graph the graph to edit, in place
 * @param input the image input to replace
 * @param options what the model takes
 * @returns the name of the new input
 */
export function prependInputStage(
  graph: OnnxProto.IGraphProto,
  input: OnnxProto.IValueInfoProto,
  options: InputStageOptions,
): string {
  const originalName = input.name ?? "";
  const newName = `${originalName}_uint8_nhwc`;
  const P = STAGE_PREFIX;
  const nodes: OnnxProto.INodeProto[] = [];
  const initializers: OnnxProto.ITensorProto[] = [];
  let current = newName;
  if (options.channels === "bgr") {
    nodes.push({
      opType: "Gather",
      name: `${P}bgr`,
      input: [current, `${P}bgr_order`],
      output: [`${P}bgr`],
      attribute: [{ name: "axis", type: INT, i: 3 }],
    });
    initializers.push({
      name: `${P}bgr_order`,
      dims: [3],
      dataType: ElementType.INT64,
      int64Data: [2, 1, 0],
    });
    current = `${P}bgr`;
  }
  nodes.push({
    opType: "Cast",
    name: `${P}cast`,
    input: [current],
    output: [`${P}float`],
    attribute: [{ name: "to", type: INT, i: options.elemType }],
  });
  current = `${P}float`;
  if (options.range === "0..1") {
    nodes.push({
      opType: "Div",
      name: `${P}scale`,
      input: [current, `${P}255`],
      output: [`${P}scaled`],
    });
    initializers.push(scalar(`${P}255`, options.elemType, 255));
    current = `${P}scaled`;
  }
  nodes.push({
    opType: "Transpose",
    name: `${P}nchw`,
    input: [current],
    output: [originalName],
    attribute: [{ name: "perm", type: INTS, ints: [0, 3, 1, 2] }],
  });
  graph.node = [...nodes.map((n) => onnx.NodeProto.create(n)), ...(graph.node ?? [])];
  graph.initializer = [
    ...(graph.initializer ?? []),
    ...initializers.map((t) => onnx.TensorProto.create(t)),
  ];
  const dim = [options.batch, options.height, options.width, 3].map((d) =>
    typeof d === "number" ? { dimValue: d } : { dimParam: d }
  );
  graph.input = [
    ...(graph.input ?? []).filter((i) => i !== input),
    onnx.ValueInfoProto.create({
      name: newName,
      type: { tensorType: { elemType: ElementType.UINT8, shape: { dim } } },
    }),
  ];
  return newName;
}

/**
 * Makes a float16 graph output float32: a Cast node after it and the graph output renamed, so
 * ONNX Runtime hands JavaScript float32 values (no per-element conversion there).
 *
 * @param graph the graph to edit, in place
 * @param name the output to cast
 * @returns the name of the float32 output
 */
export function appendFloat32Cast(graph: OnnxProto.IGraphProto, name: string): string {
  const output = (graph.output ?? []).find((o) => o.name === name);
  if (!output) throw new Error(`Cannot cast output ${name}: the graph has no such output`);
  const newName = `${name}_float32`;
  graph.node = [
    ...(graph.node ?? []),
    onnx.NodeProto.create({
      opType: "Cast",
      name: `${STAGE_PREFIX}${name}_float32`,
      input: [name],
      output: [newName],
      attribute: [{ name: "to", type: INT, i: ElementType.FLOAT }],
    }),
  ];
  graph.output = (graph.output ?? []).map((o) =>
    o === output
      ? onnx.ValueInfoProto.create({
        name: newName,
        type: {
          tensorType: {
            elemType: ElementType.FLOAT,
            shape: output.type?.tensorType?.shape ?? undefined,
          },
        },
      })
      : o
  );
  return newName;
}
