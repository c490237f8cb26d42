#!/usr/bin/env bash
# Builds the Debian package of the desktop app: target/release/bundle/deb/TuneDesk_*.deb.
# Installs tauri-cli once (into ~/.cache/tunedesk/tools, like tauri-driver), then runs
# `cargo tauri build` for the deb bundle only (the AppImage step downloads a helper and the
# other formats need other systems).
set -euo pipefail
cd "$(dirname "$0")/.."
TOOLS="${TUNEDESK_TOOLS:-$HOME/.cache/tunedesk/tools}"
export PATH="$TOOLS/bin:$PATH"
if ! cargo tauri --version >/dev/null 2>&1; then
  echo "build-deb: installing tauri-cli into $TOOLS (once, several minutes)"
  cargo install tauri-cli --version '^2' --locked --root "$TOOLS" --quiet
fi
cargo tauri build --bundles deb "$@"
ls -1 "${CARGO_TARGET_DIR:-target}"/release/bundle/deb/*.deb
