#!/usr/bin/env bash
# mirage set-up in one command, then the job:
#   bash setup.sh demo    set up, then train the README's ERFNet demo into runs/demo (about 2 minutes on 2 CPU cores)
#   bash setup.sh test    set up, then run the test suite (ends "N passed, N failed")
#   bash setup.sh         set up only
# It installs only what this machine lacks, and says so:
#   - Node.js ≥ 20 if there is none (Debian's nodejs package; refused if that is older than 20),
#   - the npm packages (npm ci, which also builds dist/), when node_modules is missing or stale,
#   - Mesa's lavapipe (a Vulkan driver that runs WebGPU on the CPU, from bookworm-backports) when
#     Dawn finds no WebGPU adapter. A machine with a GPU driver is not touched.
# System packages need root (or sudo). Without either, it stops and prints the commands to run.
set -uo pipefail
cd "$(dirname "$0")"
export XDG_RUNTIME_DIR="${XDG_RUNTIME_DIR:-/tmp}"
job="${1:-}"
case "$job" in ""|demo|test) ;; *) echo "setup.sh: unknown job '$job' (demo, test, or nothing)"; exit 2 ;; esac

fail() { echo "setup: $*"; [ "$job" = test ] && echo "0 passed, 1 failed"; exit 1; }
as_root() {   # as_root CMD…: run as root, or say what to run
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null && sudo -n true 2>/dev/null; then sudo "$@"
  else echo "setup: needs root for: $*"; return 1; fi
}

node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
if [ "$node_major" -lt 20 ]; then
  echo "setup: Node.js ≥ 20 not found (have: $(node --version 2>/dev/null || echo none)); installing Debian's nodejs and npm"
  { as_root apt-get update -qq && as_root apt-get install -y -qq nodejs npm >/dev/null; } ||
    fail "could not install Node.js; install Node 20 or newer (https://nodejs.org) and run this again"
  node_major=$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)
  [ "$node_major" -ge 20 ] || fail "Debian's Node.js $(node --version) is older than 20; install Node 20 or newer (https://nodejs.org) and run this again"
fi

# npm packages: again only when package-lock.json changed since the last install
if [ ! -f node_modules/.package-lock.json ] || [ package-lock.json -nt node_modules/.package-lock.json ] || [ ! -f dist/src/cli/main.js ]; then
  echo "setup: installing npm packages (npm ci) and building"
  npm ci --no-audit --no-fund --loglevel=error || fail "npm ci failed"
fi

# WebGPU needs a Vulkan driver. Without a GPU, Mesa's lavapipe from bookworm-backports provides one
# (bookworm's own Mesa 22 is too old for Dawn).
if ! node .ci/probe-gpu.mjs; then
  echo "setup: no WebGPU adapter; installing Mesa lavapipe (mesa-vulkan-drivers, libvulkan1) from bookworm-backports"
  src='deb http://deb.debian.org/debian bookworm-backports main'
  { echo "$src" | as_root tee /etc/apt/sources.list.d/backports.list >/dev/null &&
    as_root apt-get update -qq &&
    as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null; } ||
    fail "could not install lavapipe. As root: echo '$src' > /etc/apt/sources.list.d/backports.list; apt-get update; apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1"
  node .ci/probe-gpu.mjs || fail "still no WebGPU adapter after installing lavapipe"
fi

case "$job" in
  demo) node dist/src/cli/main.js train --height 64 --epochs 5 --train-size 160 --val-size 50 --batch-size 4 --lr 2e-3 --savedir runs/demo --overwrite ;;
  test) npm test --silent ;;
  *) echo "setup: ready. Try: npx mirage models; bash setup.sh demo; bash setup.sh test" ;;
esac
