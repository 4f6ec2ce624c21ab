#!/usr/bin/env bash
# On the GPU host (device tool; see prepare.sh), in one call of at most 10 minutes:
#   1. adapter info and the whole test suite (every kernel family against its CPU references),
#   2. PyTorch's ERFNet step and inference (fp32, then TF32) as the reference to beat,
#   3. the full bench (convs + models) in the default family, the inference FPS table (mssa,
#      BiSeNet, ERFNet), then the convs in the other families,
#   4. per-layer profiles of the paper-size ERFNet step and of the feedback step (U-Net width 64).
# Each step has its own time limit inside a deadline, so the call ends in time and what was
# done comes back. Everything goes to $OUT, 8 files at most. Extra bench flags: BENCH_ARGS
# (e.g. BENCH_ARGS=--quick to try this script on a CPU adapter); FAMILIES: the other families.
# A/B against another build: COMPARE_DIST (its dist folder, carried), COMPARE_ONLY (convs or
# models, default convs; models compares the training steps' time, host time and peak pool).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
start=$SECONDS
deadline=${DEADLINE:-560}
left() { echo $(( deadline - (SECONDS - start) )); }
step() {   # step LIMIT_S OUTFILE CMD...: run CMD under the smaller of LIMIT_S and the time left
  local lim=$1 out=$2; shift 2
  local t; t=$(left); (( t < lim )) && lim=$t
  if (( lim < 10 )); then echo "skipped (deadline): $*" >> "$out"; return; fi
  echo "[$(( SECONDS - start ))s] $* (limit ${lim}s)" 
  timeout "$lim" "$@" >> "$out" 2>&1; echo "[$(( SECONDS - start ))s] exit $?" 
}
# the NVIDIA Vulkan ICD (libGLX_nvidia) needs libglvnd: unpack every packed .deb (prepare.sh), not
# only the loader that remote.sh unpacks when it finds none
for f in .gpu/*.deb; do dpkg -x "$f" /; done; ldconfig
for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
  [ -f "$icd" ] && { export VK_DRIVER_FILES=$icd; break; }
done
[ -d .gpu/node_modules/uvu ] || tar -C .gpu/node_modules -xJf .gpu/peer.tar.xz

step 30 "$OUT/test.txt" bash .gpu/remote.sh node dist/src/cli/main.js info
if ! grep -q '^adapter' "$OUT/test.txt"; then   # no adapter: say why, stop
  cat "$OUT/test.txt"; echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"; ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d 2>&1
  cat ${VK_DRIVER_FILES:-/dev/null}; ldd "$(find / -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)" 2>&1 | grep -i 'not found'; exit 1
fi
step ${TEST_S:-150} "$OUT/test.txt" bash .gpu/remote.sh node dist/test/index.js ${TESTS:-}
tail -3 "$OUT/test.txt"

if [ -z "${SKIP_TORCH:-}" ] && command -v python3 >/dev/null && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; then
  step 90 "$OUT/pytorch.txt" python3 bench/gpu/erfnet_step.py --reps 20
  step 90 "$OUT/pytorch.txt" python3 bench/gpu/erfnet_step.py --reps 20 --tf32
fi

bench() {  # bench NAME LIMIT ARGS...
  local name=$1 lim=$2; shift 2
  mkdir -p "$OUT/tmp-$name"
  step "$lim" "$OUT/bench-$name.txt" bash .gpu/remote.sh node dist/src/cli/main.js bench --full ${BENCH_ARGS:-} --out "$OUT/tmp-$name" "$@"
  mv "$OUT/tmp-$name"/*.json "$OUT/bench-$name.json" 2>/dev/null; rm -rf "$OUT/tmp-$name"
}
# A/B: the conv passes from another build first (COMPARE_DIST, e.g. dist-old built from an earlier
# commit and carried), in the same session as the bench of this build
if [ -n "${COMPARE_DIST:-}" ]; then
  mkdir -p "$OUT/tmp-compare"
  step ${COMPARE_S:-120} "$OUT/bench-compare.txt" bash .gpu/remote.sh node "$COMPARE_DIST/src/cli/main.js" bench --full --only ${COMPARE_ONLY:-convs} --no-peer --reps ${REPS:-10} --out "$OUT/tmp-compare"
  mv "$OUT"/tmp-compare/*.json "$OUT/bench-compare.json" 2>/dev/null; rm -rf "$OUT/tmp-compare"
fi
bench default ${BENCH_S:-200} --reps ${REPS:-10}
# the MSSA seed's headline: frames per second at 360×480, 1024×1024 and 768×1536 beside ERFNet;
# its table is appended to bench-default.txt (the device returns 8 files at most; the JSON stays there)
mkdir -p "$OUT/tmp-fps"
step ${FPS_S:-60} "$OUT/bench-default.txt" bash .gpu/remote.sh node dist/src/cli/main.js bench --full --inference --reps ${REPS:-10} --no-peer --out "$OUT/tmp-fps"
rm -rf "$OUT/tmp-fps"
for fam in ${FAMILIES-tiled subgroup}; do bench "$fam" 80 --reps ${REPS:-10} --only convs --kernels "$fam"; done
# where the paper-size training step's time goes, per layer and per kernel
step 90 "$OUT/profile.txt" bash .gpu/remote.sh node dist/src/cli/main.js profile --height 224 --width 448 --batch-size 8 --top 30
step 120 "$OUT/profile.txt" bash .gpu/remote.sh node dist/src/cli/main.js profile --model feedback --unet-width 6 --height 224 --width 448 --batch-size 8 --top 30
ls -la "$OUT"
