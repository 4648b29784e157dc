import { assertEquals } from "./_assert.ts";
import { longTimeout } from "../src/stop_control.ts";

Deno.test("longTimeout() waits past setTimeout's 24.8-day range instead of firing at once", async () => {
  let fired = false;
  const cancel = longTimeout(() => (fired = true), 3_000_000_000);
  await new Promise((r) => setTimeout(r, 20));
  assertEquals(fired, false);
  cancel();
  let short = false;
  longTimeout(() => (short = true), 5);
  await new Promise((r) => setTimeout(r, 30));
  assertEquals(short, true);
});
