// The inference thread: owns the ONNX Runtime session, so model runs never block the main event loop.
/// <reference no-default-lib="true" />
/// <reference lib="deno.worker" />

import { createOrtRunner, type OrtRunner } from "./inference.ts";
import { createPoseDecoder, type PoseDecoder } from "./decoder.ts";
import { Logger } from "../log.ts";
import type { PreparedModel } from "./model_prep.ts";
import type { WorkerInitOptions, WorkerReply, WorkerRequest } from "./worker_protocol.ts";
import { nameThread } from "../host/libc.ts";
import { THREAD_NAMES } from "../host/thread_cpu.ts";

// Named before ONNX Runtime starts its threads, which inherit the name: the per-thread figures
// count them as the inference worker's.
nameThread(THREAD_NAMES.inference);

let runner: OrtRunner | null = null;
let decoder: PoseDecoder | null = null;
/** Shared memory the frames lie in (frame slots, synthetic cycles), by the main thread's id. */
const shared = new Map<number, Uint8Array>();
/** Runs one after the other: they fill the same input buffer of their shape. */
let runs: Promise<void> = Promise.resolve();

/** Fills the input of `request.shape` from the frames' memory and runs it. */
function fillAndRun(request: Extract<WorkerRequest, { type: "run" }>) {
  const r = runner!;
  const input = r.input(request.shape);
  const inline = request.buffer === null ? null : new Uint8Array(request.buffer);
  const refs = request.refs;
  for (let f = 0; f * 4 < refs.length; f++) {
    const id = refs[f * 4]!;
    const offset = refs[f * 4 + 1]!;
    const length = refs[f * 4 + 2]!;
    const top = refs[f * 4 + 3]!;
    const memory = id === 0 ? inline : shared.get(id);
    if (!memory) throw new Error(`Cannot run frame ${f}: its shared memory ${id} is unknown`);
    input.place(f, {
      pixels: memory.subarray(offset, offset + length),
      rows: top < 0 ? undefined : { top, height: length / input.rowBytes },
    });
  }
  return r.runInput(request.shape);
}

function reply(message: WorkerReply, transfer: Transferable[] = []): void {
  self.postMessage(message, transfer);
}

function errorReply(id: number, err: unknown): WorkerReply {
  const e = err as Error;
  // The error crosses threads as data: its own fields (path, shapes, provider) go with it.
  const fields: Record<string, string | string[]> = {};
  for (const [key, value] of Object.entries(e ?? {})) {
    if (
      typeof value === "string" ||
      (Array.isArray(value) && value.every((v) => typeof v === "string"))
    ) {
      fields[key] = value;
    }
  }
  return {
    type: "error",
    id,
    name: e?.name ?? "Error",
    message: e?.message ?? String(err),
    fields,
  };
}

async function init(
  id: number,
  model: PreparedModel,
  options: WorkerInitOptions,
): Promise<void> {
  decoder = createPoseDecoder(model.layout, options.decoder);
  const log = new Logger({
    format: options.logFormat,
    writer: { writeLine: (line) => reply({ type: "log", line }) },
  });
  runner = await createOrtRunner(model, {
    provider: options.provider,
    deviceId: options.deviceId,
    shapes: options.shapes,
    intraOpThreads: options.intraOpThreads,
    log,
    warmShapes: [],
  });
  reply({ type: "ready", id, provider: runner.provider });
}

self.onmessage = async (event: MessageEvent<WorkerRequest>) => {
  const request = event.data;
  try {
    switch (request.type) {
      case "init":
        await init(request.id, request.model, request.options);
        return;
      case "warm":
        await runner!.warm(request.shape);
        reply({ type: "warmed", id: request.id });
        return;
      case "share":
        shared.set(request.id, new Uint8Array(request.buffer));
        return;
      case "forget":
        shared.delete(request.id);
        return;
      case "run": {
        const previous = runs;
        let done = () => {};
        runs = new Promise((resolve) => (done = resolve));
        await previous;
        let output;
        try {
          output = await fillAndRun(request);
        } finally {
          done();
        }
        // Decoding here keeps the large raw output off the main thread: only the poses travel.
        const decodeStart = performance.now();
        const persons = request.letterboxes.map((lb, f) => decoder!.decode(output.outputs, f, lb));
        reply(
          {
            type: "result",
            id: request.id,
            persons,
            input: request.buffer,
            shape: output.shape,
            seconds: output.seconds,
            decodeSeconds: (performance.now() - decodeStart) / 1000,
          },
          request.buffer ? [request.buffer] : [],
        );
        return;
      }
      case "release":
        await runner?.release();
        runner = null;
        reply({ type: "released", id: request.id });
        return;
    }
  } catch (err) {
    if (request.type === "run") {
      reply(
        { ...errorReply(request.id, err), input: request.buffer } as WorkerReply,
        request.buffer ? [request.buffer] : [],
      );
    } else {
      reply(errorReply(request.id, err));
    }
  }
};
