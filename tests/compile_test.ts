// deno task compile: its clear refusals, and the binary itself where a Deno runtime (denort) is at hand.

import { assert, assertEquals } from "./_assert.ts";
import { freePort, parseSamples, pollUntil, ROOT } from "./_helpers.ts";
import { VERSION } from "../src/version.ts";

async function compileTask(env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile"],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1", ...env },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

Deno.test("compile - DENORT_BIN that is not a runtime is refused in one clear line", async () => {
  const fake = await Deno.makeTempFile({ suffix: "-denort" });
  await Deno.writeTextFile(fake, "#!/bin/sh\necho not a runtime\n");
  try {
    const { code, stderr } = await compileTask({ DENORT_BIN: fake });
    assertEquals(code, 1);
    const lines = stderr.split("\n").filter((l) => l.startsWith("pose-exporter compile:"));
    assertEquals(lines.length, 1, stderr);
    assert(lines[0]!.includes(`DENORT_BIN=${fake} is not a Deno runtime`), lines[0]);
    assert(
      lines[0]!.includes("set DENORT_BIN to the denort binary of Deno"),
      "it says how to supply one",
    );
    assert(!stderr.includes("    at "), "no stack trace");
  } finally {
    await Deno.remove(fake);
  }
});

/** A real denort is one named by DENORT_BIN that is an ELF file and not the deno CLI itself. */
function realDenort(): string | null {
  const path = Deno.env.get("DENORT_BIN");
  if (!path) return null;
  try {
    const head = Deno.readFileSync(path).subarray(0, 4);
    return head[0] === 0x7f && head[1] === 0x45 &&
        Deno.realPathSync(path) !== Deno.realPathSync(Deno.execPath())
      ? path
      : null;
  } catch {
    return null;
  }
}

const denort = realDenort();

Deno.test({
  name: denort
    ? "compile - builds ./pose-exporter, which serves metrics like deno task start"
    : "compile - builds ./pose-exporter (skipped: no Deno runtime here; deno compile downloads denort from the " +
      "internet, out of reach on this machine: set DENORT_BIN to a denort 2.9.6 to run it)",
  ignore: denort === null,
  fn: async () => {
    const built = await compileTask({ DENORT_BIN: denort! });
    assertEquals(built.code, 0, built.stderr);
    const binary = new URL("pose-exporter", ROOT).pathname;
    const version = await new Deno.Command(binary, { args: ["--version"], stdout: "piped" })
      .output();
    assertEquals(new TextDecoder().decode(version.stdout).trim(), `pose-exporter ${VERSION}`);
    const port = freePort();
    const child = new Deno.Command(binary, {
      args: ["--streams", "2", "--listen", `127.0.0.1:${port}`, "--provider", "cpu"],
      stdout: "null",
      stderr: "piped",
    }).spawn();
    try {
      const text = await pollUntil(
        `http://127.0.0.1:${port}/metrics`,
        (t) => parseSamples(t).filter((s) => s.name === "pose_fps" && s.value > 0).length === 2,
        60_000,
      );
      assert(text.includes("pose_latency_ms"));
    } finally {
      child.kill("SIGTERM");
      assertEquals((await child.status).code, 0);
      await child.stderr.cancel();
    }
  },
});
