#!/usr/bin/env bash
# On the GPU host (device tool; see prepare.sh): the bench in each kernel family that can run on a
# GPU, then PyTorch's ERFNet step as the reference. Everything goes to $OUT (8 files at most).
# Written for the first GPU session; budget about 10 minutes per call.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT" bench/results
tar -C .gpu/node_modules -xJf .gpu/peer.tar.xz
run() { bash .gpu/remote.sh node dist/src/cli/main.js "$@"; }
run info > "$OUT/info.txt" 2>&1
for fam in tiled portable; do
  timeout 240 bash .gpu/remote.sh node dist/src/cli/main.js bench --full --reps 10 --kernels "$fam" --out "$OUT/bench-$fam" > "$OUT/bench-$fam.txt" 2>&1
  mv "$OUT"/bench-"$fam"/*.json "$OUT/bench-$fam.json" 2>/dev/null; rmdir "$OUT/bench-$fam" 2>/dev/null
done
timeout 120 python3 bench/gpu/erfnet_step.py --reps 20 > "$OUT/pytorch.json" 2> "$OUT/pytorch.err"
timeout 120 python3 bench/gpu/erfnet_step.py --reps 20 --tf32 > "$OUT/pytorch-tf32.json" 2>> "$OUT/pytorch.err"
ls -la "$OUT"
