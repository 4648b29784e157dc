// Messages between the main thread and the inference worker.

import type { LogFormat } from "../log.ts";
import type { PreparedModel } from "./model_prep.ts";
import type { ProviderChoice } from "../config.ts";
import type { Person, PoseDecoderOptions } from "./decoder.ts";
import type { Letterbox } from "./frame.ts";

/** How the worker builds its session and decoder. */
export interface WorkerInitOptions {
  provider: ProviderChoice;
  deviceId: number;
  maxBatch: number;
  intraOpThreads: number;
  logFormat: LogFormat;
  /** When set, the worker decodes the poses and sends them instead of the raw output. */
  decoder: PoseDecoderOptions | null;
}

/** What the main thread asks the inference worker. */
export type WorkerRequest =
  | {
    type: "init";
    id: number;
    model: PreparedModel;
    options: WorkerInitOptions;
  }
  | { type: "warm"; id: number; shape: number }
  | { type: "run"; id: number; shape: number; buffer: ArrayBuffer; letterboxes: Letterbox[] }
  | { type: "release"; id: number };

/** What the inference worker answers. */
export type WorkerReply =
  | { type: "ready"; id: number; provider: "cuda" | "cpu"; shapes: number[] }
  | { type: "warmed"; id: number }
  | {
    type: "result";
    id: number;
    /** The raw output, or an empty buffer when the worker decoded it. */
    output: ArrayBuffer;
    /** The poses of each frame, when the worker decodes. */
    persons: Person[][] | null;
    input: ArrayBuffer;
    anchors: number;
    shape: number;
    seconds: number;
  }
  | { type: "released"; id: number }
  | { type: "error"; id: number; name: string; message: string; input?: ArrayBuffer }
  | { type: "log"; line: string };
