// deno task bench's host-path part: the exporter with N pipe-fed streams (frames ffmpeg decoded
// once, replayed through the FIFOs by a cheap producer, so decoding is not what is measured) and N
// synthetic streams, with the tiny model, at 8, 32 and 64 streams; per thread CPU per frame, the
// frames per second sustained, memory, and the bare pipe read of the same bytes as the baseline.
// The parts are scripts/host_path.ts's.

import {
  HOST_PATH_MODEL,
  type HostPathResult,
  makeReplayTools,
  measureBarePipeRead,
  measureHostPath,
} from "./host_path.ts";
import { loadModelFile } from "../src/pose/model_prep.ts";
import { computeLetterbox, pictureRows } from "../src/sources/frame.ts";

/** Options of {@linkcode benchHostPath}. */
export interface BenchHostPathOptions {
  /** A short run: 4 streams of each kind, seconds instead of tens of seconds. */
  quick: boolean;
  progress?: (text: string) => void;
}

/** The part's JSON keys and its table rows. */
export interface BenchHostPathResult {
  json: Record<string, unknown>;
  rows: [string, string, string][];
}

/** Camera size of every host-path stream: a 16:9 picture, whose band is 640x360 of the 640x640 input. */
const SIZE = { width: 640, height: 360 };
/**
 * Frames per second offered by all streams together, at most 30 per stream (8 x 30, 32 x 10,
 * 64 x 5): what this 2-core host keeps up with beside the producers and the model run, so that
 * the figures per frame are of a process that is not overloaded. 64 x 30 would need 1.6 cores
 * for the tiny model's uint8 -> float input stage alone; at 640 frames/s through 64 pipes the
 * host saturated in kernel time (pipe copies, wake-ups) and starved the model thread. Costs per
 * wake-up weigh more per frame at lower rates, so these figures are on the high side of what a
 * frame costs at 64 x 30.
 */
const OFFERED_FPS = 320;

/**
 * Measures the host path at each stream count: pipe-fed, then synthetic.
 *
 * @returns the JSON keys (the largest pipe-fed count's figures as the headline) and table rows
 */
export async function benchHostPath(options: BenchHostPathOptions): Promise<BenchHostPathResult> {
  const model = await loadModelFile(HOST_PATH_MODEL);
  const tools = await makeReplayTools(SIZE, model);
  try {
    const rows = pictureRows(computeLetterbox(SIZE, model), model);
    options.progress?.("host path: the bare pipe read");
    const bare = await measureBarePipeRead(tools, {
      file: tools.framesFile(model.width, rows.height),
      frameBytes: rows.height * model.width * 3,
      frames: options.quick ? 100 : 600,
    });
    const counts = options.quick ? [4] : [8, 32, 64];
    const measured: HostPathResult[] = [];
    for (const n of counts) {
      for (const kind of ["pipe", "synthetic"] as const) {
        measured.push(
          await measureHostPath({
            pipe: kind === "pipe" ? n : 0,
            synthetic: kind === "synthetic" ? n : 0,
            size: `${SIZE.width}x${SIZE.height}`,
            fps: Math.min(30, Math.floor(OFFERED_FPS / n)),
            batchSize: n >= 32 ? 32 : 8,
            producer: "replay",
            model: HOST_PATH_MODEL,
            warmupS: options.quick ? 1 : 4,
            seconds: options.quick ? 2 : 8,
            progress: options.progress,
          }, tools),
        );
      }
    }
    const headline = measured.filter((m) => m.pipe > 0).at(-1)!;
    const synthetic = measured.filter((m) => m.synthetic > 0).at(-1)!;
    const ratio = (a: number, b: number) => b > 0 ? Number((a / b).toFixed(3)) : null;
    const json = {
      host_streams: headline.pipe,
      host_event_loop_ms_per_frame: headline.host_event_loop_ms_per_frame,
      host_source_readers_ms_per_frame: headline.host_source_readers_ms_per_frame,
      host_inference_worker_over_raw_ms_per_frame: Number(
        Math.max(
          0,
          headline.host_inference_worker_ms_per_frame - headline.raw_session_run_ms_per_frame,
        ).toFixed(3),
      ),
      host_gc_ms_per_frame: headline.host_v8_helpers_ms_per_frame,
      host_cpu_ms_per_frame: headline.host_cpu_ms_per_frame,
      host_pipe_bytes_per_frame: headline.host_pipe_bytes_per_frame,
      host_streams_at_30fps: headline.host_streams_at_30fps,
      // 64 x 30 = 1920 frames a second, at this run's CPU per frame.
      host_cores_per_64_streams_at_30fps: Number(
        (headline.host_cpu_ms_per_frame * 1.92).toFixed(2),
      ),
      producer_cores_per_64_streams_at_30fps: Number(
        (headline.producer_ms_per_frame * 1.92).toFixed(2),
      ),
      host_producer_ms_per_frame: headline.producer_ms_per_frame,
      host_rss_mb: headline.rss_mb,
      host_bare_pipe_read_ms_per_frame: Number(bare.readMsPerFrame.toFixed(3)),
      host_event_loop_over_bare_pipe_read: ratio(
        headline.host_event_loop_ms_per_frame,
        bare.readMsPerFrame,
      ),
      host_cpu_over_bare_pipe_read: ratio(headline.host_cpu_ms_per_frame, bare.readMsPerFrame),
      host_synthetic_event_loop_ms_per_frame: synthetic.host_event_loop_ms_per_frame,
      host_synthetic_cpu_ms_per_frame: synthetic.host_cpu_ms_per_frame,
      host_path: measured,
    };
    const table: [string, string, string][] = [[
      "host path: bare pipe read of a band (baseline)",
      `${json.host_bare_pipe_read_ms_per_frame} ms/frame`,
      `${headline.host_pipe_bytes_per_frame} bytes a frame, producer ${
        bare.producerMsPerFrame.toFixed(3)
      } ms`,
    ]];
    for (const m of measured) {
      const what = m.pipe > 0 ? `${m.pipe} pipe-fed` : `${m.synthetic} synthetic`;
      table.push([
        `host path: ${what} @${m.fps_per_stream}`,
        `loop ${m.host_event_loop_ms_per_frame} / host ${m.host_cpu_ms_per_frame} ms/frame`,
        `readers ${m.host_source_readers_ms_per_frame}, worker ${m.host_inference_worker_ms_per_frame}` +
        ` (raw run ${m.raw_session_run_ms_per_frame}), gc ${m.host_v8_helpers_ms_per_frame}, io ${m.host_io_pool_ms_per_frame};` +
        ` ${m.frames_per_second}/${m.offered_frames_per_second} fps, ${m.rss_mb} MB RSS,` +
        ` producer ${m.producer_ms_per_frame}; ${m.host_streams_at_30fps} streams at 30 fps`,
      ]);
    }
    return { json, rows: table };
  } finally {
    await Deno.remove(tools.dir, { recursive: true }).catch(() => {});
  }
}

if (import.meta.main) {
  const result = await benchHostPath({ quick: Deno.args.includes("--quick") });
  for (const [a, b, c] of result.rows) console.log(`${a}  ${b}  ${c}`);
  console.log(JSON.stringify(result.json));
}
