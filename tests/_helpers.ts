// Helpers shared by the tests: free ports, running the exporter as a subprocess, polling HTTP.

import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";

/** The repository root. */
export const ROOT = new URL("../", import.meta.url);

/** Path of a file under tests/fixtures/. */
export function fixturePath(name: string): string {
  return new URL(`fixtures/${name}`, import.meta.url).pathname;
}

/** A loopback TCP port that was free a moment ago. */
export function freePort(): number {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (listener.addr as Deno.NetAddr).port;
  listener.close();
  return port;
}

/** A running exporter subprocess with its stderr collected. */
export interface ExporterProcess {
  child: Deno.ChildProcess;
  /** Resolves with the exit status and everything written to stdout and stderr. */
  done: Promise<{ code: number; stdout: string; stderr: string }>;
}

/**
 * Starts `main.ts` with `args` as a subprocess; `options.wrapper` runs it through a command that
 * execs it (e.g. `["setsid"]`: its own process group, same pid).
 */
export function startExporter(
  args: string[],
  env: Record<string, string> = {},
  options: { wrapper?: string[] } = {},
): ExporterProcess {
  const deno = ["run", ...EXPORTER_PERMISSIONS, new URL("main.ts", ROOT).pathname, ...args];
  const [wrapper, ...wrapperArgs] = options.wrapper ?? [];
  const child = new Deno.Command(wrapper ?? Deno.execPath(), {
    args: wrapper === undefined ? deno : [...wrapperArgs, Deno.execPath(), ...deno],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
    stdin: "null",
    env: { NO_COLOR: "1", ...env },
  }).spawn();
  const decoder = new TextDecoder();
  const done = child.output().then((out) => ({
    code: out.code,
    stdout: decoder.decode(out.stdout),
    stderr: decoder.decode(out.stderr),
  }));
  return { child, done };
}

/** Runs `main.ts` with `args` to completion. */
export function runExporter(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return startExporter(args, env).done;
}

/**
 * What `sh -c script` prints, or "" when it fails: how tests read another process's /proc, which
 * Deno lets them read directly only with --allow-all (the test command names each permission).
 */
export async function shellOutput(script: string): Promise<string> {
  const out = await new Deno.Command("sh", {
    args: ["-c", script],
    stdout: "piped",
    stderr: "null",
  })
    .output();
  return out.success ? new TextDecoder().decode(out.stdout) : "";
}

/** Polls `url` until `accept(response text, status)` holds or `timeoutMs` passes. */
export async function pollUntil(
  url: string,
  accept: (text: string, status: number) => boolean,
  timeoutMs = 30_000,
): Promise<string> {
  const deadline = Date.now() + timeoutMs;
  let last = "";
  while (Date.now() < deadline) {
    try {
      const res = await fetch(url);
      last = await res.text();
      if (accept(last, res.status)) return last;
    } catch (err) {
      last = String(err);
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`Gave up waiting for ${url}; last answer: ${last.slice(0, 500)}`);
}

/** Parses Prometheus text into samples: name, labels and value. */
export function parseSamples(
  text: string,
): { name: string; labels: Record<string, string>; value: number }[] {
  const samples = [];
  for (const line of text.split("\n")) {
    if (line === "" || line.startsWith("#")) continue;
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line);
    if (!m) throw new Error(`Unparsable sample line: ${line}`);
    const labels: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) {
      labels[l[1]!] = l[2]!;
    }
    samples.push({ name: m[1]!, labels, value: Number(m[3]) });
  }
  return samples;
}

/** The `# TYPE` of each family in Prometheus text. */
export function parseTypes(text: string): Map<string, string> {
  const types = new Map<string, string>();
  for (const m of text.matchAll(/^# TYPE (\S+) (\S+)$/gm)) types.set(m[1]!, m[2]!);
  return types;
}

/** The value of the sample `name` whose labels include `labels`, or undefined. */
export function sampleValue(
  text: string,
  name: string,
  labels: Record<string, string> = {},
): number | undefined {
  return parseSamples(text).find((s) =>
    s.name === name && Object.entries(labels).every(([k, v]) => s.labels[k] === v)
  )?.value;
}

/** The JSON log records among `stderr`'s lines (`--log-format json`). */
// deno-lint-ignore no-explicit-any -- log records are free-form objects read by key
export function jsonLogs(stderr: string): any[] {
  return stderr.split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
}

/** Kills the exporter if it still runs (cleanup after a failed assertion) and waits for it. */
export async function forceStop(exporter: ExporterProcess): Promise<void> {
  try {
    exporter.child.kill("SIGKILL");
  } catch {
    // already exited
  }
  await exporter.done;
}

/**
 * Starts Debian's `prometheus` on 127.0.0.1:`port` with `dir/prometheus.yml`, its data in
 * `dir/data` (relative paths in the config resolve against `dir`).
 */
export function spawnPrometheus(dir: string, port: number): Deno.ChildProcess {
  return new Deno.Command("prometheus", {
    args: [
      `--config.file=${dir}/prometheus.yml`,
      `--storage.tsdb.path=${dir}/data`,
      `--web.listen-address=127.0.0.1:${port}`,
      "--log.level=error",
    ],
    cwd: dir,
    stdin: "null",
    stdout: "null",
    stderr: "null",
  }).spawn();
}
