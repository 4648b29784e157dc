// What the pipeline produces per frame, and the interface of the stages that consume it.

import type { Frame } from "../sources/frame.ts";
import type { Person } from "../pose/decoder.ts";

/** The poses of one frame, with its timing. */
export interface FrameResult {
  frame: Frame;
  /** Stream id of the frame. */
  streamId: string;
  persons: Person[];
  /** `performance.now()` when the poses were decoded. */
  decodedAt: number;
  /** `decodedAt - frame.capturedAt`, in milliseconds. */
  latencyMs: number;
  /** Run id that qualifies the persons' `trackId`s, set by the tracking stage. */
  runId?: string;
  /**
   * The result's JSONL record as JSON (no newline), kept by {@linkcode resultJson} for the next
   * sink that needs it (the results file and MQTT's poses serialise a result once).
   */
  json?: string;
}

/** A consumer of frame results: metrics, a JSONL file. */
export interface ResultSink {
  /** Takes one result; must not block the pipeline. */
  write(result: FrameResult): void;
  /**
   * Writes out whatever is buffered and releases resources; with a `deadline` (resolving when
   * time is up) it gives up then on what is left.
   */
  close(deadline?: Promise<void>): Promise<void>;
}
