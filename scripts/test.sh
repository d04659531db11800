#!/usr/bin/env bash
# Set up (idempotent), then run every test of the workspace in the shared release build.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/foley/target}"
scripts/setup.sh
cargo test --release --locked --workspace
