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
#   - for the test job, Debian's chromium when no Chromium is installed (the browser test).
# System packages need root (or sudo). Without either, lavapipe goes into .mesa/ in the clone instead
# (Debian packages downloaded and unpacked there, no root needed); mirage finds it there by itself,
# and setup.sh prints the two variables other programs need.
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

# lavapipe without root: the packages (and those of their dependencies this machine lacks) from
# Debian, unpacked into .mesa/root; its Vulkan driver manifest rewritten to point there.
user_lavapipe() {
  local dir="$PWD/.mesa"
  rm -rf "$dir"; mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/debs" "$dir/root"
  printf 'deb http://deb.debian.org/debian bookworm main\ndeb http://deb.debian.org/debian bookworm-backports main\n' > "$dir/apt/sources.list"
  local o=(-o "Dir::Etc::SourceList=$dir/apt/sources.list" -o Dir::Etc::SourceParts=/nonexistent -o "Dir::State::Lists=$dir/apt/lists"
    -o "Dir::Cache=$dir/apt/cache" -o Debug::NoLocking=1 -o APT::Default-Release=bookworm-backports)
  apt-get "${o[@]}" update -qq || return 1
  # the two packages, then breadth-first every dependency that is not installed here
  local todo=(mesa-vulkan-drivers libvulkan1) seen=" " p d
  while [ ${#todo[@]} -gt 0 ]; do
    p=${todo[0]}; todo=("${todo[@]:1}")
    case "$seen" in *" $p "*) continue ;; esac
    seen="$seen$p "
    (cd "$dir/debs" && apt-get "${o[@]}" download "$p" >/dev/null 2>&1) || { echo "setup: cannot download $p"; return 1; }
    for d in $(apt-cache "${o[@]}" depends --no-recommends --no-suggests "$p" | awk '$1 == "Depends:" && $2 !~ /^</ {print $2}' | sed 's/:any$//'); do
      dpkg-query -W -f='${Status}' "$d" 2>/dev/null | grep -q 'ok installed' || todo+=("$d")
    done
  done
  for f in "$dir"/debs/*.deb; do dpkg -x "$f" "$dir/root"; done
  local icd so; icd=$(ls "$dir"/root/usr/share/vulkan/icd.d/lvp_icd*.json | head -1); so=$(find "$dir/root" -name libvulkan_lvp.so | head -1)
  [ -n "$icd" ] && [ -n "$so" ] || { echo "setup: the lavapipe packages hold no driver manifest or library"; return 1; }
  sed "s#\"library_path\": *\"[^\"]*\"#\"library_path\": \"$so\"#" "$icd" > "$dir/lvp_icd.json"
  echo "setup: lavapipe is in $dir ($(ls "$dir"/debs | wc -l) packages)"
}

# WebGPU needs a Vulkan driver. Without a GPU, Mesa's lavapipe from bookworm-backports provides one
# (bookworm's own Mesa 22 is too old for Dawn).
mesa_env() {   # the variables that make Vulkan find the lavapipe in .mesa/ (mirage's CLI sets them itself)
  local lib; lib=$(dirname "$(find "$PWD/.mesa/root" -name libvulkan_lvp.so | head -1)")
  export VK_DRIVER_FILES="$PWD/.mesa/lvp_icd.json" VK_ICD_FILENAMES="$PWD/.mesa/lvp_icd.json" LD_LIBRARY_PATH="$lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
}
[ -f .mesa/lvp_icd.json ] && mesa_env
if ! node .ci/probe-gpu.mjs; then
  echo "setup: no WebGPU adapter; installing Mesa lavapipe (mesa-vulkan-drivers, libvulkan1) from bookworm-backports"
  src='deb http://deb.debian.org/debian bookworm-backports main'
  if { echo "$src" | as_root tee /etc/apt/sources.list.d/backports.list >/dev/null &&
       as_root apt-get update -qq &&
       as_root apt-get install -y -qq --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1 >/dev/null; }; then
    node .ci/probe-gpu.mjs || fail "still no WebGPU adapter after installing lavapipe"
  else
    echo "setup: no root: putting lavapipe in .mesa/ of this clone instead"
    user_lavapipe || fail "could not fetch lavapipe into .mesa/. As root: echo '$src' > /etc/apt/sources.list.d/backports.list; apt-get update; apt-get install -y --no-install-recommends -t bookworm-backports mesa-vulkan-drivers libvulkan1"
    mesa_env
    node .ci/probe-gpu.mjs || fail "still no WebGPU adapter with the lavapipe in .mesa/"
    echo "setup: other programs using it need: export VK_DRIVER_FILES=$VK_DRIVER_FILES LD_LIBRARY_PATH=$LD_LIBRARY_PATH"
  fi
fi

# The browser test (test/browser.test.ts) drives Debian's Chromium headless (WebGPU on lavapipe).
if [ "$job" = test ] && [ -z "${MIRAGE_CHROMIUM:-}" ] && [ "${MIRAGE_SKIP_BROWSER:-}" != 1 ] && ! command -v chromium >/dev/null && ! command -v chromium-headless-shell >/dev/null; then
  echo "setup: installing Debian's chromium for the browser test"
  { as_root apt-get update -qq && as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; } ||
    fail "could not install chromium for the browser test: as root, apt-get install chromium (or set MIRAGE_CHROMIUM=PATH, or MIRAGE_SKIP_BROWSER=1 to skip it)"
fi

case "$job" in
  demo) node dist/src/cli/main.js train --recipe demo --train-size 160 --val-size 50 --savedir runs/demo --overwrite ;;
  test) npm test --silent ;;
  *) echo "setup: ready. Try: npx mirage models; bash setup.sh demo; bash setup.sh test" ;;
esac
