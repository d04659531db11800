#!/usr/bin/env bash
# The README's first command: set up (idempotent), then give the shipped demo video (a silent
# foley-sim test-split scene, 8 s) a soundtrack with the embedded default generator, and say
# where the results are.
set -euo pipefail
cd "$(dirname "$0")/.."
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/foley/target}"
scripts/setup.sh >&2
foley="$CARGO_TARGET_DIR/release/foley"
out=out/demo
mkdir -p "$out"

# video -> EfficientNet-Lite0 + sync features -> 8 shortcut steps -> log-mel -> Griffin-Lim -> mp4
"$foley" generate assets/demo/demo.mp4 -o "$out/demo.foley.mp4" --seed 0
# A picture of what was generated (MMAudio's 16 kHz log-mel, time axis in seconds).
"$foley" mel "$out/demo.foley.wav" -o "$out/demo.foley.mel.png"
echo "results in $out/: demo.foley.mp4 (the demo video with its generated soundtrack), demo.foley.wav, demo.foley.mel.png"
echo "the scene's true event times are in assets/demo/events.json"
