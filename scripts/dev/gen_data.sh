#!/usr/bin/env bash
# Training / evaluation data of the generator (issue 6): foley-sim scenes rendered to mp4, a CSV
# manifest whose caption lists the scene's sound classes in order of first onset, then
# `foley extract` (EfficientNet semantics, MiniLM text, sync tokens, 16 kHz log-mel target).
#
#   scripts/dev/gen_data.sh OUT_DIR FIRST_SEED COUNT SYNC_MODEL
#
# e.g. train: scripts/dev/gen_data.sh ~/.cache/foley/gen/train 0 400 models/sync/sync.safetensors
#      test:  scripts/dev/gen_data.sh ~/.cache/foley/gen/test 850000 32 models/sync/sync.safetensors
set -euo pipefail
out=$1; first=$2; count=$3; sync=$4
foley=${FOLEY:-foley}
mkdir -p "$out/scenes"
manifest="$out/manifest.csv"
echo "file,text" > "$manifest.tmp"
for ((s = first; s < first + count; s++)); do
  dir="$out/scenes/$s"
  [[ -f "$dir/events.json" ]] || "$foley" sim render --seed "$s" -o "$dir" > /dev/null
  caption=$(jq -r '[.events | sort_by(.onset) | .[].class | gsub("_"; " ")] | reduce .[] as $c ([]; if index($c) then . else . + [$c] end) | join(", ")' "$dir/events.json")
  [[ -n "$caption" ]] || caption="silence"
  echo "scenes/$s/scene.mp4,\"$caption\"" >> "$manifest.tmp"
done
mv "$manifest.tmp" "$manifest"
"$foley" extract "$manifest" -o "$out/shards" --items-per-shard 32 --sync-model "$sync"
