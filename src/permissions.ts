// The Deno permissions the exporter runs with: `deno task start`, the compiled binary, the tests.

/**
 * Read and write (models, results, nvidia-smi fixtures), net (the metrics server), env, run
 * (ffmpeg, ffprobe, nvidia-smi, ldd), ffi (onnxruntime-node's addon) and sys (process metrics).
 * Kept equal to the permissions of the start, demo and test tasks in deno.json (a test checks).
 */
export const EXPORTER_PERMISSIONS = [
  "--allow-read",
  "--allow-write",
  "--allow-net",
  "--allow-env",
  "--allow-run",
  "--allow-ffi",
  "--allow-sys",
] as const;
