#!/usr/bin/env bash
# On the GPU host (device tool; see prepare.sh), in one call of at most 10 minutes:
#   1. adapter info (shader-f16, the subgroup-matrix configs and the shape chosen) and the kernel
#      tests (every conv, matmul and optimizer kernel against float64, f16 GEMMs on tensor cores,
#      every op on f16 activations),
#   2. PyTorch's ERFNet step and inference (fp32, AMP, TF32), DeepLabV3+ R50's and the feedback
#      system's (fp32, AMP) as the references to beat,
#   3. mirage's steps and inference of those and the feedback system, f32 and --precision f16,
#   4. per-layer profiles of the paper-size step, f16 and f32, then the conv passes against tfjs.
# Each step has its own time limit inside a deadline, so the call ends in time and what was
# done comes back. Everything goes to $OUT, 8 files at most. Extra bench flags: BENCH_ARGS
# (e.g. BENCH_ARGS=--quick to try this script on a CPU adapter); TESTS: test files (all: the suite);
# PROFILE_ARGS: the profiled step's shape; MODELS: the benched models.
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
start=$SECONDS
deadline=${DEADLINE:-530}   # under 9 minutes of the device call (issue #24)
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
[ -d .gpu/node_modules ] || { mkdir -p .gpu/node_modules && tar -C .gpu/node_modules -xJf .gpu/modules.tar.xz; }   # prepare.sh packs them
[ -d .gpu/node_modules/uvu ] || tar -C .gpu/node_modules -xJf .gpu/peer.tar.xz

step 30 "$OUT/test.txt" bash .gpu/remote.sh node dist/src/cli/main.js info
if ! grep -q '^adapter' "$OUT/test.txt"; then   # no adapter: say why, stop
  cat "$OUT/test.txt"; echo "VK_DRIVER_FILES=${VK_DRIVER_FILES:-}"; ls /usr/local/nvidia/share/vulkan/icd.d /usr/share/vulkan/icd.d 2>&1
  cat ${VK_DRIVER_FILES:-/dev/null}; ldd "$(find / -name 'libGLX_nvidia.so.0' 2>/dev/null | head -1)" 2>&1 | grep -i 'not found'; exit 1
fi
# the kernel families' tests (every conv, matmul and optimizer kernel against float64, the f16 GEMMs on
# tensor cores where Dawn offers subgroup matrices) first; the whole suite with TESTS=all
tests=${TESTS:-precision half-storage conv2d optim elementwise nn losses engine}
[ "$tests" = all ] && tests=
step ${TEST_S:-120} "$OUT/test.txt" bash .gpu/remote.sh node dist/test/index.js $tests
tail -3 "$OUT/test.txt"

# PyTorch's ERFNet step and inference: fp32 and AMP (autocast f16 + GradScaler), the ratios' denominators
torch_ok() { [ -z "${SKIP_TORCH:-}" ] && command -v python3 >/dev/null && python3 -c 'import torch; assert torch.cuda.is_available()' 2>/dev/null; }
if torch_ok; then
  step 70 "$OUT/pytorch.txt" python3 bench/gpu/erfnet_step.py --reps 20
  step 70 "$OUT/pytorch.txt" python3 bench/gpu/erfnet_step.py --reps 20 --amp
fi

bench() {  # bench NAME LIMIT ARGS...
  local name=$1 lim=$2; shift 2
  mkdir -p "$OUT/tmp-$name"
  step "$lim" "$OUT/bench-$name.txt" bash .gpu/remote.sh node dist/src/cli/main.js bench --full ${BENCH_ARGS:-} --out "$OUT/tmp-$name" "$@"
  mv "$OUT/tmp-$name"/*.json "$OUT/bench-$name.json" 2>/dev/null; rm -rf "$OUT/tmp-$name"
}
# the training steps and inference of ERFNet, DeepLabV3+ (ResNet-50) and the feedback system, f32 then
# f16 (same call, so their ratios to PyTorch's stand side by side)
models=${MODELS:-erfnet,deeplabv3plus-r50,feedback}
bench f32 ${BENCH_S:-120} --reps ${REPS:-10} --only models --model "$models" --no-peer
bench f16 ${BENCH_S:-120} --reps ${REPS:-10} --only models --model "$models" --no-peer --precision f16
# PyTorch's DeepLabV3+ R50 and feedback system (fp32, AMP), each checked to be mirage's network by
# its parameter count, then ERFNet with TF32
if torch_ok; then
  step 60 "$OUT/pytorch.txt" python3 bench/gpu/deeplab_step.py --reps 10
  step 60 "$OUT/pytorch.txt" python3 bench/gpu/deeplab_step.py --reps 10 --amp
  step 60 "$OUT/pytorch.txt" python3 bench/gpu/feedback_step.py --reps 5
  step 60 "$OUT/pytorch.txt" python3 bench/gpu/feedback_step.py --reps 5 --amp
  step 60 "$OUT/pytorch.txt" python3 bench/gpu/erfnet_step.py --reps 20 --tf32
fi
# where the f16 step's time goes (per layer, per kernel), then the f32 step's
prof=${PROFILE_ARGS:---height 224 --width 448 --batch-size 8}
step 90 "$OUT/profile.txt" bash .gpu/remote.sh node dist/src/cli/main.js profile --precision f16 $prof --top 30
step 90 "$OUT/profile.txt" bash .gpu/remote.sh node dist/src/cli/main.js profile $prof --top 30
# what time is left, into one file (the device returns 8 at most): the ERFNet step in f16 with f32
# activations (f16 GEMM operands only), for what f16 storage saves; with f16 operands on the scalar
# core, for the tensor cores' gain (and a measurement should their variant fail its tests); then f32
# with 128×128 tiles, 8×8 an invocation, for the GEMMs of ≥ 128 rows (tiled.ts LARGE), with vec4
# workgroup reads (tiled.ts SQUARE_VEC), with split-K weight gradients summed by atomics (no
# sum_splits pass), and with 16×256 tiles for the 16-channel layers' GEMMs (tiled.ts NARROW), each
# against bench-f32
MIRAGE_F16_STORAGE=0 bench extra 90 --reps ${REPS:-10} --only models --model erfnet --no-peer --precision f16
MIRAGE_LARGE_TILES=1 bench extra 90 --reps ${REPS:-10} --only models --model erfnet,deeplabv3plus-r50 --no-peer
MIRAGE_VEC_TILES=1 bench extra 90 --reps ${REPS:-10} --only models --model erfnet,deeplabv3plus-r50 --no-peer
MIRAGE_ATOMIC_SPLITS=1 bench extra 90 --reps ${REPS:-10} --only models --model erfnet --no-peer
MIRAGE_TENSOR_CORES=0 bench extra 90 --reps ${REPS:-10} --only models --model erfnet --no-peer --precision f16
MIRAGE_NARROW_TILES=1 bench extra 90 --reps ${REPS:-10} --only models --model erfnet --no-peer
rm -f "$OUT/bench-extra.json"
ls -la "$OUT"
