// What the tracking stage tells the rest of the exporter: tracks of a stream that started or
// ended. The results (JSONL, live view, MQTT) read each person's `trackId`; the events go to
// listeners such as the MQTT publisher.

import type { TrackEndedEvent, TrackStartedEvent } from "./byte_tracker.ts";

/**
 * The tracks of one stream that started or ended in one tracker update: a frame's, or the
 * `endAll` of a removed stream or of the stop. Times are frame times in milliseconds on the
 * `performance.now()` clock (a frame's `capturedAt`); `performance.timeOrigin + ms` is the wall
 * clock. The arrays are the listener's to keep (copies, not the tracker's reused buffers).
 */
export interface StreamTrackEvents {
  /** Index of the stream in the roster. */
  stream: number;
  /** Stream id (label value). */
  streamId: string;
  /** Run id that qualifies this stream tracker's ids. */
  runId: string;
  started: readonly TrackStartedEvent[];
  ended: readonly TrackEndedEvent[];
  /** Confirmed tracks of the stream still active after this update. */
  active: number;
}

/** Takes track events; called on the event loop, in frame order per stream; must not block. */
export interface TrackEventListener {
  /** Tracks of `events.stream` started or ended (called only when at least one did). */
  tracksChanged(events: StreamTrackEvents): void;
}
