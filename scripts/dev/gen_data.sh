#!/usr/bin/env bash
# Training / evaluation data of the generator (issue 6): foley-sim scenes rendered to mp4, a CSV
# manifest whose caption lists the scene's sound classes in order of first onset, then
# `foley extract` (EfficientNet semantics, MiniLM text, sync tokens, 16 kHz log-mel target).
#
#   [JOBS=N] scripts/dev/gen_data.sh OUT_DIR FIRST_SEED COUNT SYNC_MODEL
#
# e.g. train: scripts/dev/gen_data.sh ~/.cache/foley/gen/train 0 400 models/sync/sync.safetensors
#      test:  scripts/dev/gen_data.sh ~/.cache/foley/gen/test 850000 32 models/sync/sync.safetensors
# JOBS=N (default 1) renders N scenes at a time and runs N `foley extract --shard i/N` processes
# of cores/N threads each; the shard files (and so the clip order a training run sees) depend on
# N, so a run is reproduced only with the JOBS it was made with.
set -euo pipefail
out=$1; first=$2; count=$3; sync=$4
foley=${FOLEY:-foley}
jobs=${JOBS:-1}
mkdir -p "$out/scenes"
seq "$first" $((first + count - 1)) | xargs -P "$jobs" -I{} sh -c \
  '[ -f "$1/scenes/$2/events.json" ] || "$0" sim render --seed "$2" -o "$1/scenes/$2" > /dev/null' "$foley" "$out" {}
manifest="$out/manifest.csv"
echo "file,text" > "$manifest.tmp"
for ((s = first; s < first + count; s++)); do
  caption=$(jq -r '[.events | sort_by(.onset) | .[].class | gsub("_"; " ")] | reduce .[] as $c ([]; if index($c) then . else . + [$c] end) | join(", ")' "$out/scenes/$s/events.json")
  [[ -n "$caption" ]] || caption="silence"
  echo "scenes/$s/scene.mp4,\"$caption\"" >> "$manifest.tmp"
done
mv "$manifest.tmp" "$manifest"
if [[ $jobs == 1 ]]; then
  "$foley" extract "$manifest" -o "$out/shards" --items-per-shard 32 --sync-model "$sync"
else
  threads=$(( $(nproc) / jobs )); (( threads > 0 )) || threads=1
  pids=()
  for ((i = 0; i < jobs; i++)); do
    RAYON_NUM_THREADS=$threads "$foley" extract "$manifest" -o "$out/shards" --items-per-shard 32 --sync-model "$sync" --shard "$i/$jobs" &
    pids+=($!)
  done
  for pid in "${pids[@]}"; do wait "$pid"; done   # fails the script if any job failed
fi
