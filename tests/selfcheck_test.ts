// pose-exporter selfcheck: ONNX Runtime loaded as the exporter does, one batch of the demo model,
// a line per step; a failed step is one line and exit 1. Run with the exporter's permissions.

import { assert, assertEquals } from "./_assert.ts";
import { fixturePath, runExporter } from "./_helpers.ts";
import { flagProblemLines } from "../src/cli/command_line.ts";
import { EXIT } from "../src/exit_codes.ts";
import { missingCudaProviderFiles, ortNativeDir } from "../src/pose/ort_libraries.ts";

Deno.test("cli - pose-exporter selfcheck --provider cpu loads ONNX Runtime and decodes the demo figures", async () => {
  const { code, stdout, stderr } = await runExporter(["selfcheck", "--provider", "cpu"]);
  assertEquals(code, 0, stderr);
  assertEquals(stderr, "");
  const lines = stdout.trim().split("\n");
  assertEquals(lines.length, 6, stdout);
  assert(
    /^selfcheck: onnxruntime-node \d+\.\d+\.\d+ loaded from .*\/linux\/x64\/: libonnxruntime\.so\.1, onnxruntime_binding\.node$/
      .test(lines[0]!),
    lines[0],
  );
  assert(lines[0]!.includes(`${ortNativeDir()}/`), lines[0]);
  assert(
    lines[1]!.startsWith("selfcheck: built-in demo model, input [2,640,640,3] uint8"),
    lines[1],
  );
  assertEquals(lines[2], "selfcheck: provider cpu");
  assert(
    /^selfcheck: batch of 2 ran in \d+\.\d ms \(first run \d+\.\d ms/.test(lines[3]!),
    lines[3],
  );
  assertEquals(lines[4], "selfcheck: decoded 4 persons (2 + 2)");
  assertEquals(lines[5], "selfcheck: ok");
});

Deno.test({
  name:
    "cli - pose-exporter selfcheck --provider cuda without the CUDA provider fails in one line naming the files",
  ignore: missingCudaProviderFiles().length === 0,
  fn: async () => {
    const { code, stdout, stderr } = await runExporter(["selfcheck", "--provider", "cuda"]);
    assertEquals(code, 1);
    const lines = stderr.trim().split("\n");
    assertEquals(lines.length, 1, stderr);
    assert(
      lines[0]!.startsWith(
        "pose-exporter selfcheck: Failed at starting the cuda session: Cannot use execution provider cuda: ",
      ),
      lines[0],
    );
    for (const file of missingCudaProviderFiles()) assert(lines[0]!.includes(file), lines[0]);
    assert(stdout.includes("selfcheck: onnxruntime-node"), "the steps before it are reported");
    assert(!stdout.includes("selfcheck: ok"));
  },
});

Deno.test("cli - pose-exporter selfcheck refuses bad flags in the one form, naming flag and value, exit 2", async () => {
  const cases: [string[], string[]][] = [
    [["--provider", "gpu"], ['Invalid --provider: "gpu" is not one of auto, cuda, cpu']],
    [["--device", "first"], ['Invalid --device: "first" is not an integer in 0..255']],
    [["--batch", "4"], [
      "Unknown flag: --batch (see --help)",
      'Unexpected argument: "4" (flags start with --)',
    ]],
  ];
  for (const [args, messages] of cases) {
    const { code, stdout, stderr } = await runExporter(["selfcheck", ...args]);
    assertEquals(code, EXIT.usage, args.join(" "));
    assertEquals(stderr, flagProblemLines("selfcheck", messages).join("\n") + "\n");
    assertEquals(stdout, "");
  }
});

Deno.test("cli - pose-exporter selfcheck --help describes the check and its flags", async () => {
  const { code, stdout } = await runExporter(["selfcheck", "--help"]);
  assertEquals(code, EXIT.ok);
  assert(stdout.startsWith("Usage: pose-exporter selfcheck [flags]"), stdout);
  assert(stdout.includes("--provider auto|cuda|cpu"), stdout);
  assert(stdout.includes("(default 0; 0..255; env POSE_EXPORTER_DEVICE)"), stdout);
});

Deno.test("cli - pose-exporter selfcheck --model reports the layout, input size, keypoints and classes it found", async () => {
  const path = fixturePath("animal_pose.onnx");
  const { code, stdout, stderr } = await runExporter([
    "selfcheck",
    "--provider",
    "cpu",
    "--model",
    path,
  ]);
  assertEquals(code, 0, stderr);
  const lines = stdout.trim().split("\n");
  assertEquals(lines.slice(1, 5), [
    `selfcheck: model ${path}: Ultralytics metadata (exported by 8.3.240): Ultralytics YOLO11n-pose model trained on coco-pose.yaml`,
    "selfcheck: layout Ultralytics YOLO-pose [N,22,anchors], 8 keypoints x 2, 2 classes",
    "selfcheck: input 640x640 (model), float32, batch fixed at 1; uint8 NHWC -> float32 RGB 0..1 NCHW, in the graph",
    "selfcheck: keypoints 8 x 2 (x, y); classes 0: cat, 1: dog",
  ]);
  assertEquals(lines[5], "selfcheck: provider cpu");
  assert(/^selfcheck: batch of 1 ran in /.test(lines[6]!), lines[6]);
  assertEquals(
    lines[7],
    "selfcheck: decoded 3 persons (3) in 1 synthetic frame (drawn figures: a real model need find none)",
  );
  assertEquals(lines.at(-1), "selfcheck: ok");
});

Deno.test("cli - pose-exporter selfcheck --model of a dynamic export says where its input size came from", async () => {
  const path = fixturePath("yolo11_pose_dynamic.onnx");
  const base = ["selfcheck", "--provider", "cpu", "--model", path];
  const meta = await runExporter(base);
  assertEquals(meta.code, 0, meta.stderr);
  assert(
    meta.stdout.includes(
      "selfcheck: input 640x480 (metadata imgsz), float32, dynamic batch; uint8 NHWC",
    ),
    meta.stdout,
  );
  assert(meta.stdout.includes("selfcheck: decoded 6 persons (3 + 3) in 2 synthetic frames"));
  const flag = await runExporter([...base, "--input-size", "330"]);
  assertEquals(flag.code, 0, flag.stderr);
  assert(flag.stdout.includes("selfcheck: input 352x352 (--input-size)"), flag.stdout);
  assert(
    flag.stdout.includes(
      "selfcheck: note: input width 330 (--input-size) is not a multiple of the stride 32: using 352",
    ),
    flag.stdout,
  );
});

Deno.test("cli - pose-exporter selfcheck --model of a model it cannot read fails in one line naming the file", async () => {
  const path = fixturePath("yolo11_detect.onnx");
  const { code, stderr } = await runExporter(["selfcheck", "--provider", "cpu", "--model", path]);
  assertEquals(code, EXIT.failure);
  const lines = stderr.trim().split("\n");
  assertEquals(lines.length, 1, stderr);
  assert(
    lines[0]!.startsWith(
      `pose-exporter selfcheck: Failed at loading the model: Unknown model layout in ${path}: its metadata says task 'detect'`,
    ),
    lines[0],
  );
  const bad = await runExporter(["selfcheck", "--input-size", "0"]);
  assertEquals(bad.code, EXIT.usage);
  assertEquals(
    bad.stderr,
    flagProblemLines("selfcheck", [
      'Invalid --input-size: "0" is not N or WIDTHxHEIGHT with sides in 32..8192',
    ]).join("\n") + "\n",
  );
});
