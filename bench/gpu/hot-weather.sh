#!/usr/bin/env bash
# On the GPU host (device tool; prepare.sh first, then carry [".gpu", "dist"]), in one call of at most
# 8 minutes: the hot-weather experiment (issue #26) at a larger budget than a CPU allows — 96×192
# synthetic scenes, three seeds side by side, ERFNet on clean and distorted images, the per-pixel median of K
# frames, the reference feedback model, and the K-frame restoration U-Net with flow supervision —
# with restoration metrics (PSNR, flow error, ceilings). Each seed runs two commands (the reference
# rows, then the flow-supervised ones: --flow-loss applies to every learned row of a command) whose
# runs resume, so a rerun after a time-out continues (the per-seed logs stay in runs/ on the machine
# while it is warm); the log and the merged results.json, chart and report come back in $OUT.
#   HW_ARGS: override the budget (rehearse here: HW_ARGS="--height 32 --epochs 1 --train-size 8 --val-size 8").
#   SIM_ARGS (distortion flags), SEEDS (default 1 2 3), VARIANTS (reference rows), FLOW_VARIANTS
#   (rows with --flow-loss 1), DEADLINE (seconds, default 470).
set -uo pipefail
OUT=${OUT:-/tmp/out}
mkdir -p "$OUT"
start=$SECONDS
deadline=${DEADLINE:-470}
left() { echo $(( deadline - (SECONDS - start) )); }
if [ -d .gpu ]; then   # on the GPU host: the NVIDIA Vulkan ICD needs libglvnd (prepare.sh packs it)
  for f in .gpu/*.deb; do dpkg -x "$f" /; done; ldconfig
  for icd in /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json /usr/share/vulkan/icd.d/nvidia_icd.json /etc/vulkan/icd.d/nvidia_icd.json; do
    [ -f "$icd" ] && { export VK_DRIVER_FILES=$icd; break; }
  done
  RUN="bash .gpu/remote.sh node"
else
  RUN=node
fi
$RUN dist/src/cli/main.js info > "$OUT/hot-weather.txt" 2>&1
grep -q '^adapter' "$OUT/hot-weather.txt" || { cat "$OUT/hot-weather.txt"; exit 1; }
ARGS=${HW_ARGS:---height 96 --epochs 10 --train-size 320 --val-size 100 --batch-size 8 --unet-width 4}
VARIANTS=${VARIANTS:-clean,distorted,median-5,feedback-cbifl}
FLOW_VARIANTS=${FLOW_VARIANTS:-restoration-5}
# the seeds run side by side (small batches leave the GPU mostly idle, the host has 16 cores), each
# until the deadline; a rerun with the same folders resumes every run where it stopped
SIM=${SIM_ARGS:---sigma 6 --corr-length 24}   # the 64×128 CPU study's σ 4 / 16 px, scaled to 96 px
t=$(( $(left) - 25 ))
mkdir -p runs; rm -f runs/hw-status.txt
for seed in ${SEEDS:-1 2 3}; do
  ( timeout "$t" $RUN dist/src/cli/main.js experiment hot-weather $ARGS $SIM --frame-counts 5 \
      --variants "$VARIANTS" --seeds "$seed" --savedir "runs/hw-seed$seed" --resume > "runs/hw-seed$seed.log" 2>&1
    echo "seed $seed, reference rows: exit $? after $(( SECONDS - start ))s" >> "runs/hw-status.txt"
    t2=$(( $(left) - 25 ))
    [ "$t2" -gt 10 ] && timeout "$t2" $RUN dist/src/cli/main.js experiment hot-weather $ARGS $SIM --frame-counts 5 --flow-loss 1 \
      --variants "$FLOW_VARIANTS" --seeds "$seed" --savedir "runs/hw-flow-seed$seed" --resume > "runs/hw-flow-seed$seed.log" 2>&1
    echo "seed $seed, flow-supervised rows: exit $? after $(( SECONDS - start ))s" >> "runs/hw-status.txt" ) &
done
wait
cat runs/hw-status.txt >> "$OUT/hot-weather.txt"
for seed in ${SEEDS:-1 2 3}; do
  for log in "runs/hw-seed$seed.log" "runs/hw-flow-seed$seed.log"; do tail -25 "$log" >> "$OUT/hot-weather.txt" 2>/dev/null; done
done
# one table over the runs that finished (the flow-supervised rows are named so: 'restoration-5 (flow loss ×1)')
files=$( (ls runs/hw-seed*/results.json; ls runs/hw-flow-seed*/results.json) 2>/dev/null | paste -sd, -)
if [ -n "$files" ]; then
  $RUN dist/src/cli/main.js experiment hot-weather --merge "$files" --savedir runs/hw-merged >> "$OUT/hot-weather.txt" 2>&1
  for f in results.json results.png report.html; do cp "runs/hw-merged/$f" "$OUT/merged-$f" 2>/dev/null; done
fi
ls -la "$OUT"
