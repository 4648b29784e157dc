import { assert, assertEquals, assertThrows } from "../_assert.ts";
import { parsePythonLiteral, PythonLiteralError } from "../../src/pose/python_literal.ts";

Deno.test("parsePythonLiteral() reads what Ultralytics writes into ONNX metadata", () => {
  assertEquals(parsePythonLiteral("[17, 3]"), [17, 3]);
  assertEquals(parsePythonLiteral("[640, 640]"), [640, 640]);
  assertEquals(parsePythonLiteral("(384, 640)"), [384, 640]);
  assertEquals(parsePythonLiteral("{0: 'person'}"), new Map([[0, "person"]]));
  assertEquals(
    parsePythonLiteral("{0: 'cat', 1: \"dog's\"}"),
    new Map([[0, "cat"], [1, "dog's"]]),
  );
  assertEquals(
    parsePythonLiteral(
      "{'batch': 1, 'half': False, 'dynamic': True, 'simplify': True, 'opset': None, 'nms': False, 'conf': 0.25, 'fraction': 1.0}",
    ),
    new Map<string, unknown>([
      ["batch", 1],
      ["half", false],
      ["dynamic", true],
      ["simplify", true],
      ["opset", null],
      ["nms", false],
      ["conf", 0.25],
      ["fraction", 1],
    ]) as never,
  );
  assertEquals(parsePythonLiteral("True"), true);
  assertEquals(parsePythonLiteral(" 32 "), 32);
  assertEquals(parsePythonLiteral("-1.5e-3"), -0.0015);
  assertEquals(
    parsePythonLiteral("{0: ['nose', 'left_eye']}"),
    new Map([[0, ["nose", "left_eye"]]]),
  );
  assertEquals(parsePythonLiteral("'a\\'b\\n\\x41'"), "a'b\nA");
  assertEquals(parsePythonLiteral("[1, 2,]"), [1, 2]);
  assertEquals(parsePythonLiteral("{}"), new Map());
});

Deno.test("parsePythonLiteral() refuses what is not a literal, naming the place", () => {
  const err = assertThrows(() => parsePythonLiteral("[17, 3"), PythonLiteralError);
  assert(err.message.includes("character 6") && err.message.includes("the end"), err.message);
  assertThrows(
    () => parsePythonLiteral("{0: 'person'} extra"),
    PythonLiteralError,
    "expected the end",
  );
  assertThrows(() => parsePythonLiteral("os.system('x')"), PythonLiteralError, "expected a value");
  assertThrows(() => parsePythonLiteral("'open"), PythonLiteralError, "a closing '");
  assertThrows(() => parsePythonLiteral("{[1]: 2}"), PythonLiteralError, "dict key");
});
