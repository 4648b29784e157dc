#!/usr/bin/env bash
# The whole GPU check for the lent GPU machine (../shared/gpu/README.md), in one go, after the
# packed folders were copied to /tmp/gpu. Output goes to $OUT (or ./gpu-out).
#   1. gpu_check: 4 synthetic streams on CUDA for 20 s: provider, fps, latency, VRAM.
#   2. gpu_check --burst: a burst of batch-32 runs, then 30 fps: the ratio rises, the solver rebuilds.
#   3. deno task bench --provider cuda at batch 8 and 1 (raw vs pipeline, fused uint8 vs JS float32
#      input, scrape and update costs, nvidia-smi loop vs spawn).
set -uo pipefail
out=${OUT:-gpu-out}
mkdir -p "$out"
bash /tmp/gpu/unpack.sh > "$out/unpack.log" 2>&1 || { cat "$out/unpack.log"; exit 1; }
. /tmp/gpu/env.sh
export CUDA_DEVICE_ORDER=PCI_BUS_ID
nvidia-smi --query-gpu=index,name,memory.total,memory.used --format=csv | tee "$out/nvidia-smi.txt"
deno run -A scripts/gpu_check.ts --provider cuda --streams 4 --seconds 20 2>&1 | tee "$out/gpu_check.log"
deno run -A scripts/gpu_check.ts --provider cuda --streams 2 --seconds 60 --burst 2>&1 | tee "$out/burst.log"
deno task bench --provider cuda --batch-size 8 --quick 2>/dev/null | tee "$out/bench_b8.log"
deno task bench --provider cuda --batch-size 1 --quick 2>/dev/null | tee "$out/bench_b1.log"
