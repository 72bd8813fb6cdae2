#!/usr/bin/env bash
# The few-shot study of docs/results.md: Point-BERT's N-way K-shot protocol on ModelNet40
# (5-way and 10-way, 10-shot and 20-shot, 20 test shapes per class from the test split),
# every method on the same folds. The folds are drawn once from FOLD_SEED into
# OUT/fewshot/folds/<N>way<K>shot.json (10 per setting) and reused by every method and
# every rerun; each method's runs go to OUT/fewshot/<N>way<K>shot/<row>/ with a
# summary.json (mean ± std of the last epoch's test accuracy). Finished folds are
# skipped, so the script can be rerun after an interruption. Then
#   go run ./tools/results/tables -dir OUT
# prints the tables.
#
# Usage (from the repository root; OUT outside the repository):
#   tools/results/fewshot.sh OUT [DATA] [BACKBONE]
# Settings (environment):
#   SETTINGS ("5:10 5:20 10:10 10:20", way:shot)   FOLDS (5: folds 0..FOLDS-1 of the 10 drawn)
#   ROWS ("full linear point-peft-fixed")   EPOCHS (150, Point-MAE's few-shot recipe)
#   WARMUP (10)   LR (5e-4)   BATCH (32)   SEED (1)   FOLD_SEED (0)   QUERY (20)
#   POINTS (1024)   NUM_GROUPS (64)   GROUP_SIZE (32)
#   KEEP (none): a directory inside the repository, e.g. docs/results/study. The folds and
#     each method's finished folds and summary (JSON only, no weights) are copied there
#     after each method, and back into OUT at the start, so the study chained over machines
#     that lose OUT only reruns unfinished folds. Commit KEEP after each call.
set -euo pipefail
out=${1:?usage: tools/results/fewshot.sh OUT [DATA] [BACKBONE]}
data=${2:-../shared/data/ModelNet40}
backbone=${3:-assets/backbone-small.safetensors}
folds=${FOLDS:-5}
mkdir -p "$out/fewshot/folds"
bin=$out/pointpeft
go build -o "$bin" ./cmd/pointpeft

# shellcheck source=tools/results/rows.sh
source "$(dirname "$0")/rows.sh"

keep=${KEEP:-}
# copy_small copies the JSON files and output lines under $1/fewshot into $2/fewshot;
# $3 (-n) leaves files already there alone.
copy_small() {
  [[ -d $1/fewshot ]] || return 0
  local dst
  dst=$(realpath "$2")
  (cd "$1" && find fewshot \( -name '*.json' -o -name '*.jsonl' -o -name '*.out' \) -print0 |
    xargs -0 -r cp ${3:-} --parents -t "$dst")
}
if [[ -n $keep ]]; then
  mkdir -p "$keep"
  copy_small "$keep" "$out" -n
fi

for setting in ${SETTINGS:-5:10 5:20 10:10 10:20}; do
  way=${setting%%:*}
  shot=${setting##*:}
  name=${way}way${shot}shot
  for row in ${ROWS:-full linear point-peft-fixed}; do
    flags=$(method_flags "$row")
    # shellcheck disable=SC2206 # the method flags are words
    args=(fewshot --backbone "$backbone" --data "$data" --points "${POINTS:-1024}" --groups "${NUM_GROUPS:-64}"
      --group-size "${GROUP_SIZE:-32}" --way "$way" --shot "$shot" --query "${QUERY:-20}"
      --folds-file "$out/fewshot/folds/$name.json" --draw 10 --fold-seed "${FOLD_SEED:-0}" --run "0-$((folds - 1))"
      --epochs "${EPOCHS:-150}" --warmup "${WARMUP:-10}" --schedule epoch --lr "${LR:-5e-4}" --batch "${BATCH:-32}"
      --augment scale-translate --seed "${SEED:-1}" --recompute none --out "$out/fewshot/$name/$row" $flags)
    mkdir -p "$out/fewshot/$name"
    echo "pointpeft ${args[*]}" >> "$out/fewshot/commands.txt"
    if ! "$bin" "${args[@]}" > "$out/fewshot/$name/$row.out" 2>> "$out/fewshot/$name/$row.log"; then
      echo "fewshot: $name $row failed; the end of $out/fewshot/$name/$row.log:" >&2
      tail -n 5 "$out/fewshot/$name/$row.log" >&2
      exit 1
    fi
    [[ -n $keep ]] && copy_small "$out" "$keep"
    tail -n 1 "$out/fewshot/$name/$row.out"
  done
done
