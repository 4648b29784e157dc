import { assert, assertEquals, assertThrows } from "./_assert.ts";
import { FlagError } from "../src/cli/flags.ts";
import {
  ConfigError,
  defaultInferenceThreads,
  envNameOf,
  exporterFlag,
  FLAGS,
  parseConfig,
  parseListenAddress,
  usage,
} from "../src/config.ts";
import { type SourceSpec, splitSourceArg } from "../src/sources/source_uri.ts";

function geometry(s: SourceSpec): [string, number, number, number] {
  if (s.kind !== "synthetic") throw new Error(`${s.id} is not synthetic`);
  return [s.id, s.width, s.height, s.fps];
}

function problemsOf(args: string[], env: Record<string, string> = {}): string[] {
  try {
    parseConfig(args, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  throw new Error(`parseConfig(${JSON.stringify(args)}) accepted bad input`);
}

Deno.test("parseConfig() fills defaults", () => {
  const c = parseConfig(["--streams", "2"]);
  assertEquals(c.sources.sources.map(geometry), [["s0", 1280, 720, 30], [
    "s1",
    1280,
    720,
    30,
  ]]);
  assertEquals(c.web.listen, { hostname: "0.0.0.0", port: 8000 });
  assertEquals(c.model.provider, "auto");
  assertEquals(c.model.batchSize, 8);
  assertEquals(c.model.modelPath, null);
  assertEquals(c.pipeline.resultsPath, null);
  assertEquals(c.run.durationMs, null);
  assertEquals(c.run.logFormat, "text");
});

Deno.test("parseConfig() ignores a leading -- left by task runners", () => {
  assertEquals(parseConfig(["--", "--streams", "1"]).sources.sources.length, 1);
});

Deno.test("parseConfig() reads [ID=]URI sources and numbers the unnamed ones in order", () => {
  const c = parseConfig([
    "--source",
    "cam1=synthetic:640x480@15",
    "--source",
    "synthetic@0",
    "--streams",
    "1",
  ]);
  assertEquals(c.sources.sources.map(geometry), [
    ["cam1", 640, 480, 15],
    ["s0", 1280, 720, 0],
    ["s1", 1280, 720, 30],
  ]);
});

Deno.test("splitSourceArg() treats text before = as an id only when it is a valid id", () => {
  assertEquals(splitSourceArg("cam.1_a-b=synthetic"), { id: "cam.1_a-b", uri: "synthetic" });
  assertEquals(splitSourceArg("rtsp://h/x?a=b"), { id: null, uri: "rtsp://h/x?a=b" });
  assertEquals(splitSourceArg("/videos/a=b.mp4"), { id: null, uri: "/videos/a=b.mp4" });
  assertThrows(() => splitSourceArg("=synthetic"), Error, 'stream id ""');
  assertThrows(() => splitSourceArg("x".repeat(65) + "=synthetic"), Error, "1-64 characters");
});

Deno.test("parseConfig() refuses a duplicate stream id, naming it", () => {
  const problems = problemsOf(["--source", "s0=synthetic", "--source", "synthetic"]);
  assertEquals(problems.length, 1);
  assert(
    problems[0]!.includes('stream id "s0" is already defined by --source "s0=synthetic"'),
    problems[0],
  );
});

Deno.test("parseConfig() refuses an unknown flag, naming it", () => {
  const problems = problemsOf(["--streams", "1", "--bogus", "3"]);
  assert(problems.some((p) => p.includes("Unknown flag: --bogus")), problems.join("\n"));
});

Deno.test("parseConfig() reports every bad number with its flag and value", () => {
  const problems = problemsOf([
    "--streams",
    "1",
    "--batch-size",
    "0",
    "--batch-timeout-ms",
    "abc",
    "--device",
    "1.5",
    "--gpu-poll-ms",
    "-3",
    "--duration",
    "x",
  ]);
  assertEquals(problems.length, 5, problems.join("\n"));
  assert(
    problems.some((p) => p.startsWith('Invalid --batch-size: "0" is not an integer in 1..256')),
  );
  assert(problems.some((p) => p.startsWith('Invalid --batch-timeout-ms: "abc"')));
  assert(problems.some((p) => p.startsWith('Invalid --device: "1.5" is not an integer')));
  assert(problems.some((p) => p.startsWith('Invalid --gpu-poll-ms: "-3"')));
  assert(problems.some((p) => p.startsWith('Invalid --duration: "x"')));
});

Deno.test("parseConfig() refuses a bad listen address, naming it", () => {
  for (const bad of ["8000", "host:", "host:70000", ":8000", "a b:1"]) {
    const problems = problemsOf(["--streams", "1", "--listen", bad]);
    assertEquals(problems.length, 1, bad);
    assert(problems[0]!.startsWith(`Invalid --listen: ${JSON.stringify(bad)}`), problems[0]);
  }
});

Deno.test("parseListenAddress() accepts names, IPv4 and bracketed IPv6", () => {
  assertEquals(parseListenAddress("localhost:9"), { hostname: "localhost", port: 9 });
  assertEquals(parseListenAddress("127.0.0.1:0"), { hostname: "127.0.0.1", port: 0 });
  assertEquals(parseListenAddress("[::1]:8000"), { hostname: "::1", port: 8000 });
});

Deno.test("parseConfig() refuses unknown choices and unsupported sources", () => {
  const problems = problemsOf([
    "--source",
    "x=ftp://cam/1",
    "--provider",
    "tpu",
    "--log-format",
    "xml",
    "--streams",
    "1",
  ]);
  assert(
    problems.some((p) => p.startsWith('Invalid --source "x=ftp://cam/1": unsupported URI')),
    problems.join("\n"),
  );
  assert(
    problems.some((p) => p.startsWith('Invalid --provider: "tpu" is not one of auto, cuda, cpu')),
  );
  assert(problems.some((p) => p.startsWith('Invalid --log-format: "xml"')));
});

Deno.test("parseConfig() asks for a source when none is given", () => {
  assertEquals(problemsOf([]), [
    "No sources: give --source [ID=]URI, --sources-file PATH or --streams N",
  ]);
});

Deno.test("parseConfig() refuses a flag without its value", () => {
  const problems = problemsOf(["--streams", "1", "--model"]);
  assertEquals(problems, ["Flag --model needs a value: PATH"]);
});

Deno.test("parseConfig() takes POSE_EXPORTER_* variables below flags", () => {
  const env = {
    [envNameOf("batch-size")]: "4",
    [envNameOf("streams")]: "2",
    [envNameOf("listen")]: "127.0.0.1:9",
  };
  const c = parseConfig(["--batch-size", "2"], env);
  assertEquals(c.model.batchSize, 2);
  assertEquals(c.sources.sources.length, 2);
  assertEquals(c.web.listen.port, 9);
  const problems = problemsOf(["--streams", "1"], { [envNameOf("batch-size")]: "zero" });
  assert(
    problems[0]!.startsWith('Invalid POSE_EXPORTER_BATCH_SIZE (for --batch-size): "zero"'),
    problems[0],
  );
});

Deno.test("parseConfig() lets --help and --version through whatever else is wrong", () => {
  assert(parseConfig(["--help"]).help);
  assert(parseConfig(["--version", "--batch-size", "0"]).version);
});

Deno.test("usage() lists every flag", () => {
  const text = usage();
  for (
    const flag of [
      "--model",
      "--source",
      "--streams",
      "--provider",
      "--device",
      "--batch-size",
      "--listen",
      "--results",
    ]
  ) {
    assert(text.includes(flag), flag);
  }
  assertThrows(() => parseConfig(["--streams", "nope"]), ConfigError);
});

Deno.test("parseSourceUri() reads a synthetic burst and refuses a bad one", () => {
  const c = parseConfig(["--source", "b=synthetic:640x640@30?burst=10s@1000"]);
  const spec = c.sources.sources[0]!;
  assert(spec.kind === "synthetic");
  assertEquals([spec.width, spec.fps, spec.burst], [640, 30, { seconds: 10, fps: 1000 }]);
  const problems = problemsOf(["--source", "synthetic?burst=fast"]);
  assert(problems[0]!.includes("synthetic takes ?burst=SECONDSs@FPS"), problems[0]);
});

Deno.test("parseConfig() reads the GPU and solver flags", () => {
  const c = parseConfig([
    "--streams",
    "1",
    "--solver",
    "off",
    "--frag-trigger",
    "0.3",
    "--frag-hysteresis",
    "5",
    "--gpu-poll-method",
    "spawn",
  ]);
  assertEquals([
    c.gpu.solver,
    c.gpu.fragTrigger,
    c.gpu.fragTarget,
    c.gpu.fragHysteresis,
    c.gpu.fragCooldown,
    c.gpu.pollMethod,
  ], [
    "off",
    0.3,
    0.15,
    5,
    10,
    "spawn",
  ]);
  const problems = problemsOf(["--streams", "1", "--frag-trigger", "1.5", "--solver", "maybe"]);
  assertEquals(problems.length, 2, problems.join("\n"));
});

Deno.test("parseConfig() leaves one core to the event loop by default, and takes --inference-threads", () => {
  assertEquals(defaultInferenceThreads(2), 1);
  assertEquals(defaultInferenceThreads(16), 15);
  assertEquals(defaultInferenceThreads(1), 1);
  assertEquals(parseConfig(["--streams", "1"]).model.inferenceThreads, defaultInferenceThreads());
  assertEquals(
    parseConfig(["--streams", "1", "--inference-threads", "0"]).model.inferenceThreads,
    0,
  );
  assertEquals(problemsOf(["--streams", "1", "--inference-threads", "many"]).length, 1);
});

Deno.test("parseConfig() refuses sources that are clearly typos, naming them", () => {
  const cases: [string, string][] = [
    ["lobby cam=rtsp://10.0.0.5/s", 'stream id "lobby cam" is not 1-64 characters'],
    ['a"b=synthetic', 'stream id "a\\"b" is not 1-64 characters'],
    ["synthetic@-1", 'malformed "synthetic@-1": write synthetic[:WxH][@FPS]'],
    ["testsrc:10", 'malformed "testsrc:10"'],
    ["cam=gopher://x", "unsupported URI"],
  ];
  for (const [source, expected] of cases) {
    const problems = problemsOf(["--source", source]);
    assertEquals(problems.length, 1, source);
    assert(problems[0]!.startsWith(`Invalid --source ${JSON.stringify(source)}:`), problems[0]);
    assert(problems[0]!.includes(expected), `${problems[0]} should include ${expected}`);
  }
  // Whitespace inside a file path stays allowed.
  const c = parseConfig(["--source", "./my videos/lobby cam.mp4"]);
  assertEquals(
    c.sources.sources[0]!.kind === "ffmpeg" && c.sources.sources[0]!.target,
    "./my videos/lobby cam.mp4",
  );
});

Deno.test("parseConfig() reads boolean flags from the environment", () => {
  const on = parseConfig(["--streams", "1"], {
    [envNameOf("loop")]: "1",
    [envNameOf("live-view")]: "true",
    [envNameOf("no-realtime")]: "yes",
  });
  assertEquals([on.sources.loop, on.web.liveView, on.sources.realtime], [true, true, false]);
  const off = parseConfig(["--streams", "1"], { [envNameOf("loop")]: "0" });
  assertEquals(off.sources.loop, false);
  const problems = problemsOf(["--streams", "1"], { [envNameOf("loop")]: "maybe" });
  assertEquals(problems.length, 1);
  assert(problems[0]!.startsWith('Invalid POSE_EXPORTER_LOOP (for --loop): "maybe"'), problems[0]);
});

Deno.test("FLAGS: every number flag has its range and every choice flag its choices", () => {
  for (const flag of FLAGS) {
    if (flag.kind === "number" || flag.kind === "integer") {
      assert(flag.min !== undefined && flag.max !== undefined, `--${flag.name} has a range`);
    }
    if (flag.kind === "choice") {
      assert(flag.choices?.includes(flag.default ?? ""), `--${flag.name}'s default is a choice`);
    }
  }
  assert(usage().includes("(default 8; 1..256)"), "--help shows the batch size's range");
});

Deno.test("parseConfig() takes a --duration beyond a timer's 24.8 days", () => {
  assertEquals(
    parseConfig(["--streams", "1", "--duration", "3000000"]).run.durationMs,
    3000000 * 1000,
  );
});

Deno.test("parseConfig() throws a ConfigError that is the FlagError every command's bad flags are", () => {
  assertThrows(
    () => parseConfig(["--streams", "x"]),
    FlagError,
    '"x" is not an integer in 0..1024',
  );
  assertEquals(new ConfigError(["a"]).name, "ConfigError");
});

Deno.test("exporterFlag() gives FLAGS' entry, for a subcommand that takes the same flag", () => {
  assertEquals(exporterFlag("device"), FLAGS.find((f) => f.name === "device"));
  assertThrows(() => exporterFlag("nope"), TypeError, "--nope");
});

Deno.test("usage() takes each default, range and choice from FLAGS, and -h for --help", () => {
  const lines = usage(["doctor"]).split("\n");
  for (const flag of FLAGS) {
    const line = lines.find((l) => new RegExp(`^  (-h, )?--${flag.name}( |$)`).test(l));
    assert(line !== undefined, `--${flag.name} has a line`);
    if (flag.default !== undefined) assert(line.includes(`default ${flag.default}`), line);
  }
  assert(lines[1]!.includes("pose-exporter doctor [flags]"), lines[1]);
  assert(lines.includes("  -h, --help                           print this help and exit"));
});

Deno.test("parseConfig() warns about POSE_EXPORTER_* variables no flag reads, naming the closest", () => {
  const c = parseConfig(["--streams", "1"], {
    POSE_EXPORTER_BATCHSIZE: "4",
    POSE_EXPORTER_NONSENSE_THING_ALTOGETHER: "1",
    // Four letters from MODEL: no suggestion, it is no typo of it.
    POSE_EXPORTER_BOGUS: "1",
    POSE_EXPORTER_SERVICE_HOST: "10.0.0.1",
    POSE_EXPORTER_SERVICE_PORT_METRICS: "8000",
    POSE_EXPORTER_PORT_8000_TCP_ADDR: "10.0.0.1",
    POSE_EXPORTER_LISTEN: "127.0.0.1:9",
  });
  assertEquals(c.warnings, [
    "POSE_EXPORTER_BATCHSIZE is not a variable of any flag (did you mean POSE_EXPORTER_BATCH_SIZE?)",
    "POSE_EXPORTER_BOGUS is not a variable of any flag",
    "POSE_EXPORTER_NONSENSE_THING_ALTOGETHER is not a variable of any flag",
  ]);
});

Deno.test("parseConfig() takes decimal numbers only: 0x10 is not 16", () => {
  for (const value of ["0x10", "0b1", "0o7", "1_000"]) {
    assertThrows(() => parseConfig(["--streams", "1", "--duration", value]), ConfigError, value);
  }
  assertEquals(parseConfig(["--streams", "1", "--duration", "1.5"]).run.durationMs, 1500);
});

Deno.test("parseConfig() gives the model flags Ultralytics' predict defaults: conf 0.25, iou 0.7, max_det 300, max_nms 30000", () => {
  const m = parseConfig(["--streams", "1"]).model;
  assertEquals(
    [m.scoreThreshold, m.iouThreshold, m.maxDetections, m.maxCandidates, m.inputSize],
    [0.25, 0.7, 300, 30000, null],
  );
  const set = parseConfig([
    "--streams",
    "1",
    "--score-threshold",
    "0.5",
    "--iou-threshold",
    "0.45",
    "--max-detections",
    "100",
    "--max-candidates",
    "1000",
  ]).model;
  assertEquals([set.scoreThreshold, set.iouThreshold, set.maxDetections, set.maxCandidates], [
    0.5,
    0.45,
    100,
    1000,
  ]);
});

Deno.test("parseConfig() reads --input-size as N or WIDTHxHEIGHT, from POSE_EXPORTER_INPUT_SIZE too", () => {
  assertEquals(parseConfig(["--streams", "1", "--input-size", "960"]).model.inputSize, {
    width: 960,
    height: 960,
  });
  assertEquals(
    parseConfig(["--streams", "1"], { POSE_EXPORTER_INPUT_SIZE: "640x384" }).model.inputSize,
    { width: 640, height: 384 },
  );
  assertEquals(problemsOf(["--streams", "1", "--input-size", "big"]), [
    'Invalid --input-size: "big" is not N or WIDTHxHEIGHT with sides in 32..8192',
  ]);
  assertEquals(problemsOf(["--streams", "1"], { POSE_EXPORTER_INPUT_SIZE: "640x10" }), [
    'Invalid POSE_EXPORTER_INPUT_SIZE (for --input-size): "640x10" is not N or WIDTHxHEIGHT with sides in 32..8192',
  ]);
  assert(usage().includes("--input-size N|WxH"), "--help lists it");
});

Deno.test("parseConfig() reads --web-config-file and --web-allowed-hosts (repeated, comma-separated, or from the environment)", () => {
  const none = parseConfig(["--streams", "1"]);
  assertEquals([none.web.webConfigFile, none.web.allowedHosts], [null, []]);
  const given = parseConfig([
    "--streams",
    "1",
    "--web-config-file",
    "/etc/pose-exporter/web.yml",
    "--web-allowed-hosts",
    "Exporter.Example.com,10.0.0.5",
    "--web-allowed-hosts",
    "[fd00::1]",
  ]);
  assertEquals(given.web.webConfigFile, "/etc/pose-exporter/web.yml");
  assertEquals(given.web.allowedHosts, ["exporter.example.com", "10.0.0.5", "fd00::1"]);
  const env = parseConfig(["--streams", "1"], {
    POSE_EXPORTER_WEB_CONFIG_FILE: "web.yml",
    POSE_EXPORTER_WEB_ALLOWED_HOSTS: "a.example, *",
  });
  assertEquals([env.web.webConfigFile, env.web.allowedHosts], ["web.yml", ["a.example", "*"]]);
});

Deno.test("parseConfig() refuses an allowed host that is a URL or names a port", () => {
  assertEquals(problemsOf(["--streams", "1", "--web-allowed-hosts", "http://x.example,abc:8000"]), [
    'Invalid --web-allowed-hosts: "http://x.example" is not a host name or address (no scheme, port or path)',
    'Invalid --web-allowed-hosts: "abc:8000" is not a host name or address (no scheme, port or path)',
  ]);
});
