#!/usr/bin/env bash
# The README's main job on a local directory: runs scripts/demo.d/*.sh in order, in one shell,
# so later steps see earlier steps' variables (DEMO_HOME, DEMO_TABLE, times picked, ...).
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/build/bin:$PATH"
export DEMO_DIR="${DEMO_DIR:-$PWD/demo-data}"
export DEMO_HOME="$DEMO_DIR/home"
rm -rf "$DEMO_DIR"; mkdir -p "$DEMO_DIR"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
for s in scripts/demo.d/*.sh; do
  # shellcheck disable=SC1090
  source "$s"
done
printf '\ndemo finished: data in %s\n' "$DEMO_DIR"
