#!/usr/bin/env bash
# The ModelNet40 fine-tuning study of docs/results.md: every method fine-tuned from one
# backbone with the same recipe and budget (the flags fix every value the peer methods'
# released recipes would set, --fps-pool 0 their FPS pool); the learning rate is chosen on
# a validation split carved from the training set (never on the test set) and the last
# epoch's test accuracy is reported (no voting); every activation is kept (--recompute
# none: the small backbone needs little memory, and recomputing changes no number). Runs go under OUT/modelnet40/<row>/lr<LR>-seed<S>/;
# a finished run is skipped and a stopped one resumed, so the script can be rerun (for
# example under TIME_LIMIT, chained) until every run is done. Then
#   go run ./tools/results/tables -dir OUT
# prints the tables and draws OUT/validation_curves.png.
#
# Usage (from the repository root; OUT outside the repository):
#   tools/results/study.sh OUT [DATA] [BACKBONE]
# Settings (environment):
#   EPOCHS (10)   WARMUP (the reference's 10 of 300 epochs scaled to the budget, at least 1)
#   LRS ("5e-4": each is run; the tables keep the best on validation)
#   SEEDS ("1 2 3": full and point-peft-fixed)   SEEDS_ONE ("1": the other rows)
#   ROWS ("full linear bitfit point-peft-fixed point-peft-faithful idpt dapt pointgst pointlora")
#   VAL (0.2: held-out fraction)  VAL_SEED (0)   BATCH (32)   POINTS (1024)
#   NUM_GROUPS (64)   GROUP_SIZE (32)   TIME_LIMIT (none; e.g. 5h: stop cleanly, rerun to continue)
#   KEEP (none): a directory inside the repository, e.g. docs/results/study. Each finished
#     run's small files (metrics, config, output line; no weights) are copied there, and
#     copied back into OUT at the start, so a study chained over machines that lose OUT
#     only reruns what was unfinished. Commit KEEP after each call.
set -euo pipefail
out=${1:?usage: tools/results/study.sh OUT [DATA] [BACKBONE]}
data=${2:-../shared/data/ModelNet40}
backbone=${3:-assets/backbone-small.safetensors}
epochs=${EPOCHS:-10}
warmup=${WARMUP:-$(( (epochs * 10 + 299) / 300 ))}
lrs=${LRS:-5e-4}
seeds=${SEEDS:-1 2 3}
seeds_one=${SEEDS_ONE:-1}
rows=${ROWS:-full linear bitfit point-peft-fixed point-peft-faithful idpt dapt pointgst pointlora}
mkdir -p "$out/modelnet40"
bin=$out/pointpeft
go build -o "$bin" ./cmd/pointpeft

# The validation split needs finetune's --val (fraction held out of the training set,
# stratified by class) and --val-seed; without them the runs still go, but nothing can be
# chosen on validation and the tables say so.
val=()
if "$bin" finetune --help 2>&1 | grep -Eq -- '^ +--?val[ =]'; then
  val=(--val "${VAL:-0.2}" --val-seed "${VAL_SEED:-0}")
else
  echo "study: this pointpeft finetune has no --val; runs have no validation split" >&2
fi
limit=()
[[ -n ${TIME_LIMIT:-} ]] && limit=(--time-limit "$TIME_LIMIT")

# shellcheck source=tools/results/rows.sh
source "$(dirname "$0")/rows.sh"

epochs_done() { [[ -f $1/metrics.jsonl ]] && wc -l < "$1/metrics.jsonl" || echo 0; }

keep=${KEEP:-}
# keep_run copies run $1 (a directory under OUT/modelnet40) into KEEP, without weights.
keep_run() {
  [[ -n $keep ]] || return 0
  local rel=${1#"$out"/} f
  mkdir -p "$keep/$rel"
  for f in "$1"/*.jsonl "$1"/*.json "$1"/*.yaml; do
    [[ -f $f ]] && cp "$f" "$keep/$rel/"
  done
  cp "$1.out" "$keep/$rel.out"
}
if [[ -n $keep && -d $keep/modelnet40 ]]; then
  for kept in "$keep"/modelnet40/*/*/; do
    kept=${kept%/}
    run=$out/${kept#"$keep"/}
    if (( $(epochs_done "$kept") > $(epochs_done "$run") )); then
      rm -rf "$run"
      mkdir -p "$run"
      cp "$kept"/* "$run/"
      cp "$kept.out" "$run.out"
    fi
  done
fi

for row in $rows; do
  flags=$(method_flags "$row")
  row_seeds=$seeds_one
  [[ $row == full || $row == point-peft-fixed ]] && row_seeds=$seeds
  for lr in $lrs; do
    for seed in $row_seeds; do
      dir=$out/modelnet40/$row/lr$lr-seed$seed
      if (( $(epochs_done "$dir") >= epochs )); then
        keep_run "$dir"
        continue
      fi
      if [[ -f $dir/last.safetensors ]]; then
        args=(finetune --resume "$dir" "${limit[@]}" -v=false)
      else
        # shellcheck disable=SC2206 # the method flags are words
        args=(finetune --backbone "$backbone" --data "$data" --points "${POINTS:-1024}" --groups "${NUM_GROUPS:-64}"
          --group-size "${GROUP_SIZE:-32}" --epochs "$epochs" --warmup "$warmup" --schedule epoch --lr "$lr"
          --batch "${BATCH:-32}" --augment scale-translate --fps-pool 0 --seed "$seed" "${val[@]}" "${limit[@]}" -v=false
          --recompute none
          --out "$dir" $flags)
      fi
      mkdir -p "$dir"
      echo "pointpeft ${args[*]}" >> "$out/modelnet40/commands.txt"
      if ! "$bin" "${args[@]}" >> "$dir.out" 2>> "$dir.log"; then
        echo "study: $dir failed; the end of $dir.log:" >&2
        tail -n 5 "$dir.log" >&2
        exit 1
      fi
      if (( $(epochs_done "$dir") < epochs )); then
        echo "study: $dir stopped after $(epochs_done "$dir") of $epochs epochs; rerun the script to continue" >&2
        exit 0
      fi
      keep_run "$dir"
      tail -n 1 "$dir.out"
    done
  done
done
