// The live view (--live-view): a page with one tile per stream, its latest picture and poses,
// served by the exporter. Pictures are taken only while a browser watches, at a bounded rate.

import type { Frame } from "../sources/frame.ts";
import type { FrameResult, ResultSink } from "../pipeline/result.ts";
import type { Person } from "../pose/decoder.ts";
import {
  downscaleInto,
  type DownscalePlan,
  planDownscale,
  planKey,
  type Snapshot,
} from "./snapshot.ts";
import { encodeSnapshotPacket, toPacketPersons } from "./snapshot_packet.ts";
import type { FrameTap } from "../pipeline/processor.ts";
import { renderLivePage } from "./page.ts";
import { LIVE_VIEW_CSS } from "./page_style.ts";
import { LIVE_VIEW_SCRIPT } from "./page_script.ts";
import type { StreamSnapshot } from "../streams/stream_snapshot.ts";
import type { StreamKey, StreamListener } from "../streams/running_stream.ts";

/** What a tile shows about a stream besides its picture: the stream's one snapshot. */
export type LiveStreamInfo = StreamSnapshot;

/** Options of {@linkcode LiveView}. */
export interface LiveViewOptions {
  /** The running streams' snapshots; called per page and state request. */
  streams: () => readonly LiveStreamInfo[];
  /**
   * The index of the running stream `id` (a snapshot request, many per second, need not take
   * every stream's snapshot). @default {a look-up in `streams()`}
   */
  indexOf?: (id: string) => number | undefined;
  /** Model input width in pixels (the width of `Frame.pixels`). */
  modelWidth: number;
  /** Model input height in pixels. */
  modelHeight: number;
  /** Keypoints with a confidence below this are not drawn. */
  scoreThreshold: number;
  /** Longest side of a picture in pixels. @default {320} */
  maxSide?: number;
  /** Pictures per second per stream at most. @default {5} */
  maxSnapshotsPerSecond?: number;
  /** A stream counts as watched for this long after a browser asked for its picture. @default {3000} */
  watchTimeoutMs?: number;
  /** Clock in milliseconds. @default {() => performance.now()} */
  now?: () => number;
}

/** Paths the live view answers (with `/`). */
export const LIVE_VIEW_PATHS = {
  page: "/",
  style: "/live/style.css",
  script: "/live/app.js",
  state: "/live/state",
  snapshot: "/live/snapshot",
} as const;

/** A frame's identity, source size and poses: what a picture and a latest result share. */
interface PosedFrame {
  streamId: string;
  seq: number;
  capturedAt: number;
  sourceWidth: number;
  sourceHeight: number;
  persons: readonly Person[];
}

interface Ready extends Snapshot, PosedFrame {
  token: number;
}

interface Slot {
  /** Stream id the slot was watched for; a reused index with another id starts afresh. */
  id: string;
  watchedUntil: number;
  nextDue: number;
  plan: DownscalePlan | null;
  /** Filled by capture, waiting for its frame's poses. */
  pending: Snapshot;
  pendingFrame: Frame | null;
  /** When the pending picture was taken. */
  pendingSince: number;
  /** The latest picture with its own frame's poses. */
  ready: Ready | null;
  /** A buffer to swap with `pending` when it becomes ready. */
  spare: Snapshot;
}

type Latest = PosedFrame;

/** A picture whose poses have not come within this long is given up (its frame was lost). */
const PENDING_TIMEOUT_MS = 5000;

const NO_STORE = { "cache-control": "no-store" };

function emptySnapshot(): Snapshot {
  return { width: 0, height: 0, rgb: new Uint8Array(0) };
}

/**
 * Serves the live view and takes its pictures. As a {@linkcode FrameTap} it copies a small
 * picture of a frame only while a browser has asked for that stream within `watchTimeoutMs`,
 * and at most `maxSnapshotsPerSecond`; as a {@linkcode ResultSink} it pairs each picture
 * with the poses of the same frame, so the skeletons sit on the figures they belong to. As a
 * {@linkcode StreamListener} it forgets a removed stream's picture and poses at once.
 *
 * @example
 * ```ts
 * const view = new LiveView({
 *   streams: () => [],
 *   modelWidth: 640,
 *   modelHeight: 640,
 *   scoreThreshold: 0.25,
 * });
 * const res = await view.handle(new Request("http://x/"));
 * ```
 */
export class LiveView implements ResultSink, FrameTap, StreamListener {
  #streams: () => readonly LiveStreamInfo[];
  #indexOf: (id: string) => number | undefined;
  #model: { width: number; height: number };
  #scoreThreshold: number;
  #maxSide: number;
  #interval: number;
  #watchTimeoutMs: number;
  #now: () => number;
  #slots: (Slot | undefined)[] = [];
  #latest: (Latest | undefined)[] = [];
  #token = 0;
  #closed = false;

  constructor(options: LiveViewOptions) {
    this.#streams = options.streams;
    this.#indexOf = options.indexOf ??
      ((id) => options.streams().find((s) => s.id === id)?.index);
    this.#model = { width: options.modelWidth, height: options.modelHeight };
    this.#scoreThreshold = options.scoreThreshold;
    this.#maxSide = options.maxSide ?? 320;
    const rate = options.maxSnapshotsPerSecond ?? 5;
    if (!(rate > 0)) throw new RangeError(`Cannot bound snapshots at ${rate} per second`);
    if (!(this.#maxSide >= 1)) throw new RangeError(`Cannot make pictures of ${this.#maxSide} px`);
    this.#interval = 1000 / rate;
    this.#watchTimeoutMs = options.watchTimeoutMs ?? 3000;
    this.#now = options.now ?? (() => performance.now());
  }

  /** Whether a browser watches `stream` and its next picture is due. */
  wants(stream: number): boolean {
    const slot = this.#slots[stream];
    if (slot === undefined) return false;
    const now = this.#now();
    // A picture waiting for its poses is not replaced (with a latency above the interval it
    // would never complete), unless its frame was lost on the way.
    return now < slot.watchedUntil && now >= slot.nextDue &&
      (slot.pendingFrame === null || now - slot.pendingSince > PENDING_TIMEOUT_MS);
  }

  /** Copies a downscaled picture of `frame`, letterbox removed, into the stream's buffer. */
  capture(frame: Frame): void {
    const slot = this.#slots[frame.stream];
    if (slot === undefined || this.#closed) return;
    const now = this.#now();
    slot.nextDue = now + this.#interval;
    slot.pendingSince = now;
    // A frame of only the picture's rows (`frame.rows`) is planned as an input of those rows.
    const rows = frame.rows;
    const lb = rows
      ? { ...frame.letterbox, padY: frame.letterbox.padY - rows.top }
      : frame.letterbox;
    const model = rows ? { width: this.#model.width, height: rows.height } : this.#model;
    if (slot.plan === null || slot.plan.key !== planKey(lb, model, this.#maxSide)) {
      slot.plan = planDownscale(lb, model, this.#maxSide);
    }
    downscaleInto(frame.pixels, slot.plan, slot.pending);
    slot.pendingFrame = frame;
  }

  /** Keeps the latest poses per stream, and completes a pending picture with its own poses. */
  write(result: FrameResult): void {
    const frame = result.frame;
    const stream = frame.stream;
    let latest = this.#latest[stream];
    if (latest === undefined) {
      latest = {
        streamId: "",
        seq: 0,
        capturedAt: 0,
        sourceWidth: 0,
        sourceHeight: 0,
        persons: [],
      };
      this.#latest[stream] = latest;
    }
    latest.streamId = result.streamId;
    latest.seq = frame.seq;
    latest.capturedAt = frame.capturedAt;
    latest.sourceWidth = frame.letterbox.sourceWidth;
    latest.sourceHeight = frame.letterbox.sourceHeight;
    latest.persons = result.persons;
    const slot = this.#slots[stream];
    if (slot === undefined || slot.pendingFrame !== frame) return;
    slot.pendingFrame = null;
    if (slot.id !== result.streamId) return;
    const done = slot.pending;
    slot.pending = slot.spare;
    slot.spare = slot.ready ?? emptySnapshot();
    slot.ready = {
      width: done.width,
      height: done.height,
      rgb: done.rgb,
      token: ++this.#token,
      streamId: result.streamId,
      seq: frame.seq,
      capturedAt: frame.capturedAt,
      sourceWidth: frame.letterbox.sourceWidth,
      sourceHeight: frame.letterbox.sourceHeight,
      persons: result.persons,
    };
  }

  streamAdded(_key: StreamKey): void {}

  /** A removed or restarted stream's picture and poses leave at once. */
  streamRemoved(key: StreamKey): void {
    this.forget(key.id);
  }

  /**
   * Drops everything held for stream `streamId`: its picture (ready and pending) and its latest
   * poses. Called for a stream removed or restarted at run time, once it is out of the roster
   * (a restarted stream comes back under a new index). Unknown ids are ignored.
   *
   * @param streamId the id of the stream removed or restarted
   */
  forget(streamId: string): void {
    this.#slots.forEach((slot, i) => {
      if (slot?.id === streamId) this.#slots[i] = undefined;
    });
    this.#latest.forEach((latest, i) => {
      if (latest?.streamId === streamId) this.#latest[i] = undefined;
    });
  }

  /** Stops taking pictures and drops them. */
  close(): Promise<void> {
    this.#closed = true;
    this.#slots = [];
    this.#latest = [];
    return Promise.resolve();
  }

  /**
   * Answers the live view's requests: `GET /` (the page), its style and script, the state
   * of every stream as JSON, and one stream's snapshot packet. Other paths give null.
   *
   * @param request the HTTP request
   * @returns the response, or null for a path the live view does not own
   */
  handle(request: Request): Promise<Response | null> {
    const url = new URL(request.url);
    const path = url.pathname;
    const owned = (Object.values(LIVE_VIEW_PATHS) as string[]).includes(path);
    if (!owned) return Promise.resolve(null);
    if (request.method !== "GET" && request.method !== "HEAD") {
      return Promise.resolve(
        new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } }),
      );
    }
    const response = this.#route(path, url.searchParams);
    return Promise.resolve(
      request.method === "HEAD"
        ? new Response(null, { status: response.status, headers: response.headers })
        : response,
    );
  }

  #route(path: string, params: URLSearchParams): Response {
    switch (path) {
      case LIVE_VIEW_PATHS.page:
        return new Response(
          renderLivePage(this.#streams(), {
            scoreThreshold: this.#scoreThreshold,
            snapshotIntervalMs: this.#interval,
          }),
          { headers: { "content-type": "text/html; charset=utf-8", ...NO_STORE } },
        );
      case LIVE_VIEW_PATHS.style:
        return new Response(LIVE_VIEW_CSS, {
          headers: { "content-type": "text/css; charset=utf-8", ...NO_STORE },
        });
      case LIVE_VIEW_PATHS.script:
        return new Response(LIVE_VIEW_SCRIPT, {
          headers: { "content-type": "text/javascript; charset=utf-8", ...NO_STORE },
        });
      case LIVE_VIEW_PATHS.state:
        return Response.json(this.#state(), { headers: NO_STORE });
      default:
        return this.#snapshot(params.get("stream"), Number(params.get("after") ?? "0"));
    }
  }

  #state(): { streams: LiveStreamInfo[]; scoreThreshold: number; snapshotIntervalMs: number } {
    const streams = this.#streams();
    const round = (v: number | null, f: number) => v === null ? null : Math.round(v * f) / f;
    return {
      streams: streams.map((s) => ({
        ...s,
        fps: round(s.fps, 100) ?? 0,
        p50Ms: round(s.p50Ms, 10),
        p99Ms: round(s.p99Ms, 10),
      })),
      scoreThreshold: this.#scoreThreshold,
      snapshotIntervalMs: this.#interval,
    };
  }

  #snapshot(id: string | null, after: number): Response {
    const index = id === null ? undefined : this.#indexOf(id);
    if (id === null || index === undefined || this.#closed) {
      return new Response("no such stream\n", { status: 404, headers: NO_STORE });
    }
    const now = this.#now();
    let slot = this.#slots[index];
    if (slot === undefined || slot.id !== id) {
      slot = {
        id,
        watchedUntil: 0,
        nextDue: -Infinity,
        plan: null,
        pending: emptySnapshot(),
        pendingFrame: null,
        pendingSince: 0,
        ready: null,
        spare: emptySnapshot(),
      };
      this.#slots[index] = slot;
    }
    slot.watchedUntil = now + this.#watchTimeoutMs;
    const ready = slot.ready;
    if (ready !== null) {
      if (ready.token === after) return new Response(null, { status: 204, headers: NO_STORE });
      return this.#packet(ready, ready.rgb.subarray(0, ready.width * ready.height * 3), now);
    }
    // No picture yet (or no frame tap wired): the latest poses alone, on no picture.
    const latest = this.#latest[index];
    if (latest === undefined || latest.streamId !== id) {
      return new Response(null, { status: 204, headers: NO_STORE });
    }
    return this.#packet(
      { ...latest, width: 0, height: 0, token: -1 - latest.seq },
      new Uint8Array(0),
      now,
    );
  }

  #packet(
    shot: Omit<Ready, "rgb">,
    rgb: Uint8Array,
    now: number,
  ): Response {
    const body = encodeSnapshotPacket({
      token: shot.token,
      stream: shot.streamId,
      seq: shot.seq,
      width: shot.width,
      height: shot.height,
      sourceWidth: shot.sourceWidth,
      sourceHeight: shot.sourceHeight,
      ageMs: Math.round(now - shot.capturedAt),
      persons: toPacketPersons(shot.persons),
    }, rgb);
    return new Response(body, {
      headers: { "content-type": "application/octet-stream", ...NO_STORE },
    });
  }
}
