import { assert, assertEquals, assertRejects } from "../_assert.ts";
import { loadSources, parseSourcesText, SourcesFileError } from "../../src/sources/sources_file.ts";

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
