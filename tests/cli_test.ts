// The exporter's command line as a user meets it: help, version, refusals and their exit codes.

import { assert, assertEquals } from "./_assert.ts";
import { fixturePath, freePort, jsonLogs, runExporter } from "./_helpers.ts";
import { VERSION } from "../src/version.ts";

Deno.test("cli - --help prints every flag and exits 0", async () => {
  const { code, stdout } = await runExporter(["--help"]);
  assertEquals(code, 0);
  assert(stdout.includes("--batch-timeout-ms"), stdout);
});

Deno.test("cli - --version prints the version", async () => {
  const { code, stdout } = await runExporter(["--", "--version"]);
  assertEquals(code, 0);
  assertEquals(stdout.trim(), `pose-exporter ${VERSION}`);
});

Deno.test("cli - a bad flag exits 2 with a message naming it", async () => {
  const { code, stderr } = await runExporter([
    "--streams",
    "1",
    "--batch-size",
    "many",
    "--frobnicate",
  ]);
  assertEquals(code, 2);
  assert(stderr.includes('Invalid --batch-size: "many"'), stderr);
  assert(stderr.includes("pose-exporter: Unknown flag: --frobnicate (see --help)"), stderr);
  assert(stderr.endsWith("\nRun with --help for the flags.\n"), stderr);
  assert(!stderr.includes("    at "), "no stack trace");
});

Deno.test("cli - a listen port in use exits 1 with a clear message", async () => {
  const port = freePort();
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  try {
    const { code, stderr } = await runExporter(["--streams", "1", "--listen", `127.0.0.1:${port}`]);
    assertEquals(code, 1);
    assert(
      stderr.includes(`Cannot listen on 127.0.0.1:${port}: the address is already in use`),
      stderr,
    );
    assert(!stderr.includes("    at "), "no stack trace");
  } finally {
    listener.close();
  }
});

Deno.test("cli - a missing, corrupt or unknown model exits 1 naming the file", async () => {
  for (
    const [name, why] of [
      ["missing.onnx", "file not found"],
      ["corrupt.onnx", "not an ONNX model"],
      ["unknown_layout.onnx", "Unknown model layout"],
    ]
  ) {
    const path = fixturePath(name!);
    const { code, stderr } = await runExporter([
      "--streams",
      "1",
      "--listen",
      `127.0.0.1:${freePort()}`,
      "--model",
      path,
    ]);
    assertEquals(code, 1, stderr);
    assert(stderr.includes(path) && stderr.includes(why!), stderr);
  }
});

Deno.test("cli - --provider cuda without the CUDA provider exits 1 naming the missing library", async () => {
  const { code, stderr } = await runExporter([
    "--streams",
    "1",
    "--listen",
    `127.0.0.1:${freePort()}`,
    "--provider",
    "cuda",
    "--duration",
    "1",
  ]);
  if (code === 0) return; // A host with the CUDA provider installed runs; nothing to refuse.
  assertEquals(code, 1, stderr);
  assert(stderr.includes("Cannot use execution provider cuda: libonnxruntime_providers"), stderr);
});

Deno.test("cli - --duration stops the exporter by itself with exit 0", async () => {
  const { code, stderr } = await runExporter([
    "--streams",
    "1",
    "--listen",
    `127.0.0.1:${freePort()}`,
    "--duration",
    "1",
    "--log-format",
    "json",
  ]);
  assertEquals(code, 0, stderr);
  const stopped = jsonLogs(stderr)
    .find((l) => l.msg === "stopping");
  assertEquals(stopped?.reason, "duration elapsed");
});

Deno.test("cli - the start, demo and test tasks run with the exporter's permissions, no more", async () => {
  const { EXPORTER_PERMISSIONS } = await import("../src/permissions.ts");
  const tasks = JSON.parse(await Deno.readTextFile(new URL("../deno.json", import.meta.url))).tasks;
  for (const name of ["start", "demo", "test"]) {
    const flags = (tasks[name] as string).split(" ").filter((w) =>
      w.startsWith("--allow-") || w === "-A"
    );
    assertEquals(flags, [...EXPORTER_PERMISSIONS], name);
  }
});

Deno.test("cli - a missing ffmpeg stops the start only when a source needs it, naming it", async () => {
  const missing = "/nonexistent/ffmpeg";
  const needed = await runExporter([
    "--source",
    "lobby=/tmp/lobby.mp4",
    "--listen",
    `127.0.0.1:${freePort()}`,
    "--ffmpeg",
    missing,
  ]);
  assertEquals(needed.code, 1);
  assert(
    needed.stderr.includes(`Cannot start lobby: ffmpeg not found at "${missing}"`),
    needed.stderr,
  );
  const unneeded = await runExporter([
    "--streams",
    "1",
    "--listen",
    `127.0.0.1:${freePort()}`,
    "--ffmpeg",
    missing,
    "--duration",
    "1",
  ]);
  assertEquals(unneeded.code, 0, unneeded.stderr);
});
