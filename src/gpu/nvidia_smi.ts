// Reads GPUs and their compute processes through nvidia-smi (Deno.Command), one-shot or as a -lms loop.

import {
  APP_FIELDS,
  type ComputeApp,
  GPU_FIELDS,
  type GpuReading,
  parseAppsCsv,
  parseGpuCsv,
} from "./nvidia_smi_csv.ts";

/** One successful reading of all GPUs and compute processes. */
export interface GpuPoll {
  gpus: GpuReading[];
  apps: ComputeApp[];
  /** Lines of this poll that could not be parsed. */
  garbageLines: number;
}

/** Why a poll gave no data: no GPU here (logged once, not an error) or a failure (counted). */
export type GpuPollFailure =
  | { kind: "no_gpu"; reason: "missing_binary" | "no_devices" | "no_driver"; detail: string }
  | { kind: "error"; reason: "timeout" | "exit" | "unparsable"; detail: string };

/** The result of one poll. */
export type GpuPollResult = { kind: "ok"; poll: GpuPoll } | GpuPollFailure;

/** A source of GPU readings; the real one runs nvidia-smi, tests may use a fake binary or object. */
export interface GpuReader {
  poll(): Promise<GpuPollResult>;
  close(): Promise<void>;
}

/** How the GPU query runs: one process per poll, or one persistent `-lms` process. */
export type GpuPollMethod = "spawn" | "loop";

/** Options of {@linkcode NvidiaSmiReader}. */
export interface NvidiaSmiReaderOptions {
  /** The nvidia-smi binary. @default {"nvidia-smi"} */
  path?: string;
  /** A call that has not answered after this long is killed and counted as a timeout. @default {5000} */
  timeoutMs?: number;
  /** @default {"loop"} */
  method?: GpuPollMethod;
  /** Interval of the `-lms` loop. @default {1000} */
  intervalMs?: number;
}

const GPU_ARGS = [`--query-gpu=${GPU_FIELDS.join(",")}`, "--format=csv,noheader,nounits"];
const APP_ARGS = [`--query-compute-apps=${APP_FIELDS.join(",")}`, "--format=csv,noheader,nounits"];

interface CommandOutput {
  code: number;
  stdout: string;
  stderr: string;
}

/** Classifies output that is not CSV: "No devices were found", no driver, or another failure. */
function classify(out: CommandOutput): GpuPollFailure {
  const text = `${out.stdout}\n${out.stderr}`.trim();
  if (/no devices were found/i.test(text)) {
    return { kind: "no_gpu", reason: "no_devices", detail: text };
  }
  if (/couldn't communicate with the nvidia driver|driver\/library version mismatch/i.test(text)) {
    return { kind: "no_gpu", reason: "no_driver", detail: text.split("\n")[0] ?? text };
  }
  return { kind: "error", reason: "exit", detail: `exit ${out.code}: ${text.slice(0, 300)}` };
}

/**
 * Reads nvidia-smi. With the "loop" method one `nvidia-smi --query-gpu ... -lms N` process
 * keeps printing a line per GPU and each poll takes the latest lines (a hung or dead loop is
 * restarted); the process list, which a loop cannot delimit, is read by one call per poll.
 */
export class NvidiaSmiReader implements GpuReader {
  readonly path: string;
  readonly method: GpuPollMethod;
  #timeoutMs: number;
  #intervalMs: number;
  #loop: Deno.ChildProcess | null = null;
  #loopDone: Promise<void> | null = null;
  #latest = new Map<string, { reading: GpuReading; at: number }>();
  #loopGarbage = 0;
  #loopLastLineAt = 0;
  #loopStartedAt = 0;
  #loopFailure: GpuPollFailure | null = null;
  #firstLine: Promise<void> = Promise.resolve();
  #onLine: () => void = () => {};

  #closing = new AbortController();

  constructor(options: NvidiaSmiReaderOptions = {}) {
    this.path = options.path ?? "nvidia-smi";
    this.method = options.method ?? "loop";
    this.#timeoutMs = options.timeoutMs ?? 5000;
    this.#intervalMs = options.intervalMs ?? 1000;
  }

  /** Runs nvidia-smi once with `args`; kills it after the timeout, or when the reader closes. */
  async #run(args: string[]): Promise<CommandOutput | GpuPollFailure> {
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), this.#timeoutMs);
    try {
      const out = await new Deno.Command(this.path, {
        args,
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
        signal: AbortSignal.any([controller.signal, this.#closing.signal]),
      }).output();
      if (this.#closing.signal.aborted) {
        return { kind: "error", reason: "exit", detail: "the reader was closed" };
      }
      if (controller.signal.aborted) {
        return { kind: "error", reason: "timeout", detail: `no answer in ${this.#timeoutMs} ms` };
      }
      const decoder = new TextDecoder();
      return {
        code: out.code,
        stdout: decoder.decode(out.stdout),
        stderr: decoder.decode(out.stderr),
      };
    } catch (err) {
      if (err instanceof Deno.errors.NotFound) {
        return { kind: "no_gpu", reason: "missing_binary", detail: `${this.path} not found` };
      }
      return { kind: "error", reason: "exit", detail: (err as Error).message };
    } finally {
      clearTimeout(timer);
    }
  }

  async #readApps(): Promise<{ apps: ComputeApp[]; garbage: number } | GpuPollFailure> {
    const out = await this.#run(APP_ARGS);
    if ("kind" in out) return out;
    const parsed = parseAppsCsv(out.stdout);
    if (out.code !== 0 || parsed.noDevices) return classify(out);
    return { apps: parsed.rows, garbage: parsed.garbage.length };
  }

  async poll(): Promise<GpuPollResult> {
    if (this.method === "spawn") {
      const out = await this.#run(GPU_ARGS);
      if ("kind" in out) return out;
      const gpus = parseGpuCsv(out.stdout);
      if (out.code !== 0 || gpus.noDevices || gpus.rows.length === 0) {
        const failure = classify(out);
        if (failure.kind === "error" && out.code === 0) {
          return { kind: "error", reason: "unparsable", detail: out.stdout.slice(0, 300) };
        }
        return failure;
      }
      const apps = await this.#readApps();
      if ("kind" in apps) return apps;
      return {
        kind: "ok",
        poll: {
          gpus: gpus.rows,
          apps: apps.apps,
          garbageLines: gpus.garbage.length + apps.garbage,
        },
      };
    }
    return await this.#pollLoop();
  }

  async #pollLoop(): Promise<GpuPollResult> {
    if (this.#loopFailure) {
      const failure = this.#loopFailure;
      this.#loopFailure = null;
      return failure;
    }
    if (!this.#loop) {
      this.#startLoop();
      // Give a fresh loop its first line (or its exit) before reading it.
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([
        this.#firstLine,
        this.#loopDone,
        new Promise((resolve) => (timer = setTimeout(resolve, this.#timeoutMs))),
      ]);
      clearTimeout(timer);
      if (this.#loopFailure) return this.#pollLoop();
    }
    const silentFor = performance.now() - Math.max(this.#loopLastLineAt, this.#loopStartedAt);
    if (silentFor > this.#timeoutMs + this.#intervalMs) {
      await this.#stopLoop();
      return {
        kind: "error",
        reason: "timeout",
        detail: `nvidia-smi -lms printed nothing for ${Math.round(silentFor)} ms`,
      };
    }
    const now = performance.now();
    // A GPU whose line stopped coming (it fell off the bus) drops out after three intervals.
    const fresh = [...this.#latest.values()].filter((e) =>
      now - e.at <= 3 * this.#intervalMs + this.#timeoutMs
    );
    if (fresh.length === 0) {
      return { kind: "error", reason: "timeout", detail: "no GPU line from nvidia-smi -lms yet" };
    }
    const apps = await this.#readApps();
    if ("kind" in apps) return apps;
    const garbage = this.#loopGarbage;
    this.#loopGarbage = 0;
    return {
      kind: "ok",
      poll: {
        gpus: fresh.map((e) => e.reading).sort((a, b) => Number(a.index) - Number(b.index)),
        apps: apps.apps,
        garbageLines: garbage + apps.garbage,
      },
    };
  }

  #startLoop(): void {
    this.#loopStartedAt = performance.now();
    let child: Deno.ChildProcess;
    try {
      child = new Deno.Command(this.path, {
        args: [...GPU_ARGS, "-lms", String(this.#intervalMs)],
        stdin: "null",
        stdout: "piped",
        stderr: "piped",
      }).spawn();
    } catch (err) {
      this.#loopFailure = err instanceof Deno.errors.NotFound
        ? { kind: "no_gpu", reason: "missing_binary", detail: `${this.path} not found` }
        : { kind: "error", reason: "exit", detail: (err as Error).message };
      return;
    }
    this.#loop = child;
    this.#firstLine = new Promise((resolve) => (this.#onLine = resolve));
    const decoder = new TextDecoder();
    const readStdout = async () => {
      let rest = "";
      let text = "";
      for await (const chunk of child.stdout) {
        const lines = (rest + decoder.decode(chunk, { stream: true })).split("\n");
        rest = lines.pop() ?? "";
        for (const line of lines) {
          text += line + "\n";
          const parsed = parseGpuCsv(line);
          const failure = parsed.rows.length === 0
            ? classify({ code: 0, stdout: line, stderr: "" })
            : null;
          if (failure?.kind === "no_gpu") this.#loopFailure = failure;
          const now = performance.now();
          this.#loopLastLineAt = now;
          this.#onLine();
          for (const reading of parsed.rows) this.#latest.set(reading.index, { reading, at: now });
          this.#loopGarbage += parsed.garbage.length;
        }
        if (text.length > 4096) text = text.slice(-2048);
      }
      return text;
    };
    const stderr = new Response(child.stderr).text();
    this.#loopDone = (async () => {
      const stdoutText = await readStdout().catch(() => "");
      const status = await child.status;
      const stderrText = await stderr.catch(() => "");
      if (this.#loop === child) {
        this.#loop = null;
        this.#latest.clear();
        if (!status.success || !/^\d/m.test(stdoutText)) {
          this.#loopFailure = classify({
            code: status.code,
            stdout: stdoutText,
            stderr: stderrText,
          });
        }
      }
    })();
  }

  async #stopLoop(): Promise<void> {
    const child = this.#loop;
    this.#loop = null;
    this.#latest.clear();
    if (child) {
      try {
        child.kill("SIGKILL");
      } catch {
        // already exited
      }
    }
    await this.#loopDone;
    this.#loopDone = null;
    this.#loopFailure = null;
  }

  /** Ends the persistent process and any call in flight. */
  async close(): Promise<void> {
    this.#closing.abort();
    await this.#stopLoop();
  }
}
