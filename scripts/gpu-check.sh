#!/usr/bin/env bash
# The GPU checks of the CUDA build, run ON a machine with an NVIDIA GPU, its driver, and Python
# with torch, transformers and peft (no Rust there): from the repository root, with what
# scripts/prepare-gpu-check.sh put in .gpu/ (a `tunedesk` built with --features cuda, and the
# configuration + tokenizer of the model to stand in for). Every result goes to
# $OUT/gpu-check.jsonl (one JSON object a line); the script stops at the first failed check.
#
#   1. the build sees the GPU (`tunedesk devices`);
#   2. LoRA training steps on the GPU give the CPU's losses (same random batches; forward,
#      backward and AdamW through candle's CUDA ops);
#   3. a real run on the GPU: six steps of the sample tickets give the CPU's losses; one epoch
#      with --device, killed and resumed, then evaluated (inference on the GPU);
#   4. speed: `bench forward|generate|train`, and one epoch of the sample tickets beside
#      PyTorch + PEFT training exactly the same batches on the same GPU.
#
# The model has the real one's shape with random weights (scripts/make-random-model.py): speed
# does not depend on the values, and the real weights do not fit the 64 MiB a device call
# carries. DEV=cpu runs it all on the CPU (to try the script itself anywhere).
set -euo pipefail
cd "$(dirname "$0")/.."

DEV="${DEV:-cuda:0}"
OUT="${OUT:-/tmp/gpu-check}"
G="$PWD/.gpu"
T="$G/tunedesk"
WORK="$(mktemp -d)"
export TUNEDESK_HOME="$WORK/home"
mkdir -p "$OUT"
if [ ! -x "$T" ]; then
  python3 -c 'import lzma, shutil, sys; shutil.copyfileobj(lzma.open(sys.argv[1]), open(sys.argv[2], "wb"))' "$T.xz" "$T"
  chmod +x "$T"
fi
RESULTS="$OUT/gpu-check.jsonl"
: >"$RESULTS"
# The CUDA libraries candle links (cuBLAS, cuRAND, NVRTC, the runtime): PyTorch's, where it has them.
NV="$(python3 -c 'import nvidia, os; print(os.path.dirname(list(nvidia.__path__)[0]))' 2>/dev/null || true)"
if [ -n "$NV" ]; then
  LIBS="$(find "$NV/nvidia" -maxdepth 3 -type d -name lib | tr '\n' ':')"
  export LD_LIBRARY_PATH="${LIBS}/usr/local/cuda/lib64:${LD_LIBRARY_PATH:-}"
fi

record() { # NAME JSON
  python3 -c 'import json,sys; d=json.loads(sys.argv[2]); d["check"]=sys.argv[1]; print(json.dumps(d))' "$1" "$2" | tee -a "$RESULTS"
}
fail() {
  echo "gpu-check: FAILED: $*" | tee -a "$OUT/failed.txt" >&2
  exit 1
}

echo "== 1. devices"
command -v nvidia-smi >/dev/null && nvidia-smi -L || true
devices="$("$T" devices --json)"
record devices "{\"devices\": $devices}"
python3 -c 'import json,sys; ids=[d["id"] for d in json.loads(sys.argv[1])]; sys.exit(sys.argv[2] not in ids)' "$devices" "$DEV" ||
  fail "$DEV is not among the devices this build finds: $devices"

echo "== model: $(python3 scripts/make-random-model.py "$G/model" "$WORK/model" 2>/dev/null | tail -1)"
M="$WORK/model"

echo "== 2. training steps: $DEV against the CPU"
cpu="$("$T" bench train --model "$M" --device cpu --runs 3)"
gpu="$("$T" bench train --model "$M" --device "$DEV" --runs 3)"
record train-losses "{\"cpu\": $cpu, \"gpu\": $gpu}"
python3 - "$cpu" "$gpu" <<'PY' || fail "the losses differ"
import json, sys
a, b = (json.loads(x)["losses"] for x in sys.argv[1:])
worst = max(abs(x - y) / max(abs(x), 1e-6) for x, y in zip(a, b))
print(f"losses cpu {a}\n       gpu {b}\nlargest relative difference {worst:.2e}")
sys.exit(len(a) != len(b) or worst > 1e-3)
PY

echo "== 3. a run on $DEV: train, resume, evaluate"
"$T" dataset sample --name tickets >/dev/null
# The same six steps of real tickets on the CPU and on the GPU: the same losses.
for d in cpu "$DEV"; do
  "$T" train --dataset tickets --model "$M" --name "steps-$d" --device "$d" --max-steps 6 \
    --score-rows 0 --select-by loss --json >/dev/null 2>&1 ||
    "$T" run show "steps-$d" --json >/dev/null # (DEV=cpu: trained once)
done
steps() { "$T" run show "steps-$1" --json; }
record run-steps "{\"cpu\": $(steps cpu), \"gpu\": $(steps "$DEV")}"
python3 - "$(steps cpu)" "$(steps "$DEV")" <<'PY' || fail "a run's losses differ between the CPU and $DEV"
import json, sys
a, b = ([s["loss"] for s in json.loads(x)["metrics"]["steps"]] for x in sys.argv[1:])
worst = max(abs(x - y) / max(abs(x), 1e-6) for x, y in zip(a, b))
print(f"run losses cpu {a}\n          gpu {b}\nlargest relative difference {worst:.2e}")
sys.exit(len(a) != 6 or len(a) != len(b) or worst > 2e-3)
PY
"$T" train --dataset tickets --model "$M" --name g2 --device "$DEV" --epochs 1 --json >"$OUT/train2.jsonl" &
pid=$!
# Kill it mid-run, then resume it: it continues on the device it started on.
for _ in $(seq 600); do grep -q '"event":"step"' "$OUT/train2.jsonl" 2>/dev/null && break; sleep 0.1; done
kill -9 "$pid" 2>/dev/null || true
wait "$pid" 2>/dev/null || true
"$T" train --resume g2 --json >>"$OUT/train2.jsonl"
show="$("$T" run show g2 --json)"
python3 -c 'import json,sys; r=json.loads(sys.argv[1])["run"]; sys.exit(r["status"]!="done" or r["config"]["device"]!=sys.argv[2])' "$show" "$DEV" ||
  fail "run g2 did not finish on $DEV: $(echo "$show" | head -c 400)"
eval="$("$T" eval --run g2 --dataset tickets --split test --limit 40 --json)"
record run "{\"train_events\": $(wc -l <"$OUT/train2.jsonl"), \"eval\": $eval}"

echo "== 4. speed on $DEV"
for b in forward generate train; do
  record "bench-$b" "$("$T" bench "$b" --model "$M" --device "$DEV")"
done
record bench-epoch "$("$T" bench epoch --model "$M" --dataset tickets --device "$DEV" --dump "$WORK/epoch.jsonl")"
record bench-epoch-torch "$(python3 scripts/bench-epoch-torch.py --model "$M" --batches "$WORK/epoch.jsonl" --device "$DEV" --threads "$(nproc)")"
echo "gpu-check: all checks passed; results in $RESULTS"
