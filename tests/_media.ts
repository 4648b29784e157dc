// Makes small test videos with the real ffmpeg, and finds ffmpeg processes left behind.

/** Options of {@linkcode makeVideo}. */
export interface MakeVideoOptions {
  width: number;
  height: number;
  fps: number;
  frames: number;
  /** Container by extension: .mp4 (moov at the end, as a recorder writes it) or .ts. */
}

/** Writes an H.264 test-pattern video of exactly `frames` frames to `path`. */
export async function makeVideo(path: string, o: MakeVideoOptions): Promise<void> {
  const out = await new Deno.Command("ffmpeg", {
    args: [
      "-hide_banner",
      "-loglevel",
      "error",
      "-f",
      "lavfi",
      "-i",
      `testsrc=size=${o.width}x${o.height}:rate=${o.fps}`,
      "-frames:v",
      String(o.frames),
      "-c:v",
      "libx264",
      "-pix_fmt",
      "yuv420p",
      "-g",
      String(o.fps),
      "-y",
      path,
    ],
    stdin: "null",
    stdout: "null",
    stderr: "piped",
  }).output();
  if (!out.success) {
    throw new Error(`ffmpeg could not make ${path}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

/** Copies the first half of `from` to `to`: a recording cut off midway. */
export async function cutInHalf(from: string, to: string): Promise<void> {
  const bytes = await Deno.readFile(from);
  await Deno.writeFile(to, bytes.subarray(0, Math.floor(bytes.length / 2)));
}

/** Pids of running (not zombie) processes whose command line mentions `marker`, from `ps`. */
export async function processesMentioning(marker: string): Promise<number[]> {
  const out = await new Deno.Command("ps", { args: ["-eo", "pid=,stat=,args="], stdout: "piped" })
    .output();
  const pids: number[] = [];
  for (const line of new TextDecoder().decode(out.stdout).split("\n")) {
    const m = /^\s*(\d+)\s+(\S+)\s+(.*)$/.exec(line);
    if (!m || m[2]!.startsWith("Z") || !m[3]!.includes(marker) || m[3]!.startsWith("ps ")) continue;
    if (Number(m[1]) !== Deno.pid) pids.push(Number(m[1]));
  }
  return pids;
}

/** Waits until `check()` holds, polling every 50 ms, or fails after `timeoutMs` with `what`. */
export async function waitFor(
  check: () => boolean,
  what: string,
  timeoutMs = 20_000,
): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!check()) {
    if (Date.now() > deadline) throw new Error(`Gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
