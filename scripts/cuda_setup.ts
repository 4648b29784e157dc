// deno task cuda-setup: puts ONNX Runtime 1.29.0's CUDA execution provider next to onnxruntime-node's
// native library, choosing the CUDA 12 or CUDA 13 build by the CUDA runtime the dynamic loader finds.

import { parseArgs } from "node:util";
import {
  CUDA_PROVIDER_FILES,
  missingCudaProviderFiles,
  ortNativeDir,
} from "../src/pose/ort_libraries.ts";

/** A CUDA provider build and where it comes from. */
export interface CudaBuild {
  cuda: 12 | 13;
  source: string;
}

/** The two builds of ONNX Runtime 1.29.0's CUDA provider. */
export const CUDA_BUILDS: Record<12 | 13, CudaBuild> = {
  12: {
    cuda: 12,
    source:
      "onnxruntime-node's own install script (ONNXRUNTIME_NODE_INSTALL=cuda12, downloads the CUDA 12 build)",
  },
  13: {
    cuda: 13,
    source:
      "the npm package com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9 (ONNX Runtime 1.29.0 built for CUDA 13)",
  },
};

/**
 * The CUDA runtime majors (12, 13) the dynamic loader would find: libcudart.so.N in the
 * loader cache (`ldconfig -p`) or in a folder of LD_LIBRARY_PATH.
 */
export function findCudaRuntimes(
  ldconfigOutput: string,
  ldLibraryPath: string,
  exists: (path: string) => boolean,
): (12 | 13)[] {
  const found = new Set<12 | 13>();
  for (const major of [12, 13] as const) {
    if (new RegExp(`\\blibcudart\\.so\\.${major}\\b`).test(ldconfigOutput)) found.add(major);
    for (const dir of ldLibraryPath.split(":").filter((d) => d !== "")) {
      if (exists(`${dir}/libcudart.so.${major}`)) found.add(major);
    }
  }
  return [...found].sort();
}

/**
 * Chooses the build: the one a `--cuda` flag names, else the one matching the single runtime
 * found, else (both found) CUDA 13, the newer; null when no runtime is found.
 */
export function chooseCudaBuild(
  runtimes: readonly (12 | 13)[],
  flag: 12 | 13 | null,
): CudaBuild | null {
  if (flag !== null) return CUDA_BUILDS[flag];
  if (runtimes.includes(13)) return CUDA_BUILDS[13];
  if (runtimes.includes(12)) return CUDA_BUILDS[12];
  return null;
}

async function output(
  cmd: string,
  args: string[],
  env: Record<string, string> = {},
): Promise<{ ok: boolean; text: string }> {
  try {
    const out = await new Deno.Command(cmd, { args, env, stdout: "piped", stderr: "piped" })
      .output();
    return {
      ok: out.success,
      text: new TextDecoder().decode(out.stdout) + new TextDecoder().decode(out.stderr),
    };
  } catch (err) {
    return { ok: false, text: (err as Error).message };
  }
}

function fileExists(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}

async function install(build: CudaBuild, dir: string): Promise<void> {
  if (build.cuda === 12) {
    const out = await output(Deno.execPath(), [
      "install",
      "--allow-scripts=npm:onnxruntime-node",
      "--reload=npm:onnxruntime-node",
    ], {
      ONNXRUNTIME_NODE_INSTALL: "cuda12",
    });
    if (!out.ok) {
      throw new Error(
        `onnxruntime-node's install script failed: ${out.text.trim().split("\n").at(-1)}`,
      );
    }
    return;
  }
  const work = await Deno.makeTempDir({ prefix: "pose_cuda_" });
  try {
    const pack = await new Deno.Command("npm", {
      args: ["pack", "-q", "com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9"],
      cwd: work,
      stdout: "piped",
      stderr: "piped",
    }).output().catch((err) => {
      throw new Error(`npm is needed to fetch the CUDA 13 build: ${(err as Error).message}`);
    });
    if (!pack.success) {
      throw new Error(`npm pack failed: ${new TextDecoder().decode(pack.stderr).trim()}`);
    }
    const tar = await output("tar", [
      "-xzf",
      `${work}/com.github.asus4.onnxruntime.linux-x64-gpu-0.4.9.tgz`,
      "-C",
      work,
      ...CUDA_PROVIDER_FILES.map((f) => `package/Plugins/Linux/x64/${f}`),
    ]);
    if (!tar.ok) throw new Error(`could not unpack the CUDA 13 build: ${tar.text.trim()}`);
    for (const file of CUDA_PROVIDER_FILES) {
      await Deno.copyFile(`${work}/package/Plugins/Linux/x64/${file}`, `${dir}/${file}`);
    }
  } finally {
    await Deno.remove(work, { recursive: true });
  }
}

async function main(): Promise<number> {
  const { values } = parseArgs({
    args: Deno.args[0] === "--" ? Deno.args.slice(1) : Deno.args,
    options: {
      cuda: { type: "string" },
      "dry-run": { type: "boolean", default: false },
      force: { type: "boolean", default: false },
    },
    strict: true,
  });
  if (values.cuda !== undefined && values.cuda !== "12" && values.cuda !== "13") {
    console.error(
      `pose-exporter cuda-setup: invalid --cuda: ${JSON.stringify(values.cuda)} is not 12 or 13`,
    );
    return 2;
  }
  const dir = ortNativeDir();
  if (dir === null) {
    console.error(
      "pose-exporter cuda-setup: onnxruntime-node is not installed here: run deno install first",
    );
    return 1;
  }
  const ldconfig = await output("ldconfig", ["-p"]);
  const runtimes = findCudaRuntimes(
    ldconfig.text,
    Deno.env.get("LD_LIBRARY_PATH") ?? "",
    fileExists,
  );
  const flag = values.cuda === undefined ? null : Number(values.cuda) as 12 | 13;
  const build = chooseCudaBuild(runtimes, flag);
  const gpu = await output("nvidia-smi", ["-L"]);
  console.log(
    `CUDA runtimes the loader finds: ${
      runtimes.length ? runtimes.map((m) => `libcudart.so.${m}`).join(", ") : "none"
    }`,
  );
  console.log(
    `GPUs: ${gpu.ok ? gpu.text.trim().split("\n").join("; ") : "none visible to nvidia-smi"}`,
  );
  if (missingCudaProviderFiles(dir).length === 0 && flag === null) {
    console.log(`The CUDA provider is already installed in ${dir}`);
    return 0;
  }
  const noGpu = !gpu.ok && !values.force;
  if (build === null || values["dry-run"] || noGpu) {
    const why = build === null
      ? "No CUDA runtime found, so nothing is installed."
      : noGpu
      ? `No GPU is visible, so nothing is installed (--force installs the CUDA ${build.cuda} build anyway).`
      : `Dry run: the CUDA ${build.cuda} build would be installed.`;
    console.log(
      `${why}\nWhat cuda-setup installs, into ${dir}:\n` +
        `  ${CUDA_PROVIDER_FILES.join(" and ")} of ONNX Runtime 1.29.0, from\n` +
        `  - with libcudart.so.12: ${CUDA_BUILDS[12].source}\n` +
        `  - with libcudart.so.13: ${CUDA_BUILDS[13].source}\n` +
        `On a GPU host, install the CUDA runtime, cuBLAS and cuDNN 9 (or put their folders in LD_LIBRARY_PATH) ` +
        `and run deno task cuda-setup again, or choose with --cuda 12|13. Without it the exporter runs on CPU.`,
    );
    return 0;
  }
  console.log(`Installing the CUDA ${build.cuda} provider from ${build.source}`);
  try {
    await install(build, dir);
  } catch (err) {
    console.error(`pose-exporter cuda-setup: ${(err as Error).message}`);
    return 1;
  }
  const missing = missingCudaProviderFiles(dir);
  if (missing.length > 0) {
    console.error(
      `pose-exporter cuda-setup: after the install ${
        missing.join(", ")
      } is still missing from ${dir}`,
    );
    return 1;
  }
  console.log(`Installed into ${dir}. Run: deno task start --provider cuda ...`);
  return 0;
}

if (import.meta.main) Deno.exit(await main());
