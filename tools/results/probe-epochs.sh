#!/usr/bin/env bash
# Linear evaluation of the encoders a pre-training run keeps along the way
# (RUN_DIR/backbone-epochNNN.safetensors, from `pointpeft pretrain --keep-every`) and of
# any further backbone files named after the data, each into OUT/probe/<name>.json;
# backbones already measured are skipped, so the script can be rerun as the run goes on.
# Then `go run ./tools/results/tables -dir OUT` prints the table and draws
# OUT/probe_vs_epochs.png. Each probe encodes every training and test shape once: a few
# minutes for ModelNet40 on 2 cores.
#
# Usage (from the repository root; OUT outside the repository):
#   tools/results/probe-epochs.sh RUN_DIR OUT [DATA [BACKBONE...]]
# e.g. tools/results/probe-epochs.sh /work/runs/pretrain-small-60 /work/results \
#        ../shared/data/ModelNet40 assets/backbone-small.safetensors
set -euo pipefail
run=${1:?usage: tools/results/probe-epochs.sh RUN_DIR OUT [DATA [BACKBONE...]]}
out=${2:?usage: tools/results/probe-epochs.sh RUN_DIR OUT [DATA [BACKBONE...]]}
data=${3:-../shared/data/ModelNet40}
shift $(( $# < 3 ? $# : 3 ))
mkdir -p "$out/probe"
bin=$out/pointpeft
go build -o "$bin" ./cmd/pointpeft
shopt -s nullglob
for bb in "$run"/backbone-epoch*.safetensors "$@"; do
  name=$(basename "$bb" .safetensors)
  [[ $bb == "$run"/* ]] || name=extra-$name
  [[ -f $out/probe/$name.json ]] && continue
  echo "pointpeft probe --backbone $bb --data $data --json $out/probe/$name.json" >> "$out/probe/commands.txt"
  "$bin" probe --backbone "$bb" --data "$data" --json "$out/probe/$name.json" 2>> "$out/probe/$name.log" | tail -n 1
done
