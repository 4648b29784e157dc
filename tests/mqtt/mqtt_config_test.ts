// The --mqtt-* flags as parseConfig() resolves them: each one without --mqtt-url is refused.

import { assertEquals } from "../_assert.ts";
import { ConfigError, parseConfig } from "../../src/config.ts";

function problemsOf(args: string[], env: Record<string, string> = {}): string[] {
  try {
    parseConfig(args, env);
  } catch (err) {
    if (err instanceof ConfigError) return err.problems;
    throw err;
  }
  return [];
}

Deno.test("parseConfig() refuses every --mqtt-* flag without --mqtt-url, by flag or env", () => {
  for (
    const [flag, value] of [
      ["mqtt-qos", "0"],
      ["mqtt-queue-mib", "4"],
      ["mqtt-topic-prefix", "site/a"],
      ["mqtt-client-id", "cam1"],
      ["mqtt-poses", null],
      ["mqtt-ca-file", "/ca.pem"],
      ["mqtt-password-file", "/pw"],
    ] as const
  ) {
    const args = ["--streams", "1", `--${flag}`, ...(value === null ? [] : [value])];
    assertEquals(problemsOf(args), [`Flag --${flag} needs --mqtt-url`], flag);
    const env = `POSE_EXPORTER_${flag.toUpperCase().replaceAll("-", "_")}`;
    assertEquals(
      problemsOf(["--streams", "1"], { [env]: value ?? "true" }),
      [`Flag --${flag} needs --mqtt-url`],
      env,
    );
  }
  const ok = parseConfig([
    "--streams",
    "1",
    "--mqtt-url",
    "mqtt://h",
    "--mqtt-qos",
    "0",
    "--mqtt-queue-mib",
    "4",
    "--mqtt-topic-prefix",
    "site/a",
    "--mqtt-client-id",
    "cam1",
  ]);
  assertEquals([ok.mqtt.qos, ok.mqtt.queueBytes, ok.mqtt.topicPrefix, ok.mqtt.clientId], [
    0,
    4 * 2 ** 20,
    "site/a",
    "cam1",
  ]);
});
