// The sources' slice of the configuration: where the streams come from and how they are read.

import type { DecodeChoice } from "./decode.ts";
import type { SourceArg, SourceSpec } from "./source_uri.ts";

/** Where the streams come from and how they are read. Durations in milliseconds. */
export interface SourcesConfig {
  /** Sources given by --source and --streams. */
  sources: SourceSpec[];
  /** The `[ID=]URI` texts behind `sources`, to combine with a sources file's lines. */
  sourceArgs: SourceArg[];
  /** A file of sources (one `[ID=]URI` per line), re-read on reload; null for none. */
  sourcesFile: string | null;
  /** File sources restart at their end. */
  loop: boolean;
  /** File sources play at their own frame rate, like a camera. */
  realtime: boolean;
  ffmpegPath: string;
  ffprobePath: string;
  decode: DecodeChoice;
  /** The GPU that NVDEC decodes on, as nvidia-smi numbers it. */
  deviceId: number;
  /** A stream with no frame for this long is restarted. */
  stallTimeoutMs: number;
  /** Longest wait between restarts of a failed stream. */
  retryMaxMs: number;
}
