#!/usr/bin/env bash
# Before a GPU session (run here, from the project root): build, pack Node + the production
# node_modules (../shared/gpu/pack.sh), and add the dev dependencies the GPU run needs (pack.sh leaves
# them out) as .gpu/peer.tar.xz: the tfjs peer and uvu for the test suite, about 1.5 MiB. Then call the device tool with
#   carry: [".gpu", "dist"], command: "bash bench/gpu/session.sh"
set -euo pipefail
npm run build >/dev/null
mkdir -p "$(git rev-parse --git-path info)"   # pack.sh appends to .git/info/exclude, absent in some checkouts
bash ../shared/gpu/pack.sh
tar -C node_modules -cJf .gpu/peer.tar.xz --exclude='*.map' --exclude='*_test.js' --exclude='*.d.ts' --exclude='*.min.js' \
  --exclude='tf-core.js' --exclude='tf-core.es2017.js' --exclude='tf-core.fesm.js' \
  --exclude='tf-backend-webgpu.js' --exclude='tf-backend-webgpu.es2017.js' --exclude='tf-backend-webgpu.fesm.js' \
  @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu long seedrandom node-fetch whatwg-url tr46 webidl-conversions \
  uvu dequal diff kleur sade mri
# the production node_modules as one xz archive (session.sh unpacks it): the charts' vega, vega-lite
# and resvg made them 35 MiB, and the device carries 64 MiB in all (about 9 MiB packed)
tar -C .gpu/node_modules -cJf .gpu/modules.tar.xz . && rm -rf .gpu/node_modules
# libglvnd, which the NVIDIA Vulkan ICD loads (without it: "Found no drivers!")
o='-oAPT::Architecture=amd64 -oAPT::Architectures=amd64 -oDir::State::Lists=/tmp/amd64-lists'
ls .gpu/libglvnd0_*.deb >/dev/null 2>&1 || (cd .gpu && apt-get $o download libegl1 libglvnd0 libopengl0 libgl1 libglx0 libgles2 >/dev/null 2>&1)
du -sh .gpu dist >&2
total=$(du -sbc .gpu dist $(git ls-files) 2>/dev/null | tail -1 | cut -f1)
echo "carried with the working tree: $((total / 1048576)) MiB of the device's 64" >&2
(( total < 60 * 1048576 )) || { echo "too large for the device tool's 64 MiB" >&2; exit 1; }
