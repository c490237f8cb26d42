#!/usr/bin/env bash
# Prepares .gpu/ (in .gitignore) for scripts/gpu-check.sh, which runs on a GPU machine that
# has no Rust: builds `tunedesk` here with --features cuda for one GPU generation, and copies
# the configuration and tokenizer of the model that the checks stand in for.
#
#   scripts/prepare-gpu-check.sh HF_MODEL_DIR [COMPUTE_CAP]     (default 90: H100, H200)
#
# CUDA's compiler is scripts/setup.sh's (NVIDIA's PyPI wheels). The libraries the binary links
# (the driver's libcuda, cuBLAS, cuRAND, NVRTC) are not on this machine: it links against
# stand-ins with their names and symbols (scripts/cuda-stubs.py), and loads the GPU machine's
# own where it runs. The binary travels compressed (.gpu/tunedesk.xz, ~14 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
MODEL="${1:?usage: scripts/prepare-gpu-check.sh HF_MODEL_DIR [COMPUTE_CAP]}"
CUDA="${TUNEDESK_TOOLS:-$HOME/.cache/tunedesk/tools}/cuda/nvidia/cu13"
STUBS="$PWD/target/cuda/stubs"
export PATH="$CUDA/bin:$PATH" CUDA_ROOT="$CUDA" CUDA_COMPUTE_CAP="${2:-90}"

link() {
  cargo rustc --release --locked --features cuda --bin tunedesk --target-dir target/cuda -- \
    -L "native=$STUBS" -C link-arg=-Wl,--error-limit=0
}
python3 scripts/cuda-stubs.py "$STUBS" "$CUDA/lib"
if ! link >"$STUBS.log" 2>&1; then
  # The linker lists the symbols it lacks: stand-ins that define them, and link again.
  grep -q "undefined" "$STUBS.log" || { tail -40 "$STUBS.log"; exit 1; }
  python3 scripts/cuda-stubs.py "$STUBS" "$CUDA/lib" --from-linker <"$STUBS.log"
  link
fi

rm -rf .gpu && mkdir -p .gpu/model
strip -o .gpu/tunedesk target/cuda/release/tunedesk
xz -T0 -6 .gpu/tunedesk
for f in config.json tokenizer.json tokenizer_config.json; do
  [ -f "$MODEL/$f" ] && cp "$MODEL/$f" .gpu/model/
done
echo "prepared: $(du -sh .gpu | cut -f1) in .gpu/ — on the GPU machine: scripts/gpu-check.sh (carry .gpu)"
