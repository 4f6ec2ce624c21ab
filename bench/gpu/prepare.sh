#!/usr/bin/env bash
# Before a GPU session (run here, from the project root): build, pack Node + the production
# node_modules (../shared/gpu/pack.sh), and add the tfjs peer (a dev dependency, so pack.sh leaves
# it out) as .gpu/peer.tar.xz, about 1 MiB. Then call the device tool with
#   carry: [".gpu", "dist"], command: "bash bench/gpu/session.sh"
set -euo pipefail
npm run build >/dev/null
mkdir -p "$(git rev-parse --git-path info)"   # pack.sh appends to .git/info/exclude, absent in some checkouts
bash ../shared/gpu/pack.sh
tar -C node_modules -cJf .gpu/peer.tar.xz --exclude='*.map' --exclude='*_test.js' --exclude='*.d.ts' --exclude='*.min.js' \
  --exclude='tf-core.js' --exclude='tf-core.es2017.js' --exclude='tf-core.fesm.js' \
  --exclude='tf-backend-webgpu.js' --exclude='tf-backend-webgpu.es2017.js' --exclude='tf-backend-webgpu.fesm.js' \
  @tensorflow/tfjs-core @tensorflow/tfjs-backend-webgpu long seedrandom node-fetch whatwg-url tr46 webidl-conversions
du -sh .gpu dist >&2
