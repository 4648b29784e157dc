#!/usr/bin/env bash
# The whole GPU check for a lent GPU machine, in one go, after the packed folders were copied to
# /tmp/gpu (see docs/gpu_run.md). Output goes to $OUT (or ./gpu-out). In order of priority, so a
# run cut short still has the most important figures:
#   1. selfcheck on CUDA: the provider loads and its libraries resolve.
#   2. gpu_check: 4 and 32 synthetic streams on CUDA: provider, fps, latency, VRAM.
#   3. gpu_check --burst with the solver on and off: the ratio before and after, MiB returned.
#   4. deno task bench --provider cuda at batch 8 and 32: raw session.run against the pipeline.
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
bash /tmp/gpu/unpack.sh > "$out/unpack.log" 2>&1 || { cat "$out/unpack.log"; exit 1; }
. /tmp/gpu/env.sh
export CUDA_DEVICE_ORDER=PCI_BUS_ID
nvidia-smi --query-gpu=index,name,uuid,driver_version,memory.total,memory.used --format=csv |
  tee "$out/nvidia-smi.txt"
deno run -A main.ts selfcheck --provider cuda 2>&1 | tee "$out/selfcheck.log"
deno run -A scripts/gpu_check.ts --provider cuda --streams 4 --seconds 20 2>&1 | tee "$out/gpu_check_4.log"
deno run -A scripts/gpu_check.ts --provider cuda --streams 32 --seconds 20 2>&1 | tee "$out/gpu_check_32.log"
deno run -A scripts/gpu_check.ts --provider cuda --streams 2 --seconds 60 --burst 2>&1 |
  tee "$out/burst_solver_on.log"
deno run -A scripts/gpu_check.ts --provider cuda --streams 2 --seconds 60 --burst --solver off 2>&1 |
  tee "$out/burst_solver_off.log"
deno task bench --provider cuda --batch-size 8 --quick 2>/dev/null | tee "$out/bench_b8.log"
deno task bench --provider cuda --batch-size 32 --quick 2>/dev/null | tee "$out/bench_b32.log"
