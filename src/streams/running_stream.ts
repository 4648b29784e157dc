// One running stream as the roster keeps it, and the interface through which the other parts
// learn of streams coming and going.

import type { DecoderChoice } from "../sources/nvdec_probe.ts";
import type { FrameSource } from "../sources/frame.ts";
import type { SourceSpec } from "../sources/source_uri.ts";
import type { StreamLifecycle } from "../sources/stream_lifecycle.ts";

/** A stream's index and id: what every per-stream table is keyed by. */
export interface StreamKey {
  /** Its index: `Frame.stream`, and its series in the metrics. Never reused in a run. */
  readonly index: number;
  /** Its id, the `stream_id` label. */
  readonly id: string;
}

/** One running stream: its row in the roster's one table. */
export interface RunningStream extends StreamKey {
  readonly spec: SourceSpec;
  readonly lifecycle: StreamLifecycle;
  /** Where its video is decoded, and why. */
  readonly decoder: DecoderChoice;
  readonly source: FrameSource;
}

/**
 * What learns of each stream the roster adds or removes: the metrics (its series), the pipeline
 * (its queue) and the live view (its picture). A restart is a removal and an addition under a
 * new index.
 */
export interface StreamListener {
  /** Stream `key` was added; its source starts right after every listener has seen it. */
  streamAdded(key: StreamKey): void;
  /** Stream `key` was removed: its source has stopped, and it is no longer in the roster. */
  streamRemoved(key: StreamKey): void;
}

/** What a change of the roster did, stream by stream. */
export interface StreamChanges {
  added: string[];
  removed: string[];
  restarted: string[];
  unchanged: string[];
}
