// A small stand-in for the exporter: synthetic frames, the real demo model on CPU and the real
// decoder, feeding a LiveView served on a loopback port. For page work without the full app.
//
//   deno run -A tests/web/_live_harness.ts [PORT]

import { buildDemoModel } from "../../src/pose/demo_model.ts";
import { prepareModel } from "../../src/pose/model_prep.ts";
import { createOrtRunner } from "../../src/pose/inference.ts";
import { PoseDecoder } from "../../src/pose/decoder.ts";
import { renderSyntheticCycle } from "../../src/sources/synthetic_source.ts";
import type { Frame } from "../../src/sources/frame.ts";
import { type LiveStreamInfo, LiveView } from "../../src/web/live_view.ts";

/** Options of {@linkcode startLiveHarness}. */
export interface LiveHarnessOptions {
  port: number;
  /** Stream ids; a stream whose id starts with "down" is shown as down. */
  ids: string[];
  /** Frames per second per stream. @default {10} */
  fps?: number;
}

/** A running harness. */
export interface LiveHarness {
  view: LiveView;
  /** Replaces the stream set (the page must follow). */
  setIds(ids: string[]): void;
  stop(): Promise<void>;
}

/** Starts the harness: frames flow and the view is served at `http://127.0.0.1:PORT/`. */
export async function startLiveHarness(options: LiveHarnessOptions): Promise<LiveHarness> {
  const model = prepareModel(buildDemoModel(), "built-in demo model");
  const runner = await createOrtRunner(model, { provider: "cpu", maxBatch: 1, intraOpThreads: 1 });
  const decoder = new PoseDecoder({ scoreThreshold: 0.25 });
  const cycle = renderSyntheticCycle(
    { width: 1280, height: 720 },
    { width: model.width, height: model.height },
  );
  let ids = options.ids;
  const counts = new Map<string, number>();
  const view = new LiveView({
    streams: (): LiveStreamInfo[] =>
      ids.map((id, stream) => {
        const down = id.startsWith("down");
        return {
          stream,
          id,
          state: down ? "down" : "up",
          reason: down ? "ffmpeg exited: Connection refused (rtsp://10.0.0.7/stream1)" : null,
          fps: down ? 0 : options.fps ?? 10,
          p50Ms: down ? null : 7.4 + stream,
          p99Ms: down ? null : 15.2 + stream,
          persons: counts.get(id) ?? 0,
          decoder: "synthetic",
        };
      }),
    modelWidth: model.width,
    modelHeight: model.height,
    scoreThreshold: 0.25,
  });
  const server = Deno.serve(
    { hostname: "127.0.0.1", port: options.port, onListen: () => {} },
    async (req) => (await view.handle(req)) ?? new Response("not found\n", { status: 404 }),
  );
  let stopped = false;
  const seqs: number[] = [];
  const loop = (async () => {
    const period = 1000 / (options.fps ?? 10);
    while (!stopped) {
      const started = performance.now();
      for (let stream = 0; stream < ids.length; stream++) {
        const id = ids[stream]!;
        if (id.startsWith("down")) continue;
        const seq = seqs[stream] = (seqs[stream] ?? -1) + 1;
        const frame: Frame = {
          stream,
          seq,
          capturedAt: performance.now(),
          pixels: cycle.frames[(seq + stream * 7) % cycle.frames.length]!,
          letterbox: cycle.letterbox,
        };
        const pending = runner.run([frame]);
        if (view.wants(stream)) view.capture(frame);
        const out = await pending;
        const persons = decoder.decode(out.data, 0, out.anchors, frame.letterbox);
        counts.set(id, persons.length);
        const decodedAt = performance.now();
        view.write({ frame, streamId: id, persons, decodedAt, latencyMs: decodedAt - seq });
      }
      await new Promise((r) => setTimeout(r, Math.max(0, period - (performance.now() - started))));
    }
  })();
  return {
    view,
    setIds(next) {
      ids = next;
    },
    async stop() {
      stopped = true;
      await loop;
      await server.shutdown();
      await view.close();
      await runner.release();
    },
  };
}

if (import.meta.main) {
  const port = Number(Deno.args[0] ?? "8765");
  await startLiveHarness({ port, ids: ["cam-entrance", "cam-hall", "cam-yard", "down-dock"] });
  console.log(`live view harness at http://127.0.0.1:${port}/`);
}
