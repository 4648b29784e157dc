// A video source decoded by an ffmpeg child process: probe, decode, watch, restart with backoff.

import {
  computeLetterbox,
  type Frame,
  type FrameRows,
  type FrameSink,
  type FrameSource,
  type Letterbox,
  pictureRows,
} from "./frame.ts";
import type { Decoder } from "./decode.ts";
import {
  cleanLine,
  decodeArgs,
  parseProbe,
  probeArgs,
  type ProbedVideo,
} from "./ffmpeg_command.ts";
import { classifyNvdecFailure } from "./nvdec_probe.ts";
import { FramePool } from "./frame_pool.ts";
import { FrameSlots } from "./frame_slots.ts";
import { hangupImmune } from "../host/hangup_immune.ts";
import type { PipeFrame, PipeReaders, PipeReading } from "./pipe_readers.ts";
import type { StreamLifecycle } from "./stream_lifecycle.ts";
import type { StreamDownReason } from "../metrics/definitions.ts";
import { type FfmpegSourceSpec, redactSourceText, redactUri } from "./source_uri.ts";

/** The ffmpeg settings every ffmpeg source shares (the source factory's options extend them). */
export interface FfmpegSettings {
  /** Model input size. */
  width: number;
  height: number;
  ffmpegPath: string;
  ffprobePath: string;
  /** Restart file sources at their end. */
  loop: boolean;
  /** Read files at their own rate; when false a file is read only as fast as its frames are taken. */
  realtime: boolean;
  /** No frame for this long restarts the source. */
  stallTimeoutMs: number;
  /** Longest wait before a restart. */
  retryMaxMs: number;
  /**
   * Reader threads: when set, ffmpeg writes only the picture's band of rows to a FIFO that a
   * reader thread reads into this source's frame slots (no pixel on the event loop). Without
   * it, whole letterboxed frames are read from ffmpeg's stdout on the event loop.
   * @default {undefined}
   */
  readers?: PipeReaders;
  /**
   * Frame slots per stream with `readers`: frames queued, batched and being read at once at
   * most (3 x the queue's frames + 2 covers a full queue and two full batches in flight).
   * When all are taken the reader waits, and ffmpeg with it. @default {14}
   */
  frameSlots?: number;
}

/** Options of {@linkcode FfmpegSource}. */
export interface FfmpegSourceOptions extends FfmpegSettings {
  spec: FfmpegSourceSpec;
  /** Index of the stream in the configuration. */
  stream: number;
  /** First wait before a restart; doubles per failure in a row. @default {1000} */
  retryInitialMs?: number;
  /** Longest time ffprobe may take. @default {15000} */
  probeTimeoutMs?: number;
  /** Where the video is decoded and scaled. @default {"cpu"} */
  decoder?: Decoder;
  /** The GPU that NVDEC decodes on (a CUDA ordinal). @default {0} */
  deviceId?: number;
  /**
   * When an NVDEC run fails with a known NVDEC problem (see `classifyNvdecFailure`), decode on
   * the CPU from then on and report it through `lifecycle.decoderChosen` (`--decode auto`).
   * @default {false}
   */
  fallbackToCpu?: boolean;
  lifecycle: StreamLifecycle;
}

/** A stream's FIFO open in a reader thread, with the slots its frames go to. */
interface OpenPipe {
  reading: PipeReading;
  slots: FrameSlots;
  /** The model rows each frame holds. */
  rows: FrameRows;
  /** Where the reader's frames go (set by the read loop). */
  handler: { onFrame: (frame: PipeFrame) => void };
}

/** Lines of ffmpeg's stderr kept for messages. */
const STDERR_LINES = 8;

/** The wait before restart number `failures` (1-based): doubling, capped, with jitter in [0.5, 1]. */
export function backoffDelay(
  failures: number,
  initialMs: number,
  maxMs: number,
  random = Math.random,
): number {
  const base = Math.min(maxMs, initialMs * 2 ** Math.max(0, failures - 1));
  return base * (0.5 + 0.5 * random());
}

async function readLines(
  stream: ReadableStream<Uint8Array>,
  onLine: (line: string) => void,
): Promise<void> {
  let rest = "";
  for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
    const lines = (rest + chunk).split(/\r?\n|\r/);
    rest = lines.pop() ?? "";
    for (const line of lines) if (line.trim() !== "") onLine(line.trim());
  }
  if (rest.trim() !== "") onLine(rest.trim());
}

/**
 * One ffmpeg child per stream writes rgb24 frames already letterboxed to the model input;
 * they are read in whole frames into pooled buffers. A failure (exit, stall, unreadable
 * input, decode errors) is reported through the stream's lifecycle and followed by a
 * restart after an exponential, jittered, capped backoff. A file that ends without
 * `loop` is finished. Live sources are read continuously (the batcher drops the oldest
 * frames of a stream that is behind); a file read without `realtime` is read only as fast
 * as its frames are taken.
 */
export class FfmpegSource implements FrameSource {
  readonly id: string;
  #options: FfmpegSourceOptions;
  #pool: FramePool;
  #seq = 0;
  #stopped = false;
  #child: Deno.ChildProcess | null = null;
  #stopWaiters: (() => void)[] = [];
  #loop: Promise<void> | null = null;
  /** Frames delivered so far. */
  frames = 0;
  #decoder: Decoder;
  #slots: FrameSlots | null = null;

  constructor(options: FfmpegSourceOptions) {
    this.id = options.spec.id;
    this.#options = options;
    this.#decoder = options.decoder ?? "cpu";
    this.#pool = new FramePool(options.width * options.height * 3);
  }

  /** Process id of the running ffmpeg, or null. */
  get pid(): number | null {
    return this.#child?.pid ?? null;
  }

  /** Where the video is decoded now (NVDEC may have fallen back to the CPU). */
  get decoder(): Decoder {
    return this.#decoder;
  }

  /** Buffers the source allocated (stays small: buffers are reused). */
  get buffersAllocated(): number {
    return this.#pool.allocated;
  }

  /** The frame slots of the reader-thread path (null before its first frame geometry is known). */
  get slots(): FrameSlots | null {
    return this.#slots;
  }

  start(sink: FrameSink): void {
    this.#loop = this.#run(sink);
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#stopWaiters.splice(0).forEach((wake) => wake());
    this.#kill("SIGTERM");
    // An ffmpeg that does not answer SIGTERM (stalled, stopped) is killed after a second, not
    // after the stall timeout.
    const killer = setTimeout(() => this.#kill("SIGKILL"), 1000);
    await this.#loop;
    clearTimeout(killer);
    this.#options.lifecycle.stopped();
  }

  #kill(signal: Deno.Signal): void {
    try {
      this.#child?.kill(signal);
    } catch {
      // already exited
    }
  }

  /** Sleeps `ms`, or less when the source is stopped. */
  #sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        resolve();
      }
      this.#stopWaiters.push(done);
    });
  }

  async #run(sink: FrameSink): Promise<void> {
    const o = this.#options;
    let failuresInARow = 0;
    while (!this.#stopped) {
      // The URI as shown: its credentials never reach a log line, a page or a message.
      o.lifecycle.starting({ uri: redactUri(o.spec.uri) });
      const outcome = await this.#attempt(sink);
      if (this.#stopped) return;
      if (outcome.kind === "finished") {
        o.lifecycle.finished(this.frames);
        return;
      }
      // ffmpeg and ffprobe quote the URI (with its password) in their errors.
      const detail = redactSourceText(outcome.detail, o.spec.uri);
      o.lifecycle.down(outcome.reason, detail);
      this.#fallBackIfNvdecFailed(detail);
      if (outcome.final) return;
      failuresInARow = outcome.delivered ? 1 : failuresInARow + 1;
      const delay = backoffDelay(failuresInARow, o.retryInitialMs ?? 1000, o.retryMaxMs);
      o.lifecycle.retrying(delay);
      await this.#sleep(delay);
    }
  }

  /** Switches to CPU decoding when NVDEC is at fault, where `fallbackToCpu` allows it. */
  #fallBackIfNvdecFailed(stderr: string): void {
    const o = this.#options;
    if (this.#decoder !== "nvdec" || !o.fallbackToCpu) return;
    const failure = classifyNvdecFailure(stderr.replaceAll(" | ", "\n"), o.deviceId ?? 0);
    if (!failure) return;
    this.#decoder = "cpu";
    o.lifecycle.decoderChosen(
      "cpu",
      `NVDEC failed at run time: ${failure.what} (${failure.detail})`,
    );
  }

  async #probe(): Promise<ProbedVideo | { error: StreamDownReason; detail: string }> {
    const o = this.#options;
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), o.probeTimeoutMs ?? 15_000);
    const wake = () => controller.abort();
    this.#stopWaiters.push(wake);
    try {
      const out = await new Deno.Command(o.ffprobePath, {
        args: probeArgs(o.spec),
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: controller.signal,
      }).output();
      const stderr = new TextDecoder().decode(out.stderr).split("\n").map(cleanLine)
        .filter((l) => l !== "").slice(-STDERR_LINES).join(" | ");
      if (controller.signal.aborted) return { error: "stalled", detail: "ffprobe timed out" };
      if (!out.success) {
        return { error: "unreadable", detail: stderr || `ffprobe exited with ${out.code}` };
      }
      try {
        return parseProbe(new TextDecoder().decode(out.stdout));
      } catch (err) {
        return { error: "unreadable", detail: (err as Error).message };
      }
    } catch (err) {
      return {
        error: "unreadable",
        detail: `cannot run ${o.ffprobePath}: ${(err as Error).message}`,
      };
    } finally {
      clearTimeout(timer);
      this.#stopWaiters = this.#stopWaiters.filter((w) => w !== wake);
    }
  }

  async #attempt(sink: FrameSink): Promise<
    | { kind: "finished" }
    | { kind: "down"; reason: StreamDownReason; detail: string; final: boolean; delivered: boolean }
  > {
    const o = this.#options;
    const probed = await this.#probe();
    if (this.#stopped) {
      return { kind: "down", reason: "exited", detail: "stopped", final: true, delivered: false };
    }
    if ("error" in probed) {
      return {
        kind: "down",
        reason: probed.error,
        detail: probed.detail,
        final: false,
        delivered: false,
      };
    }
    const letterbox = computeLetterbox(probed, { width: o.width, height: o.height });
    const pipe = await this.#openPipe(letterbox);
    let child: Deno.ChildProcess;
    try {
      // SIGHUP ignored: a hangup of the exporter's process group reloads it, and must not end
      // the streams (ffmpeg keeps SIGHUP's default action, exit).
      const line = hangupImmune(
        o.ffmpegPath,
        decodeArgs(o.spec, {
          letterbox,
          width: o.width,
          height: o.height,
          realtime: o.realtime,
          loop: o.loop,
          decoder: this.#decoder,
          deviceId: o.deviceId ?? 0,
          ...(pipe ? { band: true, output: pipe.reading.path } : {}),
        }),
      );
      child = new Deno.Command(line.command, {
        args: line.args,
        stdin: "null",
        stdout: pipe ? "null" : "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      await pipe?.reading.close();
      return {
        kind: "down",
        reason: "exited",
        detail: `cannot start ${o.ffmpegPath}: ${(err as Error).message}`,
        final: false,
        delivered: false,
      };
    }
    this.#child = child;
    const stderrTail: string[] = [];
    const stderrDone = readLines(child.stderr, (text) => {
      const line = cleanLine(text);
      if (line === "") return;
      stderrTail.push(line);
      if (stderrTail.length > STDERR_LINES) stderrTail.shift();
    }).catch(() => {});
    let stalled = false;
    let lastFrameAt = performance.now();
    const watchdog = setInterval(() => {
      if (performance.now() - lastFrameAt > o.stallTimeoutMs) {
        stalled = true;
        this.#kill("SIGKILL");
      }
    }, Math.min(1000, o.stallTimeoutMs / 2));
    let delivered = 0;
    try {
      const onFrame = () => (lastFrameAt = performance.now());
      delivered = pipe
        ? await this.#readPipe(child, pipe, { sink, letterbox, probed, onFrame })
        : await this.#readFrames(child.stdout, sink, letterbox, probed, onFrame);
    } finally {
      clearInterval(watchdog);
    }
    if (this.#stopped) {
      const killer = setTimeout(() => this.#kill("SIGKILL"), 2000);
      await child.status;
      clearTimeout(killer);
      await stderrDone;
      this.#child = null;
      return {
        kind: "down",
        reason: "exited",
        detail: "stopped",
        final: true,
        delivered: delivered > 0,
      };
    }
    const status = await child.status;
    await stderrDone;
    this.#child = null;
    const detail = stderrTail.join(" | ");
    const was = { delivered: delivered > 0 };
    if (stalled) {
      return {
        kind: "down",
        reason: "stalled",
        detail: `no frame for ${o.stallTimeoutMs / 1000} s`,
        final: false,
        ...was,
      };
    }
    if (!status.success) {
      const reason: StreamDownReason = delivered === 0 ? "unreadable" : "exited";
      return {
        kind: "down",
        reason,
        detail: detail || `ffmpeg exited with ${status.code}`,
        final: false,
        ...was,
      };
    }
    if (o.spec.input === "file" && !o.loop) {
      // A file ends; with decoding errors it ended broken (not retried: that would replay it).
      if (stderrTail.length > 0) {
        return { kind: "down", reason: "decode_error", detail, final: true, ...was };
      }
      return { kind: "finished" };
    }
    return {
      kind: "down",
      reason: stderrTail.length > 0 ? "decode_error" : "eof",
      detail,
      final: false,
      ...was,
    };
  }

  /**
   * With reader threads: the stream's slots (made or remade for the band's size) and its FIFO,
   * open in a reader thread. Null without reader threads, or when the FIFO cannot be had (this
   * attempt then reads ffmpeg's stdout).
   */
  async #openPipe(letterbox: Letterbox): Promise<OpenPipe | null> {
    const o = this.#options;
    if (o.readers === undefined) return null;
    const rows = pictureRows(letterbox, o);
    const frameBytes = rows.height * o.width * 3;
    const count = Math.max(2, o.frameSlots ?? 14);
    if (this.#slots === null || this.#slots.slotBytes !== frameBytes) {
      // Frames of an earlier geometry still in flight free their slots in the old set.
      this.#slots = FrameSlots.create(count, frameBytes);
    }
    const slots = this.#slots;
    // Until #readPipe takes over, a frame (there is none before ffmpeg starts) frees its slot.
    const handler = { onFrame: (frame: PipeFrame) => slots.release(frame.slot) };
    try {
      const reading = await o.readers.attach({
        slots,
        frameBytes,
        onFrame: (frame) => handler.onFrame(frame),
      });
      return { reading, slots, rows, handler };
    } catch {
      return null;
    }
  }

  /**
   * Hands on the frames a reader thread reads from ffmpeg's FIFO until ffmpeg exits, then the
   * frames left in the pipe. A file read without `realtime` is handed on only as fast as its
   * frames are taken (the frames wait in their slots; with every slot taken, the reader waits).
   */
  async #readPipe(
    child: Deno.ChildProcess,
    pipe: OpenPipe,
    parts: { sink: FrameSink; letterbox: Letterbox; probed: ProbedVideo; onFrame: () => void },
  ): Promise<number> {
    const o = this.#options;
    const { sink, letterbox, probed } = parts;
    const { slots, rows } = pipe;
    const pull = o.spec.input === "file" && !o.realtime;
    const waiting: Frame[] = [];
    let pumping: Promise<void> | null = null;
    let delivered = 0;
    const pump = async () => {
      while (waiting.length > 0 && !this.#stopped) {
        await sink.waitForRoom(o.stream);
        if (this.#stopped) break;
        const frame = waiting.shift()!;
        // As on stdout: a frame waiting for room is captured when it is handed on.
        frame.capturedAt = performance.now();
        sink.push(frame);
      }
      pumping = null;
    };
    pipe.handler.onFrame = (read) => {
      if (this.#stopped) {
        slots.release(read.slot);
        return;
      }
      const frame: Frame = {
        stream: o.stream,
        seq: this.#seq++,
        capturedAt: read.capturedAt,
        readMs: read.readMs,
        pixels: slots.view(read.slot),
        rows,
        letterbox,
        release: slots.releaser(read.slot),
      };
      delivered++;
      this.frames++;
      parts.onFrame();
      if (delivered === 1) {
        o.lifecycle.up({ size: `${probed.width}x${probed.height}`, fps: probed.fps ?? "unknown" });
      }
      if (!pull) {
        sink.push(frame);
        return;
      }
      waiting.push(frame);
      pumping ??= pump();
    };
    await child.status;
    if (this.#stopped) {
      await pipe.reading.close();
    } else {
      await pipe.reading.drain();
      while (pumping !== null) await pumping;
    }
    for (const frame of waiting.splice(0)) frame.release?.();
    return delivered;
  }

  async #readFrames(
    stdout: ReadableStream<Uint8Array>,
    sink: FrameSink,
    letterbox: Letterbox,
    probed: ProbedVideo,
    onFrame: () => void,
  ): Promise<number> {
    const o = this.#options;
    const pool = this.#pool;
    const frameBytes = pool.frameBytes;
    const pull = o.spec.input === "file" && !o.realtime;
    const reader = stdout.getReader();
    let buffer = pool.acquire();
    let filled = 0;
    let delivered = 0;
    /** When this frame's first bytes arrived: its `readMs` runs from there to its last byte. */
    let frameStartedAt = 0;
    try {
      while (true) {
        const { value, done } = await reader.read();
        if (done || this.#stopped) break;
        let offset = 0;
        while (offset < value.length) {
          if (filled === 0) frameStartedAt = performance.now();
          const n = Math.min(value.length - offset, frameBytes - filled);
          buffer.set(value.subarray(offset, offset + n), filled);
          filled += n;
          offset += n;
          if (filled < frameBytes) continue;
          if (pull) await sink.waitForRoom(o.stream);
          if (this.#stopped) break;
          const pixels = buffer;
          const capturedAt = performance.now();
          const frame: Frame = {
            stream: o.stream,
            seq: this.#seq++,
            capturedAt,
            readMs: capturedAt - frameStartedAt,
            pixels,
            letterbox,
            release: () => pool.release(pixels),
          };
          delivered++;
          this.frames++;
          onFrame();
          if (delivered === 1) {
            o.lifecycle.up({
              size: `${probed.width}x${probed.height}`,
              fps: probed.fps ?? "unknown",
            });
          }
          sink.push(frame);
          buffer = pool.acquire();
          filled = 0;
        }
      }
    } finally {
      pool.release(buffer);
      await reader.cancel().catch(() => {});
    }
    return delivered;
  }
}
