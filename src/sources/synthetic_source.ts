// A frame source without ffmpeg: moving bright figures on a dark ground, rendered once and cycled.

import {
  computeLetterbox,
  type Frame,
  type FrameSink,
  type FrameSource,
  type Letterbox,
} from "./frame.ts";
import type { StreamLifecycle } from "./stream_lifecycle.ts";

/** Frames rendered per cycle. */
export const SYNTHETIC_CYCLE_FRAMES = 24;

/** Options of {@linkcode SyntheticSource}. */
export interface SyntheticSourceOptions {
  /** Stream id. */
  id: string;
  /** Index of the stream in the configuration. */
  stream: number;
  /** Simulated camera size in pixels. */
  sourceWidth: number;
  sourceHeight: number;
  /** Model input size in pixels. */
  width: number;
  height: number;
  /** Frames per second; 0 pushes a frame whenever the stream's queue has room. */
  fps: number;
  /** A burst at the start: `seconds` at `fps`, then `fps` above. @default {null} */
  burst?: { seconds: number; fps: number } | null;
  /** Reports the stream up once started. */
  lifecycle?: StreamLifecycle;
}

interface RenderedCycle {
  frames: Uint8Array[];
  letterbox: Letterbox;
}

const cycles = new Map<string, RenderedCycle>();

function fillRect(
  pixels: Uint8Array,
  imageWidth: number,
  rect: { x: number; y: number; width: number; height: number },
  rgb: readonly [number, number, number],
): void {
  const x0 = Math.max(0, Math.round(rect.x));
  const x1 = Math.min(imageWidth, Math.round(rect.x + rect.width));
  if (x1 <= x0) return;
  const row = new Uint8Array((x1 - x0) * 3);
  for (let i = 0; i < row.length; i += 3) row.set(rgb, i);
  const y0 = Math.max(0, Math.round(rect.y));
  const y1 = Math.min(pixels.length / (imageWidth * 3), Math.round(rect.y + rect.height));
  for (let y = y0; y < y1; y++) pixels.set(row, (y * imageWidth + x0) * 3);
}

/**
 * Renders (once per geometry, shared by all streams of that geometry) a cycle of frames:
 * gray 114 letterbox padding, a dark scene and two bright figures walking across it. The
 * frames lie in one `SharedArrayBuffer`, which the inference worker reads directly.
 */
export function renderSyntheticCycle(
  source: { width: number; height: number },
  target: { width: number; height: number },
): RenderedCycle {
  const key = `${source.width}x${source.height}->${target.width}x${target.height}`;
  const cached = cycles.get(key);
  if (cached) return cached;
  const letterbox = computeLetterbox(source, target);
  const scaledWidth = Math.round(source.width * letterbox.scale);
  const scaledHeight = Math.round(source.height * letterbox.scale);
  const frames: Uint8Array[] = [];
  const frameBytes = target.width * target.height * 3;
  // Shared memory: the inference worker reads the frames where they are (no copy per frame).
  const memory = new SharedArrayBuffer(frameBytes * SYNTHETIC_CYCLE_FRAMES);
  for (let f = 0; f < SYNTHETIC_CYCLE_FRAMES; f++) {
    const pixels = new Uint8Array(memory, f * frameBytes, frameBytes).fill(114);
    const scene = {
      x: letterbox.padX,
      y: letterbox.padY,
      width: scaledWidth,
      height: scaledHeight,
    };
    fillRect(pixels, target.width, scene, [28, 30, 38]);
    const t = f / SYNTHETIC_CYCLE_FRAMES;
    const figureWidth = scaledHeight * 0.22;
    const figureHeight = scaledHeight * 0.42;
    const walkers = [
      { x: 0.1 + 0.6 * t, y: 0.2 },
      { x: 0.75 - 0.5 * t, y: 0.5 + 0.1 * Math.sin(2 * Math.PI * t) },
    ];
    for (const w of walkers) {
      fillRect(pixels, target.width, {
        x: scene.x + w.x * scaledWidth,
        y: scene.y + w.y * scaledHeight,
        width: figureWidth,
        height: figureHeight,
      }, [235, 228, 220]);
    }
    frames.push(pixels);
  }
  const cycle = { frames, letterbox };
  cycles.set(key, cycle);
  return cycle;
}

/** A synthetic camera: cycles pre-rendered frames at a fixed rate, or as fast as they are taken. */
export class SyntheticSource implements FrameSource {
  readonly id: string;
  #options: SyntheticSourceOptions;
  #cycle: RenderedCycle;
  #seq = 0;
  #stopped = true;
  #timer: ReturnType<typeof setTimeout> | undefined;
  #nextDue = 0;
  #startedAt = 0;
  /** Bumped by each start and stop, so a loop from an earlier start ends instead of running twice. */
  #generation = 0;

  constructor(options: SyntheticSourceOptions) {
    this.id = options.id;
    this.#options = options;
    this.#cycle = renderSyntheticCycle(
      { width: options.sourceWidth, height: options.sourceHeight },
      { width: options.width, height: options.height },
    );
  }

  start(sink: FrameSink): void {
    this.#stopped = false;
    this.#generation++;
    this.#startedAt = performance.now();
    this.#options.lifecycle?.up({
      size: `${this.#options.sourceWidth}x${this.#options.sourceHeight}`,
    });
    if (this.#options.fps > 0 || this.#options.burst) {
      this.#nextDue = performance.now();
      this.#tick(sink);
    } else {
      void this.#pull(sink);
    }
  }

  stop(): Promise<void> {
    this.#stopped = true;
    this.#generation++;
    this.#options.lifecycle?.stopped();
    if (this.#timer !== undefined) clearTimeout(this.#timer);
    this.#timer = undefined;
    return Promise.resolve();
  }

  #emit(sink: FrameSink): void {
    const started = performance.now();
    const frames = this.#cycle.frames;
    const phase = this.#options.stream * 7;
    const pixels = frames[(this.#seq + phase) % frames.length]!;
    const capturedAt = performance.now();
    const frame: Frame = {
      stream: this.#options.stream,
      seq: this.#seq,
      capturedAt,
      // Its pictures are rendered once at start: making a frame is taking the next one.
      readMs: capturedAt - started,
      pixels,
      letterbox: this.#cycle.letterbox,
    };
    this.#seq++;
    sink.push(frame);
  }

  #tick(sink: FrameSink): void {
    if (this.#stopped) return;
    const now = performance.now();
    const burst = this.#options.burst;
    const fps = burst && now - this.#startedAt < burst.seconds * 1000
      ? burst.fps
      : this.#options.fps;
    if (fps <= 0) {
      void this.#pull(sink);
      return;
    }
    const period = 1000 / fps;
    // Like a camera, a source that was held up (a blocked event loop) skips ahead, not bursts.
    if (now - this.#nextDue > 5 * period) this.#nextDue = now;
    while (this.#nextDue <= now) {
      this.#emit(sink);
      this.#nextDue += period;
    }
    this.#timer = setTimeout(
      () => this.#tick(sink),
      Math.max(0, this.#nextDue - performance.now()),
    );
  }

  async #pull(sink: FrameSink): Promise<void> {
    const generation = this.#generation;
    while (generation === this.#generation) {
      await sink.waitForRoom(this.#options.stream);
      if (generation !== this.#generation) break;
      this.#emit(sink);
    }
  }
}
