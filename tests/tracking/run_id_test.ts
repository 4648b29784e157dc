import { assert, assertEquals } from "../_assert.ts";
import { createRunId, RUN_ID_PATTERN } from "../../src/tracking/run_id.ts";

Deno.test("createRunId() is the start time in base 36 and four random characters", () => {
  const id = createRunId({ now: () => 1_800_000_000_000, random: () => 0.5 });
  assertEquals(id, `${(1_800_000_000_000).toString(36)}-iiii`);
  assert(RUN_ID_PATTERN.test(id));
  assert(createRunId() !== createRunId({ now: () => 0 }));
});
