#!/usr/bin/env bash
# Fine-tuning evidence from the two shared corpora: a model trained on
# chapters 1-80 of 金瓶梅, fine-tuned on chapters 81-100, against the same
# steps on 81-100 from scratch; then a tinyshakespeare model fine-tuned on
# 金瓶梅, its vocabulary growing. Prints both validation curves.
#
#   CHARRNN_DATA_DIR=../shared/data bash xtask/scripts/fine-tune-evidence.sh [OUT]
#
# Needs a release build (cargo build --release -p charrnn-cli).
set -euo pipefail
out=${1:-/tmp/fine-tune-evidence}
bin=${CARGO_TARGET_DIR:-target}/release/charrnn
data=${CHARRNN_DATA_DIR:?set CHARRNN_DATA_DIR to the folder with jinpingmei.txt}
steps=${STEPS:-300}
base_minutes=${BASE_MINUTES:-4}
mkdir -p "$out"
# Chapter 81 starts at the line "第八十一回".
split=$(grep -n '^第八十一回' "$data/jinpingmei.txt" | cut -d: -f1)
head -n $((split - 1)) "$data/jinpingmei.txt" > "$out/ch001-080.txt"
tail -n +"$split" "$data/jinpingmei.txt" > "$out/ch081-100.txt"

train() { # run-folder corpus extra-args...
  local run=$1 corpus=$2; shift 2
  "$bin" train -q --device cpu --config configs/jinpingmei-cpu.toml \
    --set "data.corpus=\"$corpus\"" --set "train.out_dir=\"$run\"" \
    --set train.sample_every=0 "$@"
}
curve() { # run-folder
  python3 -c '
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1] + "/metrics.jsonl")]
print(" ".join("%d:%.3f" % (r["step"], r["val_loss"]) for r in rows if "val_loss" in r))' "$1"
}

train "$out/base" "$out/ch001-080.txt" --set "train.max_minutes=$base_minutes" --set train.epochs=1000
for kind in tuned scratch; do
  init=(); [ "$kind" = tuned ] && init=(--init-from "$out/base")
  train "$out/$kind" "$out/ch081-100.txt" "${init[@]}" \
    --set "train.max_steps=$steps" --set train.epochs=1000 --set train.eval_every=50
  echo "$kind (validation loss by step): $(curve "$out/$kind")"
done

"$bin" train -q --device cpu --config configs/tinyshakespeare.toml \
  --set "train.out_dir=\"$out/shakespeare\"" --set train.max_steps=100
train "$out/shakespeare-jpm" "$data/jinpingmei.txt" --init-from "$out/shakespeare" \
  --set model.embed_size="$("$bin" config --config configs/tinyshakespeare.toml | sed -n 's/^embed_size = //p')" \
  --set model.hidden_size="$("$bin" config --config configs/tinyshakespeare.toml | sed -n 's/^hidden_size = //p')" \
  --set model.num_layers="$("$bin" config --config configs/tinyshakespeare.toml | sed -n 's/^num_layers = //p')" \
  --set train.max_steps=50
"$bin" info "$out/shakespeare" | grep vocabulary
"$bin" info "$out/shakespeare-jpm" | grep -E 'vocabulary|fine-tuned'
"$bin" sample --run "$out/shakespeare-jpm" --prime "ROMEO: 西门庆" --length 120
