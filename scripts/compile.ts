// deno task compile: builds ./pose-exporter, one Linux x86-64 binary with the exporter, its npm packages,
// onnxruntime-node's native libraries (and the CUDA provider when installed) and its permissions baked in.
//
// deno compile needs a Deno runtime (denort) for the target. It downloads one, or takes DENORT_BIN.
// Where neither works this script says so in one line and exits 1.

import { VERSION } from "../src/version.ts";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";
import { CUDA_PROVIDER_FILES, ortNativeDir } from "../src/pose/ort_libraries.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OUTPUT = `${ROOT}pose-exporter`;

/** Thrown with the one line the user sees. */
export class CompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CompileError";
  }
}

const HOW_TO_SUPPLY =
  `set DENORT_BIN to the denort binary of Deno ${Deno.version.deno} for x86_64-unknown-linux-gnu ` +
  `(the denort-x86_64-unknown-linux-gnu.zip of that Deno release, unzipped) and run deno task compile again`;

/** Checks that DENORT_BIN, when set, names an executable ELF file. */
export async function checkDenortBin(path: string): Promise<void> {
  let bytes: Uint8Array;
  try {
    const file = await Deno.open(path);
    bytes = new Uint8Array(4);
    await file.read(bytes);
    file.close();
  } catch (err) {
    throw new CompileError(
      `DENORT_BIN=${path} cannot be read (${(err as Error).message}): ${HOW_TO_SUPPLY}`,
    );
  }
  if (!(bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46)) {
    throw new CompileError(
      `DENORT_BIN=${path} is not a Deno runtime (not an executable ELF file): ${HOW_TO_SUPPLY}`,
    );
  }
}

/** The `deno compile` arguments. */
export function compileArgs(includes: string[]): string[] {
  return [
    "compile",
    "--self-extracting",
    "--target",
    "x86_64-unknown-linux-gnu",
    ...EXPORTER_PERMISSIONS,
    "--include",
    "src/pose/inference_worker.ts",
    ...includes.flatMap((path) => ["--include", path]),
    "--output",
    OUTPUT,
    "main.ts",
  ];
}

async function run(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; text: string }> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  const decoder = new TextDecoder();
  return { ok: out.success, text: decoder.decode(out.stdout) + decoder.decode(out.stderr) };
}

function lastLine(text: string): string {
  // deno's errors end with a backtrace header; the cause is the line before it.
  // deno-lint-ignore no-control-regex -- strips ANSI colour codes from deno's output
  const lines = text.replace(/\x1b\[[0-9;]*m/g, "").split("\n").map((l) => l.trim()).filter((l) =>
    l !== "" && !/^Stack backtrace:|^\d+: <unknown>/.test(l)
  );
  return lines.at(-1) ?? "no output";
}

async function compile(): Promise<void> {
  const denort = Deno.env.get("DENORT_BIN");
  if (denort) await checkDenortBin(denort);
  const installed = await run(["install", "--quiet"]);
  if (!installed.ok) throw new CompileError(`deno install failed: ${lastLine(installed.text)}`);
  const nativeDir = ortNativeDir();
  const provider = nativeDir === null
    ? []
    : CUDA_PROVIDER_FILES.map((f) => `${nativeDir}/${f}`).filter((p) => {
      try {
        return Deno.statSync(p).isFile;
      } catch {
        return false;
      }
    });
  if (provider.length > 0) {
    console.log(`including the CUDA execution provider: ${provider.join(", ")}`);
  }
  await Deno.remove(OUTPUT).catch(() => {});
  const compiled = await run(compileArgs(provider));
  if (!compiled.ok) {
    const why = lastLine(compiled.text);
    if (/overflowed its stack/.test(compiled.text)) {
      throw new CompileError(
        `deno compile crashed with a thread stack overflow while embedding the npm packages ` +
          `(a deno compile fault, cf. denoland/deno issue 36746; seen here with Deno 2.8.3 and 2.9.6 whatever the runtime): ` +
          `build the binary on another host, or run the exporter with deno task start`,
      );
    }
    if (
      !denort &&
      /dns|lookup|download|sending request|connect|network|timed out/i.test(compiled.text)
    ) {
      throw new CompileError(
        `deno compile could not download its runtime (denort ${Deno.version.deno}) (${why}): ${HOW_TO_SUPPLY}`,
      );
    }
    throw new CompileError(
      denort
        ? `deno compile failed with DENORT_BIN=${denort} (${why}): is it the denort of Deno ${Deno.version.deno}? ${HOW_TO_SUPPLY}`
        : `deno compile failed: ${why}`,
    );
  }
  // A runtime of the wrong kind (the deno CLI itself, say) still yields a file: check it runs the exporter.
  let said = "";
  try {
    const check = await new Deno.Command(OUTPUT, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    })
      .output();
    said = new TextDecoder().decode(check.stdout).trim();
  } catch (err) {
    said = `(it did not start: ${(err as Error).message})`;
  }
  if (said !== `pose-exporter ${VERSION}`) {
    await Deno.remove(OUTPUT).catch(() => {});
    throw new CompileError(
      `${
        denort ? `DENORT_BIN=${denort}` : "the downloaded runtime"
      } is not a denort runtime: the binary it made ` +
        `answered --version with ${JSON.stringify(said.split("\n")[0] ?? "")}: ${HOW_TO_SUPPLY}`,
    );
  }
  const size = (await Deno.stat(OUTPUT)).size;
  console.log(`built ./pose-exporter (${(size / 2 ** 20).toFixed(0)} MiB): ${said}`);
}

if (import.meta.main) {
  try {
    await compile();
  } catch (err) {
    if (!(err instanceof CompileError)) throw err;
    console.error(`pose-exporter compile: ${err.message}`);
    Deno.exit(1);
  }
}
