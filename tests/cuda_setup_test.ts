import { assert, assertEquals } from "./_assert.ts";
import { ROOT } from "./_helpers.ts";
import { chooseCudaBuild, findCudaRuntimes } from "../scripts/cuda_setup.ts";

const LDCONFIG_12 = `2 libs found in cache \`/etc/ld.so.cache'
	libcudart.so.12 (libc6,x86-64) => /usr/local/cuda-12.4/lib64/libcudart.so.12
	libz.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libz.so.1
`;
const LDCONFIG_13 = `1 libs found in cache \`/etc/ld.so.cache'
	libcudart.so.13 (libc6,x86-64) => /usr/local/cuda-13.0/lib/libcudart.so.13
`;

Deno.test("findCudaRuntimes() reads the loader cache and LD_LIBRARY_PATH", () => {
  const none = () => false;
  assertEquals(findCudaRuntimes(LDCONFIG_12, "", none), [12]);
  assertEquals(findCudaRuntimes(LDCONFIG_13, "", none), [13]);
  assertEquals(findCudaRuntimes("libcudart.so (libc6,x86-64) => /x/libcudart.so\n", "", none), []);
  const pipCuda = "/opt/venv/site-packages/nvidia/cu13/lib";
  assertEquals(
    findCudaRuntimes("", `/usr/lib:${pipCuda}`, (p) => p === `${pipCuda}/libcudart.so.13`),
    [13],
  );
  assertEquals(findCudaRuntimes(LDCONFIG_12, pipCuda, (p) => p === `${pipCuda}/libcudart.so.13`), [
    12,
    13,
  ]);
});

Deno.test("chooseCudaBuild() picks the build for the runtime found, and a flag wins", () => {
  assertEquals(chooseCudaBuild([12], null)?.cuda, 12);
  assertEquals(chooseCudaBuild([13], null)?.cuda, 13);
  assertEquals(chooseCudaBuild([12, 13], null)?.cuda, 13, "the newer when both are there");
  assertEquals(chooseCudaBuild([], null), null);
  assertEquals(chooseCudaBuild([13], 12)?.cuda, 12);
  assertEquals(chooseCudaBuild([], 13)?.cuda, 13);
  assert(chooseCudaBuild([12], null)!.source.includes("ONNXRUNTIME_NODE_INSTALL=cuda12"));
  assert(
    chooseCudaBuild([13], null)!.source.includes(
      "com.github.asus4.onnxruntime.linux-x64-gpu@0.4.9",
    ),
  );
});

Deno.test("cuda-setup - on a machine without a GPU explains what it would install and exits 0", async () => {
  let hasGpu = false;
  try {
    hasGpu = (await new Deno.Command("nvidia-smi", { args: ["-L"], stdout: "null", stderr: "null" })
      .output()).success;
  } catch {
    // no nvidia-smi: no GPU
  }
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "cuda-setup", ...(hasGpu ? ["--dry-run"] : [])],
    cwd: ROOT.pathname,
    stdout: "piped",
    stderr: "piped",
    env: { NO_COLOR: "1" },
  }).output();
  const text = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 0, new TextDecoder().decode(out.stderr));
  assert(/nothing is installed|Dry run/.test(text), text);
  assert(text.includes("libonnxruntime_providers_cuda.so"), text);
  assert(text.includes("with libcudart.so.12") && text.includes("with libcudart.so.13"), text);
});
