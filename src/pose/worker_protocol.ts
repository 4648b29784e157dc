// Messages between the main thread and the inference worker.

import type { LogFormat } from "../log.ts";
import type { PreparedModel } from "./model_prep.ts";
import type { Provider, ProviderChoice } from "./provider.ts";
import type { Person, PoseDecoderOptions } from "./decoder.ts";
import type { Letterbox } from "../sources/frame.ts";

/** How the worker builds its session and decoder. */
export interface WorkerInitOptions {
  provider: ProviderChoice;
  deviceId: number;
  /** The batch shapes, computed on the main thread. */
  shapes: number[];
  intraOpThreads: number;
  logFormat: LogFormat;
  /** The worker decodes the poses: only they cross threads, not the raw output. */
  decoder: PoseDecoderOptions;
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
  /** Memory the frames of later runs may lie in (frame slots, synthetic cycles), by id. */
  | { type: "share"; id: number; buffer: SharedArrayBuffer }
  /** Shared memory `id` is no longer used on the main thread. */
  | { type: "forget"; id: number }
  | {
    type: "run";
    id: number;
    shape: number;
    /**
     * Four numbers per frame: the id of the shared memory it lies in (0: in `buffer`), its
     * byte offset there, its length, and the first model row it holds (-1: the whole input).
     */
    refs: number[];
    /** The pixels of the frames not in shared memory, one after the other (null when none). */
    buffer: ArrayBuffer | null;
    letterboxes: Letterbox[];
  }
  | { type: "release"; id: number };

/** What the inference worker answers. */
export type WorkerReply =
  | { type: "ready"; id: number; provider: Provider }
  | { type: "warmed"; id: number }
  | {
    type: "result";
    id: number;
    /** The poses of each frame. */
    persons: Person[][];
    /** The buffer of frames not in shared memory, handed back for reuse (null when none). */
    input: ArrayBuffer | null;
    shape: number;
    /** Seconds the model run took. */
    seconds: number;
    /** Seconds decoding and NMS took. */
    decodeSeconds: number;
  }
  | { type: "released"; id: number }
  | {
    type: "error";
    id: number;
    name: string;
    message: string;
    /** The error's own fields (e.g. an UnknownModelLayoutError's path and shapes). */
    fields: Record<string, string | string[]>;
    input?: ArrayBuffer | null;
  }
  | { type: "log"; line: string };
