import { assertEquals } from "../_assert.ts";
import {
  FragmentationSolver,
  type FragmentationSolverOptions,
  type SolverReading,
} from "../../src/gpu/fragmentation_solver.ts";
import { Logger } from "../../src/log.ts";

function setup(options: FragmentationSolverOptions = {}, afterMiB: number | null = 1000) {
  const counted: string[] = [];
  const rebuilt: number[] = [];
  let fail = false;
  const solver = new FragmentationSolver(
    {
      trigger: 0.2,
      target: 0.15,
      hysteresis: 3,
      cooldown: 10,
      maxActionsPerHour: 6,
      marginMiB: 500,
      ...options,
    },
    {
      log: new Logger({ writer: { writeLine: () => {} } }),
      count: (kind, outcome) => counted.push(`${kind}:${outcome}`),
      rebuild: (shape) => {
        if (fail) return Promise.reject(new Error("out of memory"));
        rebuilt.push(shape);
        return Promise.resolve({ afterMiB });
      },
    },
  );
  return { solver, counted, rebuilt, failNext: () => (fail = true) };
}

let clock = 0;
function reading(ratio: number, freeMiB: number | null = 100_000): SolverReading {
  clock += 1000;
  return { ratio, usedMiB: 4000, freeMiB, neededMiB: 1000, workingShape: 8, atMs: clock };
}

Deno.test("FragmentationSolver - no action below the trigger or before the hysteresis count", async () => {
  const { solver, rebuilt } = setup();
  for (let i = 0; i < 20; i++) assertEquals(await solver.onReading(reading(0.2)), "observe");
  assertEquals(await solver.onReading(reading(0.5)), "observe");
  assertEquals(await solver.onReading(reading(0.5)), "observe");
  assertEquals(await solver.onReading(reading(0.1)), "observe", "a dip resets the count");
  assertEquals(await solver.onReading(reading(0.5)), "observe");
  assertEquals(await solver.onReading(reading(0.5)), "observe");
  assertEquals(rebuilt, []);
});

Deno.test("FragmentationSolver - one action after the hysteresis count, then none during the cooldown", async () => {
  const { solver, rebuilt, counted } = setup();
  await solver.onReading(reading(0.6));
  await solver.onReading(reading(0.6));
  assertEquals(await solver.onReading(reading(0.6)), "rebuilt");
  assertEquals(rebuilt, [8]);
  assertEquals(counted, ["rebuild:done"]);
  const during: string[] = [];
  for (let i = 0; i < 10; i++) during.push(await solver.onReading(reading(0.6)));
  assertEquals(during, Array(10).fill("cooldown"));
  assertEquals(
    counted,
    ["rebuild:done", "rebuild:ineffective"],
    "0.6 after the action is above the target",
  );
});

Deno.test("FragmentationSolver - an ineffective action doubles the cooldown, an effective one keeps it", async () => {
  const { solver } = setup({ hysteresis: 1, cooldown: 2 });
  assertEquals(await solver.onReading(reading(0.6)), "rebuilt");
  const after: string[] = [];
  for (let i = 0; i < 5; i++) after.push(await solver.onReading(reading(0.6)));
  assertEquals(after, ["cooldown", "cooldown", "cooldown", "cooldown", "rebuilt"]);
  const next = setup({ hysteresis: 1, cooldown: 2 }).solver;
  assertEquals(await next.onReading(reading(0.6)), "rebuilt");
  const effective: string[] = [];
  for (let i = 0; i < 3; i++) effective.push(await next.onReading(reading(i === 0 ? 0.05 : 0.6)));
  assertEquals(effective, ["cooldown", "cooldown", "rebuilt"]);
});

Deno.test("FragmentationSolver - skips (and counts) when the device has no room for a second session", async () => {
  const { solver, rebuilt, counted } = setup({ hysteresis: 1, cooldown: 1 });
  assertEquals(
    await solver.onReading(reading(0.6, 1400)),
    "skipped_no_room",
    "needed 1000 + margin 500 > 1400 free",
  );
  assertEquals(await solver.onReading(reading(0.6, 1400)), "cooldown");
  assertEquals(
    await solver.onReading(reading(0.6, null)),
    "skipped_no_room",
    "unknown free memory is no room",
  );
  assertEquals(rebuilt, []);
  assertEquals(counted, ["rebuild:skipped_no_room", "rebuild:skipped_no_room"]);
  assertEquals(await setup({ hysteresis: 1 }).solver.onReading(reading(0.6, 1500)), "rebuilt");
});

Deno.test("FragmentationSolver - keeps to its hourly limit", async () => {
  const { solver, counted } = setup({ hysteresis: 1, cooldown: 0, maxActionsPerHour: 2 });
  const outcomes = [];
  for (let i = 0; i < 4; i++) outcomes.push(await solver.onReading(reading(0.6)));
  assertEquals(outcomes, ["rebuilt", "rebuilt", "skipped_rate_limited", "skipped_rate_limited"]);
  assertEquals(counted.filter((c) => c === "rebuild:skipped_rate_limited").length, 2);
  clock += 3_600_000;
  assertEquals(await solver.onReading(reading(0.6)), "rebuilt", "a new hour allows actions again");
});

Deno.test("FragmentationSolver - off only observes; a failed rebuild is counted", async () => {
  const off = setup({ enabled: false, hysteresis: 1 });
  assertEquals(await off.solver.onReading(reading(0.9)), "disabled");
  assertEquals(off.rebuilt, []);
  const failing = setup({ hysteresis: 1 });
  failing.failNext();
  assertEquals(await failing.solver.onReading(reading(0.9)), "failed");
  assertEquals(failing.counted, ["rebuild:failed"]);
});
