// The metadata Ultralytics writes into an exported ONNX file (`metadata_props`), read as its AutoBackend reads it.

import type { OnnxProto } from "./onnx_graph.ts";
import { parsePythonLiteral, type PythonValue } from "./python_literal.ts";

/** What an Ultralytics export says about itself; fields it did not write are null. */
export interface UltralyticsMetadata {
  /** `task`: `pose`, `detect`, `segment`, ... */
  task: string | null;
  /** `kpt_shape`: keypoints per person and values per keypoint (2: x, y; 3: x, y, visibility). */
  kptShape: [number, 2 | 3] | null;
  /** `imgsz` as Ultralytics writes it: [height, width]. */
  imgsz: [number, number] | null;
  /** `names`: the class names by index. */
  names: string[] | null;
  /** `kpt_names` of the first class, when the export has them. */
  keypointNames: string[] | null;
  /** `stride`: the largest stride, which input sizes are multiples of. */
  stride: number | null;
  /** `batch`: the batch size it was exported at. */
  batch: number | null;
  /** `end2end`, or `args.nms`: the output rows are final detections (AutoBackend treats both alike). */
  end2end: boolean;
  /** `args.nms`: NMS was exported into the graph. */
  nms: boolean;
  /** `args.half`: float16 export. */
  half: boolean;
  /** `args.dynamic`: batch, height and width were exported dynamic. */
  dynamic: boolean;
  /** Ultralytics' version that exported it (`version`). */
  version: string | null;
  /** `description`, e.g. "Ultralytics YOLO11n-pose model trained on coco-pose.yaml". */
  description: string | null;
}

/** Thrown when a metadata value Ultralytics writes is there but cannot be read; names key and value. */
export class ModelMetadataError extends Error {
  readonly key: string;

  constructor(key: string, value: string, reason: string, options?: ErrorOptions) {
    super(`its metadata ${key} is ${JSON.stringify(value)}: ${reason}`, options);
    this.name = "ModelMetadataError";
    this.key = key;
  }
}

function literal(key: string, text: string): PythonValue {
  try {
    return parsePythonLiteral(text);
  } catch (err) {
    throw new ModelMetadataError(key, text, (err as Error).message, { cause: err });
  }
}

function positiveInt(key: string, text: string): number {
  const v = literal(key, text);
  if (typeof v !== "number" || !Number.isInteger(v) || v <= 0) {
    throw new ModelMetadataError(key, text, "not a positive integer");
  }
  return v;
}

function bool(key: string, text: string): boolean {
  const v = literal(key, text);
  if (typeof v !== "boolean") throw new ModelMetadataError(key, text, "not True or False");
  return v;
}

/** `{0: 'person'}` or `['person']` as names by index (AutoBackend's check_class_names). */
function classNames(key: string, text: string): string[] {
  const v = literal(key, text);
  if (Array.isArray(v)) return v.map(String);
  if (!(v instanceof Map) || v.size === 0) {
    throw new ModelMetadataError(key, text, "not a dict of class names");
  }
  const names: string[] = [];
  for (const [k, name] of v) {
    const index = typeof k === "string" ? Number(k) : k;
    if (typeof index !== "number" || !Number.isInteger(index) || index < 0 || index >= v.size) {
      throw new ModelMetadataError(
        key,
        text,
        `class index ${String(k)} is not within 0..${v.size - 1}`,
      );
    }
    names[index] = String(name);
  }
  return names;
}

/**
 * Reads Ultralytics' metadata from a model: null when the model has none (no `task`, `names`,
 * `kpt_shape` nor `imgsz` entry, as for models from other tools).
 *
 * @param model the decoded ONNX model
 * @returns the metadata, or null
 * @throws {ModelMetadataError} when an entry is present but is not what Ultralytics writes
 */
export function readUltralyticsMetadata(model: OnnxProto.IModelProto): UltralyticsMetadata | null {
  const props = new Map<string, string>();
  for (const p of model.metadataProps ?? []) {
    if (p.key) props.set(p.key, p.value ?? "");
  }
  if (!["task", "names", "kpt_shape", "imgsz"].some((k) => props.has(k))) return null;
  const get = (key: string) => props.get(key) ?? null;
  const args = get("args");
  const argsMap = args === null ? new Map() : literal("args", args);
  if (!(argsMap instanceof Map)) throw new ModelMetadataError("args", args ?? "", "not a dict");
  const argBool = (name: string) => argsMap.get(name) === true;

  let kptShape: UltralyticsMetadata["kptShape"] = null;
  const kpt = get("kpt_shape");
  if (kpt !== null) {
    const v = literal("kpt_shape", kpt);
    const [k, d] = Array.isArray(v) ? v : [];
    if (
      !Array.isArray(v) || v.length !== 2 || typeof k !== "number" || !Number.isInteger(k) ||
      k <= 0 || (d !== 2 && d !== 3)
    ) {
      throw new ModelMetadataError("kpt_shape", kpt, "not [K, 2] or [K, 3] with K keypoints");
    }
    kptShape = [k, d];
  }
  let imgsz: [number, number] | null = null;
  const size = get("imgsz");
  if (size !== null) {
    const v = literal("imgsz", size);
    const sides = typeof v === "number" ? [v, v] : v;
    if (
      !Array.isArray(sides) || sides.length !== 2 ||
      !sides.every((s) => typeof s === "number" && Number.isInteger(s) && s > 0)
    ) {
      throw new ModelMetadataError("imgsz", size, "not [height, width]");
    }
    imgsz = [sides[0] as number, sides[1] as number];
  }
  let keypointNames: string[] | null = null;
  const kptNames = get("kpt_names");
  if (kptNames !== null) {
    const v = literal("kpt_names", kptNames);
    const first = v instanceof Map ? (v.get(0) ?? v.values().next().value) : v;
    if (Array.isArray(first)) keypointNames = first.map(String);
  }
  const end2end = get("end2end");
  const nms = argBool("nms");
  const task = get("task");
  return {
    task: task === null ? null : task.trim(),
    kptShape,
    imgsz,
    names: get("names") === null ? null : classNames("names", get("names")!),
    keypointNames,
    stride: get("stride") === null ? null : positiveInt("stride", get("stride")!),
    batch: get("batch") === null ? null : positiveInt("batch", get("batch")!),
    end2end: (end2end !== null && bool("end2end", end2end)) || nms,
    nms,
    half: argBool("half"),
    dynamic: argBool("dynamic"),
    version: get("version"),
    description: get("description"),
  };
}
