// The --help text generated from a flag table: defaults, ranges and variables written once, there.

import { assert, assertEquals } from "../_assert.ts";
import { type FlagSpec, HELP_FLAG } from "../../src/cli/flags.ts";
import { flagLine, renderUsage, wrapText } from "../../src/cli/usage.ts";

Deno.test("flagLine() shows the flag's default, range and variable from its entry", () => {
  const flag: FlagSpec = {
    name: "timeout-ms",
    kind: "integer",
    arg: "N",
    default: "3000",
    min: 1,
    max: 600000,
    env: "X_TIMEOUT_MS",
    help: "deadline of each request",
  };
  assertEquals(
    flagLine(flag, 18),
    "  --timeout-ms N   deadline of each request (default 3000; 1..600000; env X_TIMEOUT_MS)",
  );
  assertEquals(flagLine(HELP_FLAG, 14), "  -h, --help   print this help and exit");
});

Deno.test("renderUsage() lays out the usage lines, wrapped paragraphs, the flags and the notes", () => {
  const text = renderUsage({
    synopsis: ["tool [flags]", "tool sub [flags]"],
    about: ["One paragraph."],
    flags: [{ name: "json", kind: "boolean", help: "print JSON" }, HELP_FLAG],
    notes: ["A note."],
  });
  assertEquals(text.split("\n"), [
    "Usage: tool [flags]",
    "       tool sub [flags]",
    "",
    "One paragraph.",
    "",
    "Flags:",
    "  --json       print JSON",
    "  -h, --help   print this help and exit",
    "",
    "A note.",
  ]);
});

Deno.test("wrapText() breaks at spaces within the width, a longer word standing alone", () => {
  assertEquals(wrapText("aa bb cc dd", 5), ["aa bb", "cc dd"]);
  assertEquals(wrapText("a verylongword b", 5), ["a", "verylongword", "b"]);
  const lines = wrapText("word ".repeat(60));
  assert(lines.every((l) => l.length <= 96), lines.join("\n"));
});
