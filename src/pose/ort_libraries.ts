// Where onnxruntime-node keeps its native libraries, and whether the CUDA provider is among them.

import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Files the CUDA execution provider needs next to onnxruntime-node's native library. */
export const CUDA_PROVIDER_FILES = [
  "libonnxruntime_providers_shared.so",
  "libonnxruntime_providers_cuda.so",
] as const;

/** The folder of onnxruntime-node's native addon for this platform, or null when it cannot be found. */
export function ortNativeDir(): string | null {
  try {
    const entry = fileURLToPath(import.meta.resolve("onnxruntime-node"));
    const arch = Deno.build.arch === "aarch64" ? "arm64" : "x64";
    return join(dirname(dirname(entry)), "bin", "napi-v6", Deno.build.os, arch);
  } catch {
    return null;
  }
}

/** The CUDA provider files missing from `dir` (all of them when `dir` is null). */
export function missingCudaProviderFiles(dir: string | null = ortNativeDir()): string[] {
  if (dir === null) return [...CUDA_PROVIDER_FILES];
  return CUDA_PROVIDER_FILES.filter((file) => {
    try {
      return !Deno.statSync(join(dir, file)).isFile;
    } catch {
      return true;
    }
  });
}

/**
 * The shared libraries `library` needs that the dynamic loader cannot find, as `ldd` reports
 * them (e.g. `libcublasLt.so.13`); empty when all are found or `ldd` cannot tell.
 */
export async function unresolvedDependencies(library: string): Promise<string[]> {
  try {
    const out = await new Deno.Command("ldd", { args: [library], stdout: "piped", stderr: "null" })
      .output();
    return new TextDecoder().decode(out.stdout).split("\n")
      .map((line) => /^\s*(\S+)\s+=>\s+not found/.exec(line)?.[1])
      .filter((name): name is string => name !== undefined);
  } catch {
    return [];
  }
}

/**
 * ONNX Runtime 1.29 creates an empty `/tmp/mat-debug-<pid>.log` in every process that loads
 * it; this removes the process's own one when it is still empty (called at exit).
 */
export function removeOrtDebugLog(pid: number = Deno.pid): void {
  const path = `/tmp/mat-debug-${pid}.log`;
  try {
    if (Deno.statSync(path).size === 0) Deno.removeSync(path);
  } catch {
    // Not there, or not ours to remove.
  }
}
