// deno task compile: what it leaves out and why, its one-line refusals, one real deno compile with the
// deno CLI standing in for denort (the embedding checked), and the binary itself where a denort is at hand.

import { assert, assertEquals } from "./_assert.ts";
import { freePort, parseSamples, pollUntil, ROOT } from "./_helpers.ts";
import { VERSION } from "../src/version.ts";
import { ortNativeDir } from "../src/pose/ort_libraries.ts";
import {
  checkEmbedded,
  CompileError,
  describeCompileFailure,
  describeWrongRuntime,
  entryDirsOf,
  isEmbedded,
  lastLine,
  outputTmpFiles,
  parseEmbeddedTree,
  planExcludes,
  requiredNatives,
  type TreeFile,
  usedPackageFolders,
  WORKER_MODULE,
} from "../scripts/compile.ts";

const BINARY = new URL("pose-exporter", ROOT).pathname;
const SUMMARY =
  /^compile: embedded (\d+) files \((\d+(?:\.\d+)?) MiB\), binary (\d+(?:\.\d+)?) MiB$/;

async function compileTask(env: Record<string, string>) {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["task", "compile"],
    cwd: ROOT.pathname,
    env: { NO_COLOR: "1", ...env },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** The task's own lines on stderr (deno task adds a "Task compile ..." line of its own). */
function refusals(stderr: string): string[] {
  return stderr.split("\n").filter((l) => l.startsWith("pose-exporter compile:"));
}

// --- What is left out ---------------------------------------------------------------------------

const PKG = "node_modules/.deno/onnxruntime-node@1.29.0/node_modules/onnxruntime-node";
const BT = "node_modules/.deno/bintrees@1.0.2/node_modules/bintrees";
const PB = "node_modules/.deno/protobufjs@6.11.6/node_modules/protobufjs";
const TREE: TreeFile[] = [
  { path: "node_modules/.deno/.deno.lock", size: 12 },
  { path: `${PKG}/package.json`, size: 1 },
  { path: `${PKG}/README.md`, size: 3 },
  { path: `${PKG}/dist/index.js`, size: 2 },
  { path: `${PKG}/dist/index.d.ts`, size: 2 },
  { path: `${PKG}/bin/napi-v6/linux/x64/onnxruntime_binding.node`, size: 10 },
  { path: `${PKG}/bin/napi-v6/linux/x64/libonnxruntime.so.1`, size: 100 },
  { path: `${PKG}/bin/napi-v6/linux/arm64/onnxruntime_binding.node`, size: 10 },
  { path: `${PKG}/bin/napi-v6/linux/arm64/libonnxruntime.so.1`, size: 90 },
  { path: `${PKG}/bin/napi-v6/darwin/arm64/libonnxruntime.1.dylib`, size: 80 },
  { path: `${PKG}/bin/napi-v6/win32/x64/onnxruntime.dll`, size: 70 },
  { path: `${BT}/package.json`, size: 1 },
  { path: `${BT}/LICENSE`, size: 1 },
  { path: `${BT}/LICENSE.md`, size: 1 },
  { path: `${BT}/lib/rbtree.js`, size: 5 },
  { path: `${BT}/test/perf/100k`, size: 2_000_000 },
  { path: `${BT}/examples/a.js`, size: 1 },
  { path: `${PB}/package.json`, size: 1 },
  { path: `${PB}/src/root.js`, size: 4 },
  { path: `${PB}/cli/package.json`, size: 1 },
  { path: `${PB}/cli/pbjs.js`, size: 6 },
  { path: `${PB}/cli/node_modules/espree/index.js`, size: 9 },
  { path: "node_modules/.deno/odd@1.0.0/node_modules/odd/test/index.js", size: 3 },
  { path: "node_modules/.deno/odd@1.0.0/node_modules/odd/package.json", size: 1 },
];
const ODD_ENTRY = new Map([["node_modules/.deno/odd@1.0.0/node_modules/odd", new Set(["test"])]]);

Deno.test("planExcludes() leaves out other platforms' natives, keeping linux-x64's addon and library", () => {
  const plan = planExcludes(TREE, { entryDirs: ODD_ENTRY });
  const kept = plan.kept.map((f) => f.path);
  assert(kept.includes(`${PKG}/bin/napi-v6/linux/x64/onnxruntime_binding.node`));
  assert(kept.includes(`${PKG}/bin/napi-v6/linux/x64/libonnxruntime.so.1`));
  assert(plan.paths.includes(`${PKG}/bin/napi-v6/darwin`), plan.paths.join("\n"));
  assert(plan.paths.includes(`${PKG}/bin/napi-v6/win32`));
  assert(plan.paths.includes(`${PKG}/bin/napi-v6/linux/arm64`));
  assert(!plan.paths.some((p) => p.includes("/linux/x64")));
  assertEquals(plan.excluded.natives, { files: 4, bytes: 250 });
});

Deno.test("planExcludes() leaves out tests, examples, docs, declarations and a bundled tool package", () => {
  const plan = planExcludes(TREE, { entryDirs: ODD_ENTRY });
  for (
    const path of [
      `${BT}/test`,
      `${BT}/examples`,
      `${PB}/cli`,
      `${PKG}/README.md`,
      `${PKG}/dist/index.d.ts`,
    ]
  ) assert(plan.paths.includes(path), `${path} not in ${plan.paths.join(", ")}`);
  assertEquals(plan.excluded.tests, { files: 2, bytes: 2_000_001 });
  assertEquals(plan.excluded.tools.files, 3);
  const kept = plan.kept.map((f) => f.path);
  for (
    const path of [
      `${BT}/LICENSE`,
      `${BT}/LICENSE.md`,
      `${BT}/lib/rbtree.js`,
      `${PB}/src/root.js`,
      `${PKG}/dist/index.js`,
      "node_modules/.deno/.deno.lock",
    ]
  ) assert(kept.includes(path), `${path} was left out`);
  assertEquals(
    plan.kept.length + Object.values(plan.excluded).reduce((n, c) => n + c.files, 0),
    TREE.length,
  );
});

Deno.test("planExcludes() keeps a test-named folder that the package's entry points lie in", () => {
  const plan = planExcludes(TREE, { entryDirs: ODD_ENTRY });
  assert(plan.kept.some((f) => f.path.endsWith("/odd/test/index.js")));
  const without = planExcludes(TREE);
  assert(!without.kept.some((f) => f.path.endsWith("/odd/test/index.js")));
});

Deno.test("planExcludes() leaves out packages the module graph does not reach, and links into them", () => {
  const used = new Set([
    "node_modules/.deno/onnxruntime-node@1.29.0",
    "node_modules/.deno/bintrees@1.0.2",
    "node_modules/.deno/protobufjs@6.11.6",
  ]);
  const tree = [...TREE, { path: "node_modules/.deno/odd@1.0.0/.initialized", size: 0 }];
  const plan = planExcludes(tree, {
    usedPackages: used,
    links: [
      { path: "node_modules/odd", target: "node_modules/.deno/odd@1.0.0/node_modules/odd" },
      {
        path: "node_modules/.bin/odd",
        target: "node_modules/.deno/odd@1.0.0/node_modules/odd/test/index.js",
      },
      { path: "node_modules/bintrees", target: BT },
      { path: "node_modules/.deno/odd@1.0.0/node_modules/x", target: BT },
      { path: "node_modules/broken", target: null },
    ],
  });
  assertEquals(plan.excluded.unused, { files: 3, bytes: 4 });
  assert(plan.paths.includes("node_modules/.deno/odd@1.0.0"), plan.paths.join("\n"));
  assert(plan.paths.includes("node_modules/odd"));
  assert(plan.paths.includes("node_modules/.bin/odd"));
  assert(!plan.paths.includes("node_modules/bintrees"), "a link into a package in use stays");
  assert(
    !plan.paths.includes("node_modules/.deno/odd@1.0.0/node_modules/x"),
    "inside a folder that goes",
  );
  assert(!plan.paths.includes("node_modules/broken"));
  assert(
    !planExcludes(tree).kept.every((f) => !f.path.includes("/odd/")),
    "null keeps every package",
  );
});

Deno.test("usedPackageFolders() follows npm modules to their packages' dependencies", () => {
  const root = "/repo/";
  const at = (folder: string, name: string) =>
    `${root}node_modules/.deno/${folder}/node_modules/${name}`;
  const graph = {
    modules: [
      { specifier: "file:///repo/main.ts" },
      { specifier: "npm:/prom-client@15.1.3", npmPackage: "prom-client@15.1.3" },
    ],
    npmPackages: {
      "prom-client@15.1.3": {
        dependencies: ["tdigest@0.1.3"],
        localPath: at("prom-client@15.1.3", "prom-client"),
      },
      "tdigest@0.1.3": {
        dependencies: ["bintrees@1.0.2"],
        localPath: at("tdigest@0.1.3", "tdigest"),
      },
      "bintrees@1.0.2": { dependencies: [], localPath: at("bintrees@1.0.2", "bintrees") },
      "ajv-formats@3.0.1_ajv@8.20.0": {
        dependencies: [],
        localPath: at("ajv-formats@3.0.1", "ajv-formats"),
      },
    },
  };
  assertEquals(
    usedPackageFolders([graph], root),
    new Set([
      "node_modules/.deno/prom-client@15.1.3",
      "node_modules/.deno/tdigest@0.1.3",
      "node_modules/.deno/bintrees@1.0.2",
    ]),
  );
  const elsewhere = structuredClone(graph);
  elsewhere.npmPackages["tdigest@0.1.3"].localPath = "/home/u/.cache/deno/npm/tdigest/0.1.3";
  assertEquals(usedPackageFolders([elsewhere], root), null);
});

Deno.test("entryDirsOf() collects the folders of main, module, browser and exports", () => {
  assertEquals(
    entryDirsOf({
      main: "./dist/index.js",
      module: "esm/index.js",
      exports: {
        ".": { import: "./lib/a.mjs", require: "./cjs/a.js" },
        "./package.json": "./package.json",
      },
      bin: { tool: "bin/tool.js" },
    }),
    new Set(["dist", "esm", "lib", "cjs"]),
  );
  assertEquals(entryDirsOf(null), new Set());
});

Deno.test("requiredNatives() finds linux-x64's addon folder and refuses one without libonnxruntime.so.1", () => {
  const natives = requiredNatives(planExcludes(TREE).kept).map((f) => f.path.split("/").at(-1));
  assertEquals(natives.sort(), ["libonnxruntime.so.1", "onnxruntime_binding.node"]);
  let message = "";
  try {
    requiredNatives(TREE.filter((f) => !f.path.endsWith("x64/libonnxruntime.so.1")));
  } catch (err) {
    assert(err instanceof CompileError);
    message = err.message;
  }
  assert(message.startsWith("libonnxruntime.so.1 is missing beside"), message);
});

// --- deno compile's file list -------------------------------------------------------------------

const LISTING = `Compile main.ts to pose-exporter

Embedded Files

pose-exporter
├── main.ts (3.43KB)
├─┬ node_modules (48.02MB - 47.97MB unique)
│ ├── .bin/* (0B)
│ ├─┬ .deno (48.02MB - 47.97MB unique)
│ │ ├─┬ onnxruntime-node@1.29.0 (43.08MB - 43.08MB unique)
│ │ │ └─┬ node_modules (43.08MB - 43.08MB unique)
│ │ │   ├── adm-zip --> node_modules/.deno/adm-zip@0.6.1/node_modules/adm-zip
│ │ │   └─┬ onnxruntime-node (43.08MB - 43.08MB unique)
│ │ │     ├── bin/napi-v6/linux/x64/* (43.03MB)
│ │ │     └── package.json (1.56KB)
│ │ └── yaml@2.9.1/* (675.51KB - 674.01KB unique)
│ └── yaml --> node_modules/.deno/yaml@2.9.1/node_modules/yaml
└─┬ src (514.61KB)
  └─┬ pose (224.15KB)
    └── inference_worker.ts (9.11KB)

Files: 48.59MB
`;

Deno.test("parseEmbeddedTree() rebuilds full paths, whole folders and links from deno's tree", () => {
  const entries = parseEmbeddedTree(LISTING);
  const addonDir = `${PKG}/bin/napi-v6/linux/x64`;
  assert(entries.some((e) => e.path === addonDir && e.whole));
  assert(entries.some((e) => e.path === "node_modules/yaml" && e.link));
  assert(isEmbedded(entries, `${addonDir}/onnxruntime_binding.node`));
  assert(isEmbedded(entries, "node_modules/.deno/yaml@2.9.1/node_modules/yaml/dist/index.js"));
  assert(isEmbedded(entries, WORKER_MODULE));
  assert(!isEmbedded(entries, "src/pose/inference.ts"));
  assert(!isEmbedded(entries, `${PKG}/bin/napi-v6/linux/arm64/libonnxruntime.so.1`));
  assertEquals(parseEmbeddedTree("no tree here"), []);
});

Deno.test("checkEmbedded() names a missing file and a native for another platform", () => {
  const entries = parseEmbeddedTree(LISTING);
  checkEmbedded(entries, [WORKER_MODULE, `${PKG}/bin/napi-v6/linux/x64/libonnxruntime.so.1`]);
  const fail = (e: typeof entries, required: string[]) => {
    try {
      checkEmbedded(e, required);
    } catch (err) {
      assert(err instanceof CompileError);
      return err.message;
    }
    return "";
  };
  assertEquals(
    fail(entries, ["src/pose/missing.ts"]),
    "deno compile's embedded file list lacks src/pose/missing.ts",
  );
  const darwin = [...entries, {
    path: `${PKG}/bin/napi-v6/darwin/arm64`,
    whole: true,
    link: false,
  }];
  assert(fail(darwin, []).startsWith("deno compile embedded a native for darwin-arm64"));
});

// --- Failures in one line -----------------------------------------------------------------------

Deno.test("describeCompileFailure() quotes deno's last line for a crash, without guesses", () => {
  const text = "Compile main.ts to pose-exporter\n\nthread 'tokio-runtime-worker' (10780) has " +
    "overflowed its stack\nfatal runtime error: stack overflow, aborting\n";
  const line = describeCompileFailure({ code: 134, signal: "SIGABRT", text }, null);
  assertEquals(
    line,
    'deno compile crashed (signal SIGABRT): "fatal runtime error: stack overflow, aborting"',
  );
});

Deno.test("describeCompileFailure() says how to supply a runtime when the download fails", () => {
  const text =
    "Download https://dl.deno.land/release/v2.9.6/denort-x86_64-unknown-linux-gnu.zip\n" +
    "error: Writing deno compile executable to temporary file '/x/pose-exporter.tmp-0d52'\n\n" +
    "Caused by:\n    0: Setting up base binary.\n    1: error sending request for url\n" +
    "    4: failed to lookup address information: Name or service not known\n\n" +
    "Stack backtrace:\n   0: <unknown>\n";
  const line = describeCompileFailure({ code: 1, signal: null, text }, null);
  assert(line.startsWith("deno compile could not download its runtime"), line);
  assert(line.includes("(failed to lookup address information: Name or service not known)"), line);
  assert(line.includes("set DENORT_BIN to the denort binary of Deno"), line);
  assertEquals(lastLine(text), "failed to lookup address information: Name or service not known");
});

Deno.test("describeCompileFailure() names the first type error", () => {
  const text = "Check main.ts\nTS2724 [ERROR]: '\"./a.ts\"' has no exported member named 'b'.\n" +
    "    at file:///r/src/app.ts:18:10\n\nFound 1 error.\n\nerror: Type checking failed.\n";
  assertEquals(
    describeCompileFailure({ code: 1, signal: null, text }, "/opt/denort"),
    "deno compile stopped at the type check: TS2724 '\"./a.ts\"' has no exported member named 'b'. " +
      "(deno check main.ts lists every error)",
  );
});

Deno.test("describeWrongRuntime() tells the deno CLI stand-in from another program", () => {
  const cli = describeWrongRuntime(
    "deno 2.9.6 (stable, release, x86_64-unknown-linux-gnu)\nv8 14",
    "/d",
  );
  assert(
    cli.startsWith("DENORT_BIN=/d is the deno CLI, not denort: the embedding was verified"),
    cli,
  );
  assert(cli.includes("a runnable binary needs a real denort"), cli);
  const other = describeWrongRuntime("", null);
  assert(
    other.startsWith(
      'the downloaded runtime is not a denort runtime: the binary it made answered --version with ""',
    ),
  );
});

Deno.test("outputTmpFiles() finds the temporary files deno compile leaves beside the output", async () => {
  const dir = await Deno.makeTempDir();
  try {
    await Deno.writeTextFile(`${dir}/pose-exporter.tmp-c27ed7b4242f65a9`, "");
    await Deno.writeTextFile(`${dir}/pose-exporter`, "");
    assertEquals(
      await outputTmpFiles(`${dir}/pose-exporter`),
      new Set([`${dir}/pose-exporter.tmp-c27ed7b4242f65a9`]),
    );
    assertEquals(await outputTmpFiles(`${dir}/missing/pose-exporter`), new Set());
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("compile - DENORT_BIN that is not a runtime is refused in one clear line", async () => {
  const fake = await Deno.makeTempFile({ suffix: "-denort" });
  await Deno.writeTextFile(fake, "#!/bin/sh\necho not a runtime\n");
  try {
    const { code, stdout, stderr } = await compileTask({ DENORT_BIN: fake });
    assertEquals(code, 1);
    const lines = refusals(stderr);
    assertEquals(lines.length, 1, stderr);
    assert(lines[0]!.includes(`DENORT_BIN=${fake} is not a Deno runtime`), lines[0]);
    assert(
      lines[0]!.includes("set DENORT_BIN to the denort binary of Deno"),
      "it says how to supply one",
    );
    assertEquals(stdout, "");
    assert(!stderr.includes("    at "), "no stack trace");
  } finally {
    await Deno.remove(fake);
  }
});

Deno.test("compile - DENORT_BIN=/bin/true is refused in one line naming DENORT_BIN", async () => {
  const { code, stdout, stderr } = await compileTask({ DENORT_BIN: "/bin/true" });
  assertEquals(code, 1);
  const lines = refusals(stderr);
  assertEquals(lines.length, 1, stderr);
  assert(
    lines[0]!.startsWith("pose-exporter compile: DENORT_BIN=/bin/true is not a Deno runtime"),
    lines[0],
  );
  assertEquals(stdout, "");
});

// --- One real deno compile, the deno CLI standing in for denort ---------------------------------

Deno.test("compile - with the deno CLI as runtime, embeds linux-x64 natives and the worker under 160 MiB", async () => {
  const before = await outputTmpFiles(BINARY);
  const { code, stdout, stderr } = await compileTask({ DENORT_BIN: Deno.execPath() });
  try {
    // Refused in one line, after the compile ran to its end.
    assertEquals(code, 1, stderr);
    const lines = refusals(stderr);
    assertEquals(lines.length, 1, stderr);
    assert(
      lines[0]!.startsWith(
        `pose-exporter compile: DENORT_BIN=${Deno.execPath()} is the deno CLI, not denort: ` +
          "the embedding was verified",
      ),
      lines[0],
    );

    // The summary line ends stdout.
    const summary = SUMMARY.exec(stdout.trimEnd().split("\n").at(-1)!);
    assert(summary !== null, `no summary line at the end of:\n${stdout.slice(-2000)}`);
    const [files, embeddedMib, binaryMib] = [
      Number(summary[1]),
      Number(summary[2]),
      Number(summary[3]),
    ];
    assert(binaryMib < 160, `binary ${binaryMib} MiB`);
    assert(files > 100 && embeddedMib > 40 && embeddedMib < binaryMib, summary[0]);
    // deno's own total (its "MB" are MiB) agrees with the summary within a few percent.
    const denoTotal = /^Files: (\d+(?:\.\d+)?)MB$/m.exec(stdout);
    assert(denoTotal !== null, "deno printed no Files: total");
    assert(
      Math.abs(Number(denoTotal[1]) - embeddedMib) / embeddedMib < 0.03,
      `${denoTotal[0]} vs ${summary[0]}`,
    );

    // deno's file list: the addon with its library, the worker; no other platform's natives.
    const entries = parseEmbeddedTree(stdout);
    assert(entries.length > 50, "deno printed its embedded file list");
    const nativeDir = ortNativeDir()!.slice(ROOT.pathname.length);
    for (
      const path of [
        `${nativeDir}/onnxruntime_binding.node`,
        `${nativeDir}/libonnxruntime.so.1`,
        WORKER_MODULE,
      ]
    ) {
      assert(isEmbedded(entries, path), `${path} is not embedded`);
    }
    const strays = entries.filter((e) =>
      /\/napi-v\d+\/(darwin|win32|linux\/arm64)(\/|$)|\.(dll|dylib)$|\/bintrees\/test(\/|$)|\/protobufjs\/cli(\/|$)/
        .test(e.path)
    );
    assertEquals(strays, []);
  } finally {
    await Deno.remove(BINARY).catch(() => {});
  }
  // The refused binary is removed and no temporary file is left.
  assertEquals([...await outputTmpFiles(BINARY)].filter((p) => !before.has(p)), []);
});

// --- The binary itself, where a real denort is at hand ------------------------------------------

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
    ? "compile - builds ./pose-exporter, which passes selfcheck and serves metrics like deno task start"
    : "compile - builds ./pose-exporter (skipped: needs DENORT_BIN set to a denort 2.9.6)",
  ignore: denort === null,
  fn: async () => {
    const built = await compileTask({ DENORT_BIN: denort! });
    assertEquals(built.code, 0, built.stderr);
    try {
      const version = await new Deno.Command(BINARY, { args: ["--version"], stdout: "piped" })
        .output();
      assertEquals(new TextDecoder().decode(version.stdout).trim(), `pose-exporter ${VERSION}`);
      const check = await new Deno.Command(BINARY, {
        args: ["selfcheck", "--provider", "cpu"],
        stdout: "piped",
        stderr: "piped",
      }).output();
      assertEquals(check.code, 0, new TextDecoder().decode(check.stderr));
      const port = freePort();
      const child = new Deno.Command(BINARY, {
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
    } finally {
      await Deno.remove(BINARY).catch(() => {});
      // A self-extracting binary unpacks itself into .pose-exporter/<hash>/ beside it.
      await Deno.remove(new URL(".pose-exporter", ROOT), { recursive: true }).catch(() => {});
    }
  },
});
