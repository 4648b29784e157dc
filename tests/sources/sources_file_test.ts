import { assert, assertEquals, assertRejects } from "../_assert.ts";
import {
  loadSources,
  parseSourcesText,
  SourcesFileError,
  watchSourcesFile,
} from "../../src/sources/sources_file.ts";
import { MAX_SOURCE_LENGTH, resolveSourceArgs } from "../../src/sources/source_uri.ts";

Deno.test("parseSourcesText() skips comments and blank lines and keeps line numbers", () => {
  const args = parseSourcesText(
    "cams.txt",
    "# lobby\n\ncam1=rtsp://10.0.0.5/s\n  ./my videos/a b.mp4  \n",
  );
  assertEquals(args, [
    { text: "cam1=rtsp://10.0.0.5/s", origin: "cams.txt:3" },
    { text: "./my videos/a b.mp4", origin: "cams.txt:4" },
  ]);
});

Deno.test("loadSources() names the file and line of a bad entry and of a duplicate id", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sources.txt`;
  await Deno.writeTextFile(path, "a=synthetic\nb=ftp://x\na=synthetic@5\n");
  const err = await assertRejects(
    () => loadSources(path, [{ text: "c=synthetic", origin: '--source "c=synthetic"' }]),
    SourcesFileError,
  );
  const problems = (err as SourcesFileError).problems;
  assertEquals(problems.length, 2, problems.join("\n"));
  assert(problems[0]!.startsWith(`Invalid ${path}:2: unsupported URI`), problems[0]);
  assert(
    problems[1]!.includes(`${path}:3: stream id "a" is already defined by ${path}:1`),
    problems[1],
  );
  await Deno.writeTextFile(path, "# nothing yet\n");
  assertEquals((await loadSources(path, [])).specs, []);
  await assertRejects(() => loadSources(`${dir}/missing.txt`, []), SourcesFileError, "Cannot read");
  await Deno.remove(dir, { recursive: true });
});

Deno.test("watchSourcesFile() sees an edit that keeps the size, the mtime and the inode", async () => {
  const dir = await Deno.makeTempDir();
  const path = `${dir}/sources.txt`;
  await Deno.writeTextFile(path, "a=synthetic\n");
  const mtime = new Date(2026, 0, 1);
  await Deno.utime(path, mtime, mtime);
  let changes = 0;
  const watch = watchSourcesFile(path, () => changes++, { quietMs: 50, pollMs: 100 });
  try {
    // Same length, written in place (same inode), mtime set back.
    const file = await Deno.open(path, { write: true });
    await file.write(new TextEncoder().encode("b=synthetic\n"));
    file.close();
    await Deno.utime(path, mtime, mtime);
    const deadline = Date.now() + 5000;
    while (changes === 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
    assertEquals(changes, 1);
  } finally {
    watch.stop();
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("resolveSourceArgs() refuses a source over 4096 characters without quoting it whole", () => {
  const huge = "a=" + "x".repeat(50_000);
  const { sources, problems } = resolveSourceArgs([{ text: huge, origin: "sources.txt:1" }]);
  assertEquals(sources, []);
  assertEquals(problems, [
    `Invalid sources.txt:1: the source is 50002 characters long, over the limit of ${MAX_SOURCE_LENGTH}`,
  ]);
});
