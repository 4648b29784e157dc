// deno task compile: builds ./pose-exporter, one Linux x86-64 binary with the exporter, its npm packages,
// onnxruntime-node's linux-x64 natives (and the CUDA provider when installed) and its permissions baked in.
//
// deno compile embeds the whole node_modules folder. What a running exporter never reads is left out,
// derived from the installed tree (planExcludes): npm packages no exporter module imports, other
// platforms' natives, package tests, examples and benchmarks, documentation, type declarations and
// bundled command-line tools. bintrees' test/perf/100k
// (2 MB of integers without an extension, from prom-client's dependencies) is one of those tests, and
// embedding it overflows deno compile's stack.
//
// deno compile needs a Deno runtime (denort) for the target. It downloads one, or takes DENORT_BIN.
// Every refusal is one line and exit code 1.

import { VERSION } from "../src/version.ts";
import { EXPORTER_PERMISSIONS } from "../src/permissions.ts";

const ROOT = new URL("../", import.meta.url).pathname;
const OUTPUT_NAME = "pose-exporter";
const OUTPUT = `${ROOT}${OUTPUT_NAME}`;
const TARGET = "x86_64-unknown-linux-gnu";
/** The inference worker: loaded by URL at run time, so deno compile must be told to embed it. */
export const WORKER_MODULE = "src/pose/inference_worker.ts";
/** A Deno runtime is tens of MiB; an ELF file below this is some other program. */
const MIN_RUNTIME_BYTES = 16 * 2 ** 20;

/** Thrown with the one line the user sees. */
export class CompileError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "CompileError";
  }
}

const HOW_TO_SUPPLY =
  `set DENORT_BIN to the denort binary of Deno ${Deno.version.deno} for ${TARGET} ` +
  `(denort-${TARGET}.zip of that Deno release, unzipped: ` +
  `https://dl.deno.land/release/v${Deno.version.deno}/denort-${TARGET}.zip) and run deno task compile again`;

/** Mebibytes with one decimal. */
export function mib(bytes: number): string {
  return (bytes / 2 ** 20).toFixed(1);
}

/**
 * Checks that DENORT_BIN names something that can be a Deno runtime: a readable ELF file of at
 * least 16 MiB. Whether it is denort is known only once the binary it makes answers `--version`.
 *
 * @throws {CompileError} naming DENORT_BIN otherwise
 */
export async function checkDenortBin(path: string): Promise<void> {
  let bytes: Uint8Array;
  let size: number;
  try {
    size = (await Deno.stat(path)).size;
    const file = await Deno.open(path);
    try {
      bytes = new Uint8Array(4);
      await file.read(bytes);
    } finally {
      file.close();
    }
  } catch (err) {
    throw new CompileError(
      `DENORT_BIN=${path} cannot be read (${(err as Error).message}): ${HOW_TO_SUPPLY}`,
    );
  }
  if (!(bytes[0] === 0x7f && bytes[1] === 0x45 && bytes[2] === 0x4c && bytes[3] === 0x46)) {
    throw new CompileError(
      `DENORT_BIN=${path} is not a Deno runtime (not an executable ELF file): ${HOW_TO_SUPPLY}`,
    );
  }
  if (size < MIN_RUNTIME_BYTES) {
    throw new CompileError(
      `DENORT_BIN=${path} is not a Deno runtime (an ELF file of ${mib(size)} MiB; ` +
        `denort is tens of MiB): ${HOW_TO_SUPPLY}`,
    );
  }
}

// ---------------------------------------------------------------------------------------------
// What to leave out

/** Classes of files a running exporter never reads, with what the compile output calls them. */
export const EXCLUDE_CLASSES = {
  unused: "npm packages the exporter never imports",
  natives: "natives for other platforms",
  tools: "bundled command-line tools",
  tests: "package tests, examples and benchmarks",
  docs: "documentation",
  types: "type declarations",
} as const;

/** A class of files left out of the binary. */
export type ExcludeClass = keyof typeof EXCLUDE_CLASSES;

/** A file under node_modules/, by its path relative to the repository root ("/"-separated). */
export interface TreeFile {
  path: string;
  size: number;
}

/** A symbolic link under node_modules/ and the path (relative to the repository root) it resolves to. */
export interface TreeLink {
  path: string;
  /** Null when it resolves outside the repository or nowhere. */
  target: string | null;
}

/** Options of {@linkcode planExcludes}. */
export interface PlanExcludesOptions {
  /** By package root, the top-level folders its entry points lie in (they always stay). @default {none} */
  entryDirs?: ReadonlyMap<string, ReadonlySet<string>>;
  /**
   * The package folders (`node_modules/.deno/<id>`) the program's module graph reaches; every
   * other one goes. Null keeps them all. @default {null}
   */
  usedPackages?: ReadonlySet<string> | null;
  /** Symbolic links: one that leads into a path that goes, goes too (deno would follow it). @default {[]} */
  links?: readonly TreeLink[];
}

/** What {@linkcode planExcludes} decided. */
export interface ExcludePlan {
  /** Paths to pass as `--exclude`: a folder where all of it goes, else single files. */
  paths: string[];
  /** Files and bytes left out, by class. */
  excluded: Record<ExcludeClass, { files: number; bytes: number }>;
  /** The files that stay in the binary. */
  kept: TreeFile[];
}

const OSES = new Set(["darwin", "win32", "linux", "freebsd", "openbsd", "sunos", "aix", "android"]);
const ARCHES = new Set([
  "x64",
  "arm64",
  "ia32",
  "arm",
  "ppc64",
  "s390x",
  "riscv64",
  "loong64",
  "mips64el",
]);
const TEST_DIRS = new Set([
  "test",
  "tests",
  "__tests__",
  "spec",
  "specs",
  "example",
  "examples",
  "benchmark",
  "benchmarks",
  "bench",
  "perf",
]);
const DOC_DIRS = new Set(["doc", "docs"]);
const TYPES_FILE = /\.d\.[cm]?ts$/;
const DOC_FILE = /\.(md|markdown)$/i;
const LEGAL_FILE = /^(licen[cs]e|copying|notice)/i;

/**
 * The package a path belongs to: `node_modules/.deno/<id>/node_modules/<name>` (or
 * `@scope/name`), as root and the path's segments below it; null for paths outside a package.
 */
function packageOf(path: string): { root: string; rel: string[] } | null {
  const s = path.split("/");
  if (s[0] !== "node_modules" || s[1] !== ".deno" || s[3] !== "node_modules" || !s[4]) return null;
  const depth = s[4].startsWith("@") ? 6 : 5;
  if (s.length <= depth) return null;
  return { root: s.slice(0, depth).join("/"), rel: s.slice(depth) };
}

/** The platform a path within a package is for (`linux/x64`, `prebuilds/darwin-arm64`), if any. */
function platformOf(rel: string[]): { os: string; arch: string } | null {
  for (let i = 0; i < rel.length - 1; i++) {
    const seg = rel[i]!;
    if (OSES.has(seg) && ARCHES.has(rel[i + 1]!)) return { os: seg, arch: rel[i + 1]! };
    const joined = /^([a-z0-9]+)-([a-z0-9]+)(-|$)/.exec(seg);
    if (joined && OSES.has(joined[1]!) && ARCHES.has(joined[2]!)) {
      return { os: joined[1]!, arch: joined[2]! };
    }
  }
  return null;
}

/**
 * Decides which installed files a linux-x64 exporter never reads, from the installed tree alone:
 * npm packages its module graph does not reach; natives under an `<os>/<arch>` or `<os>-<arch>` folder other than linux/x64; a package's
 * top-level test, example and benchmark folders; its doc folders and Markdown files (licences
 * stay); type declarations; a top-level folder that is a package of its own, with its own
 * node_modules (a bundled command-line tool such as protobufjs' cli). A top-level folder that
 * the package's `main`, `module`, `browser` or `exports` point into always stays.
 *
 * @param files every file under node_modules/ (symbolic links left out)
 * @param options the packages in use, entry folders and links
 * @returns the `--exclude` paths, what they leave out by class, and the files kept
 */
export function planExcludes(
  files: readonly TreeFile[],
  options: PlanExcludesOptions = {},
): ExcludePlan {
  const entryDirs = options.entryDirs ?? new Map<string, ReadonlySet<string>>();
  const used = options.usedPackages ?? null;
  const paths = new Set(files.map((f) => f.path));
  // Top-level folders of a package that hold a node_modules folder of their own.
  const withModules = new Set<string>();
  for (const file of files) {
    const pkg = packageOf(file.path);
    if (pkg !== null && pkg.rel[1] === "node_modules") withModules.add(`${pkg.root}/${pkg.rel[0]}`);
  }
  const classOf = (file: TreeFile): ExcludeClass | null => {
    const pkg = packageOf(file.path);
    if (pkg === null) {
      const folder = file.path.split("/").slice(0, 3).join("/");
      const inFolder = file.path.startsWith("node_modules/.deno/") &&
        file.path.split("/").length > 3;
      return used !== null && inFolder && !used.has(folder) ? "unused" : null;
    }
    const { root, rel } = pkg;
    if (used !== null && !used.has(root.split("/").slice(0, 3).join("/"))) return "unused";
    const name = rel.at(-1)!;
    const platform = platformOf(rel);
    if (platform !== null && !(platform.os === "linux" && platform.arch === "x64")) {
      return "natives";
    }
    if (TYPES_FILE.test(name)) return "types";
    const top = rel.length > 1 ? rel[0]! : null;
    if (top !== null && !entryDirs.get(root)?.has(top)) {
      const nested = `${root}/${top}`;
      if (paths.has(`${nested}/package.json`) && withModules.has(nested)) {
        return "tools";
      }
      if (TEST_DIRS.has(top)) return "tests";
      if (DOC_DIRS.has(top)) return "docs";
    }
    if (DOC_FILE.test(name) && !LEGAL_FILE.test(name)) return "docs";
    return null;
  };

  const excluded = Object.fromEntries(
    Object.keys(EXCLUDE_CLASSES).map((c) => [c, { files: 0, bytes: 0 }]),
  ) as ExcludePlan["excluded"];
  const kept: TreeFile[] = [];
  const gone: string[] = [];
  // Per folder: files in it (at any depth), and how many of them go.
  const total = new Map<string, number>();
  const going = new Map<string, number>();
  for (const file of files) {
    const cls = classOf(file);
    const segments = file.path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join("/");
      total.set(dir, (total.get(dir) ?? 0) + 1);
      if (cls !== null) going.set(dir, (going.get(dir) ?? 0) + 1);
    }
    if (cls === null) {
      kept.push(file);
    } else {
      excluded[cls].files++;
      excluded[cls].bytes += file.size;
      gone.push(file.path);
    }
  }
  const whole = (dir: string) => (going.get(dir) ?? 0) === total.get(dir);
  const result = new Set<string>();
  for (const path of gone) {
    // The outermost folder all of whose files go, else the file itself.
    const segments = path.split("/");
    let chosen = path;
    for (let i = 1; i < segments.length; i++) {
      const dir = segments.slice(0, i).join("/");
      if (whole(dir)) {
        chosen = dir;
        break;
      }
    }
    result.add(chosen);
  }
  const goes = (path: string) =>
    [...result].some((gone) => path === gone || path.startsWith(`${gone}/`));
  for (const link of options.links ?? []) {
    if (link.target !== null && goes(link.target) && !goes(link.path)) result.add(link.path);
  }
  return { paths: [...result].sort(), excluded, kept };
}

/** Top-level folders that a package.json's `main`, `module`, `browser` and `exports` point into. */
export function entryDirsOf(manifest: unknown): Set<string> {
  const dirs = new Set<string>();
  const add = (value: unknown) => {
    if (typeof value === "string") {
      const segments = value.replace(/^\.\//, "").split("/");
      if (segments.length > 1 && segments[0] !== "..") dirs.add(segments[0]!);
    } else if (value !== null && typeof value === "object") {
      for (const v of Object.values(value)) add(v);
    }
  };
  if (manifest !== null && typeof manifest === "object") {
    const m = manifest as Record<string, unknown>;
    for (const key of ["main", "module", "browser", "exports"]) add(m[key]);
  }
  return dirs;
}

/** Every file and symbolic link under `dir` (relative to ROOT), not followed, and each package's entry folders. */
async function readInstalledTree(dir: string): Promise<{
  files: TreeFile[];
  links: TreeLink[];
  entryDirs: Map<string, Set<string>>;
}> {
  const files: TreeFile[] = [];
  const links: TreeLink[] = [];
  // Other deno processes may add and remove lock files meanwhile: a file gone is skipped.
  const gone = (err: unknown) => {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
    return null;
  };
  const walk = async (rel: string): Promise<void> => {
    const entries = await Array.fromAsync(Deno.readDir(`${ROOT}${rel}`)).catch(gone);
    for (const entry of entries ?? []) {
      const path = `${rel}/${entry.name}`;
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile) {
        const info = await Deno.lstat(`${ROOT}${path}`).catch(gone);
        if (info !== null) files.push({ path, size: info.size });
      } else if (entry.isSymlink) {
        const real = await Deno.realPath(`${ROOT}${path}`).catch(() => null);
        links.push({
          path,
          target: real !== null && real.startsWith(ROOT) ? real.slice(ROOT.length) : null,
        });
      }
    }
  };
  await walk(dir);
  const entryDirs = new Map<string, Set<string>>();
  for (const file of files) {
    const pkg = packageOf(file.path);
    if (pkg === null || pkg.rel.length !== 1 || pkg.rel[0] !== "package.json") continue;
    try {
      entryDirs.set(pkg.root, entryDirsOf(JSON.parse(await Deno.readTextFile(ROOT + file.path))));
    } catch {
      entryDirs.set(pkg.root, new Set());
    }
  }
  return { files, links, entryDirs };
}

/** The module graph as `deno info --json` prints it (the parts read here). */
export interface DenoInfo {
  modules: { specifier: string; npmPackage?: string }[];
  npmPackages?: Record<string, { dependencies: string[]; localPath?: string }>;
}

/**
 * The package folders (`node_modules/.deno/<id>`, relative to `root`) that module graphs reach:
 * their npm modules' packages and those packages' dependencies. Null when a reached package
 * has no folder under `root`'s node_modules/.deno (then nothing can be left out safely).
 */
export function usedPackageFolders(graphs: readonly DenoInfo[], root: string): Set<string> | null {
  const folders = new Set<string>();
  for (const graph of graphs) {
    const packages = graph.npmPackages ?? {};
    const queue = graph.modules.flatMap((m) => m.npmPackage ? [m.npmPackage] : []);
    const seen = new Set<string>();
    while (queue.length > 0) {
      const id = queue.pop()!;
      if (seen.has(id)) continue;
      seen.add(id);
      const pkg = packages[id];
      const prefix = `${root}node_modules/.deno/`;
      if (!pkg?.localPath?.startsWith(prefix)) return null;
      folders.add(`node_modules/.deno/${pkg.localPath.slice(prefix.length).split("/")[0]}`);
      queue.push(...pkg.dependencies);
    }
  }
  return folders;
}

/** The module graphs of main.ts and of the worker: the local modules deno compile embeds and the npm packages in use. */
async function moduleGraphs(): Promise<{ local: TreeFile[]; usedPackages: Set<string> | null }> {
  const found = new Map<string, number>();
  const graphs: DenoInfo[] = [];
  for (const entry of ["main.ts", WORKER_MODULE]) {
    const info = await run(["info", "--json", entry]);
    if (!info.ok) throw new CompileError(`deno info ${entry} failed: ${lastLine(info.text)}`);
    const graph = JSON.parse(info.stdout) as DenoInfo;
    graphs.push(graph);
    for (const { specifier } of graph.modules) {
      if (!specifier.startsWith(`file://${ROOT}`)) continue;
      const path = decodeURIComponent(specifier.slice(`file://${ROOT}`.length));
      found.set(path, (await Deno.stat(ROOT + path)).size);
    }
  }
  return {
    local: [...found].map(([path, size]) => ({ path, size })),
    usedPackages: usedPackageFolders(graphs, ROOT),
  };
}

/**
 * The natives that must ship: onnxruntime-node's linux-x64 addon with `libonnxruntime.so.1`
 * beside it (and whatever else that folder holds, such as the CUDA provider).
 *
 * @throws {CompileError} naming what is missing
 */
export function requiredNatives(kept: readonly TreeFile[]): TreeFile[] {
  const addon = kept.find((f) =>
    /\/onnxruntime-node\/bin\/[^/]+\/linux\/x64\/onnxruntime_binding\.node$/.test(f.path)
  );
  if (!addon) {
    throw new CompileError(
      "onnxruntime-node's linux-x64 addon (bin/napi-*/linux/x64/onnxruntime_binding.node) " +
        "is not in node_modules: run deno install and deno task compile again",
    );
  }
  const dir = addon.path.slice(0, addon.path.lastIndexOf("/") + 1);
  const natives = kept.filter((f) =>
    f.path.startsWith(dir) && !f.path.slice(dir.length).includes("/")
  );
  if (!natives.some((f) => f.path === `${dir}libonnxruntime.so.1`)) {
    throw new CompileError(
      `libonnxruntime.so.1 is missing beside ${addon.path}: run deno install again`,
    );
  }
  return natives;
}

// ---------------------------------------------------------------------------------------------
// What deno compile says it embedded

/** One line of deno compile's "Embedded Files" tree. */
export interface EmbeddedEntry {
  /** Path relative to the repository root; for a whole folder, the folder. */
  path: string;
  /** Whether deno embedded the whole folder (printed as `folder/*`). */
  whole: boolean;
  /** Whether it is a symbolic link (`name --> target`). */
  link: boolean;
}

/**
 * Parses the "Embedded Files" tree that deno compile prints: a line per file or folder, a folder
 * embedded whole shown as `folder/*`, single-child folder chains joined with `/`.
 *
 * @returns the entries in print order; empty when the text has no such tree
 */
export function parseEmbeddedTree(text: string): EmbeddedEntry[] {
  const lines = text.split("\n");
  const start = lines.findIndex((l) => l.trim() === "Embedded Files");
  if (start < 0) return [];
  const entries: EmbeddedEntry[] = [];
  const stack: string[] = [];
  for (const line of lines.slice(start + 1)) {
    const m = /^((?:\u2502 | {2})*)[\u251c\u2514]\u2500[\u2500\u252c] (.+)$/.exec(line);
    if (m === null) {
      if (entries.length > 0 && line.trim() === "") break;
      continue;
    }
    const depth = m[1]!.length / 2;
    let name = m[2]!;
    const link = name.includes(" --> ");
    if (link) name = name.slice(0, name.indexOf(" --> "));
    else name = name.replace(/ \([^()]*\)$/, "");
    const whole = name.endsWith("/*");
    if (whole) name = name.slice(0, -2);
    stack.length = depth;
    stack.push(name);
    entries.push({ path: stack.join("/"), whole, link });
  }
  return entries;
}

/** Whether `path` is among `entries`, itself or inside a folder embedded whole. */
export function isEmbedded(entries: readonly EmbeddedEntry[], path: string): boolean {
  return entries.some((e) => e.path === path || (e.whole && path.startsWith(`${e.path}/`)));
}

/**
 * Checks deno compile's file list: every one of `required` is in it, and no native for another
 * platform is.
 *
 * @throws {CompileError} naming the first file that is missing or should not be there
 */
export function checkEmbedded(
  entries: readonly EmbeddedEntry[],
  required: readonly string[],
): void {
  for (const path of required) {
    if (!isEmbedded(entries, path)) {
      throw new CompileError(`deno compile's embedded file list lacks ${path}`);
    }
  }
  for (const entry of entries) {
    const pkg = packageOf(entry.path);
    const platform = pkg === null ? null : platformOf(pkg.rel.flatMap((s) => s.split("/")));
    if (platform !== null && !(platform.os === "linux" && platform.arch === "x64")) {
      throw new CompileError(
        `deno compile embedded a native for ${platform.os}-${platform.arch}: ${entry.path}`,
      );
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Running deno compile

/** The `deno compile` arguments. */
export function compileArgs(excludes: readonly string[]): string[] {
  return [
    "compile",
    "--self-extracting",
    "--target",
    TARGET,
    ...EXPORTER_PERMISSIONS,
    "--include",
    WORKER_MODULE,
    ...excludes.flatMap((path) => ["--exclude", path]),
    "--output",
    OUTPUT,
    "main.ts",
  ];
}

interface RunResult {
  ok: boolean;
  code: number;
  signal: string | null;
  stdout: string;
  text: string;
}

async function run(args: string[]): Promise<RunResult> {
  const out = await new Deno.Command(Deno.execPath(), {
    args,
    cwd: ROOT,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  const stdout = decoder.decode(out.stdout);
  return {
    ok: out.success,
    code: out.code,
    signal: out.signal,
    stdout,
    text: decoder.decode(out.stderr) + stdout,
  };
}

/** The last meaningful line of deno's output: the innermost cause, without colours or a backtrace. */
export function lastLine(text: string): string {
  // deno-lint-ignore no-control-regex -- strips ANSI colour codes from deno's output
  const plain = text.replace(/\x1b\[[0-9;]*m/g, "").split(/^Stack backtrace:/m)[0]!;
  const lines = plain.split("\n").map((l) => l.trim().replace(/^\d+: /, "")).filter((l) =>
    l !== ""
  );
  return lines.at(-1) ?? "no output";
}

/**
 * The one line that says why deno compile failed: a crash quotes deno's last line; a failed
 * runtime download (no DENORT_BIN) says how to supply one.
 */
export function describeCompileFailure(
  result: { code: number; signal: string | null; text: string },
  denort: string | null,
): string {
  const why = lastLine(result.text);
  if (
    result.signal !== null || result.code >= 128 || /panicked|fatal runtime error/.test(result.text)
  ) {
    const how = result.signal !== null ? `signal ${result.signal}` : `exit code ${result.code}`;
    return `deno compile crashed (${how}): ${JSON.stringify(why)}`;
  }
  // deno-lint-ignore no-control-regex -- strips ANSI colour codes from deno's output
  const typeError = /(TS\d+) \[ERROR\]: (.*)/.exec(result.text.replace(/\x1b\[[0-9;]*m/g, ""));
  if (typeError !== null && /Type checking failed/.test(result.text)) {
    return `deno compile stopped at the type check: ${typeError[1]} ${typeError[2]!.trim()} ` +
      `(deno check main.ts lists every error)`;
  }
  if (
    !denort && /dns|lookup|download|sending request|connect|network|timed out/i.test(result.text)
  ) {
    return `deno compile could not download its runtime (denort ${Deno.version.deno}) (${why}): ${HOW_TO_SUPPLY}`;
  }
  return denort
    ? `deno compile failed with DENORT_BIN=${denort} (${why}): is it the denort of Deno ${Deno.version.deno}? ${HOW_TO_SUPPLY}`
    : `deno compile failed: ${why}`;
}

/** The `<output>.tmp-*` files deno compile writes before renaming them (a crash leaves them behind). */
export async function outputTmpFiles(output: string = OUTPUT): Promise<Set<string>> {
  const dir = output.slice(0, output.lastIndexOf("/") + 1) || "./";
  const prefix = `${output.slice(dir.length)}.tmp-`;
  const found = new Set<string>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      if (entry.isFile && entry.name.startsWith(prefix)) found.add(`${dir}${entry.name}`);
    }
  } catch (err) {
    if (!(err instanceof Deno.errors.NotFound)) throw err;
  }
  return found;
}

/**
 * The one line for a binary that did not answer `--version` as the exporter: the deno CLI given
 * as the runtime (then the embedding was still checked), or something else.
 */
export function describeWrongRuntime(said: string, denort: string | null): string {
  const runtime = denort ? `DENORT_BIN=${denort}` : "the downloaded runtime";
  const first = said.split("\n")[0] ?? "";
  if (/^deno \d/.test(first)) {
    return `${runtime} is the deno CLI, not denort: the embedding was verified (the file list and ` +
      `sizes above), but the binary runs deno instead of the exporter (it answered --version with ` +
      `${
        JSON.stringify(first)
      }), so it was removed; a runnable binary needs a real denort: ${HOW_TO_SUPPLY}`;
  }
  return `${runtime} is not a denort runtime: the binary it made answered --version with ` +
    `${JSON.stringify(first)}, so it was removed: ${HOW_TO_SUPPLY}`;
}

async function compile(): Promise<void> {
  const denort = Deno.env.get("DENORT_BIN") || null;
  if (denort) await checkDenortBin(denort);
  const installed = await run(["install", "--quiet"]);
  if (!installed.ok) throw new CompileError(`deno install failed: ${lastLine(installed.text)}`);

  const tree = await readInstalledTree("node_modules");
  const { local, usedPackages } = await moduleGraphs();
  const plan = planExcludes(tree.files, {
    entryDirs: tree.entryDirs,
    usedPackages,
    links: tree.links,
  });
  const natives = requiredNatives(plan.kept);
  if (!local.some((f) => f.path === WORKER_MODULE)) {
    throw new CompileError(`the inference worker ${WORKER_MODULE} is missing`);
  }

  await Deno.remove(OUTPUT).catch(() => {});
  const before = await outputTmpFiles();
  let compiled: RunResult;
  try {
    compiled = await run(compileArgs(plan.paths));
  } finally {
    for (const tmp of await outputTmpFiles()) {
      if (!before.has(tmp)) await Deno.remove(tmp).catch(() => {});
    }
  }
  if (!compiled.ok) {
    await Deno.remove(OUTPUT).catch(() => {});
    throw new CompileError(describeCompileFailure(compiled, denort));
  }

  const entries = parseEmbeddedTree(compiled.text);
  try {
    if (entries.length > 0) checkEmbedded(entries, [...natives.map((f) => f.path), WORKER_MODULE]);
  } catch (err) {
    await Deno.remove(OUTPUT).catch(() => {});
    throw err;
  }

  const out = (line: string) => console.log(line);
  out(compiled.text.trimEnd());
  if (entries.length === 0) out("compile: deno compile printed no embedded file list to check");
  const left = (Object.keys(EXCLUDE_CLASSES) as ExcludeClass[])
    .filter((c) => plan.excluded[c].files > 0)
    .map((c) =>
      `${EXCLUDE_CLASSES[c]} ${plan.excluded[c].files} (${mib(plan.excluded[c].bytes)} MiB)`
    );
  out(`compile: left out (${plan.paths.length} --exclude paths): ${left.join(", ")}`);
  const nativeDir = natives[0]!.path.slice(0, natives[0]!.path.lastIndexOf("/"));
  out(
    `compile: natives from ${nativeDir}: ` +
      natives.map((f) => `${f.path.slice(nativeDir.length + 1)} (${mib(f.size)} MiB)`).join(", "),
  );
  const embedded = [...plan.kept, ...local];
  const bytes = embedded.reduce((n, f) => n + f.size, 0);
  const binary = (await Deno.stat(OUTPUT)).size;
  out(`compile: embedded ${embedded.length} files (${mib(bytes)} MiB), binary ${mib(binary)} MiB`);

  // A runtime of the wrong kind (the deno CLI itself, say) still yields a file: check it runs the exporter.
  let said = "";
  try {
    const check = await new Deno.Command(OUTPUT, {
      args: ["--version"],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(60_000),
    }).output();
    said = new TextDecoder().decode(check.stdout).trim();
  } catch (err) {
    said = `(it did not start: ${(err as Error).message})`;
  }
  if (said !== `pose-exporter ${VERSION}`) {
    await Deno.remove(OUTPUT).catch(() => {});
    throw new CompileError(describeWrongRuntime(said, denort));
  }
  out(`compile: built ./${OUTPUT_NAME}: ${said}`);
}

if (import.meta.main) {
  try {
    await compile();
  } catch (err) {
    if (!(err instanceof CompileError)) throw err;
    console.error(`pose-exporter compile: ${err.message}`);
    Deno.exit(1);
  }
}
