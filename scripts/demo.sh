#!/usr/bin/env bash
# The README's first command: set up (idempotent), then run foley's main job on an embedded
# default and say where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/foley/target}"
scripts/setup.sh >&2
foley="$CARGO_TARGET_DIR/release/foley"
out=out/demo
mkdir -p "$out"

# A foley-sim scene of the test split: video, its true soundtrack and exact event times.
"$foley" sim render --seed 850000 --duration 8 -o "$out"
"$foley" probe "$out/scene.mp4"
# MMAudio's 16 kHz log-mel of the soundtrack, as a picture and as a tensor ...
"$foley" mel "$out/scene.mp4" -o "$out/mel.png" --tensor "$out/mel.safetensors"
# ... decoded back to sound without weights (Griffin-Lim) and put on the video.
"$foley" griffin-lim "$out/mel.safetensors" -o "$out/griffin-lim.wav"
"$foley" mux "$out/scene.mp4" "$out/griffin-lim.wav" -o "$out/scene.griffin-lim.mp4"
echo "results in $out/: scene.mp4 (original), mel.png, griffin-lim.wav, scene.griffin-lim.mp4"
