#!/usr/bin/env bash
# Installs the built .deb on a clean Debian 12 (a fresh debootstrap chroot: nothing but the base
# system) with apt, then starts the app under Xvfb there and checks that it runs and creates
# its database. Needs root, debootstrap and the Debian mirror; not run by CI (several minutes,
# ~1 GB). Usage: scripts/check-deb-clean.sh [path/to/TuneDesk.deb]
set -euo pipefail
DEB="$(realpath "${1:-$(ls -1 "$(dirname "$0")"/../target/release/bundle/deb/*.deb | head -1)}")"
ROOT="${CHROOT:-/tmp/tunedesk-clean-bookworm}"
if [ ! -x "$ROOT/usr/bin/apt-get" ]; then
  echo "check-deb: debootstrap bookworm into $ROOT"
  debootstrap --variant=minbase bookworm "$ROOT" http://deb.debian.org/debian >/dev/null
fi
cp "$DEB" "$ROOT/tmp/tunedesk.deb"
mount --bind /proc "$ROOT/proc"
trap 'umount -l "$ROOT/proc"' EXIT
chroot "$ROOT" /bin/bash -euo pipefail -c '
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  echo "check-deb: apt install ./tunedesk.deb (with the dependencies it declares)"
  apt-get install -y -qq /tmp/tunedesk.deb >/dev/null
  apt-get install -y -qq xvfb xauth >/dev/null   # only to have a display here
  rm -rf /tmp/home && mkdir -p /tmp/home
  TUNEDESK_HOME=/tmp/home timeout 60 xvfb-run -a -s "-screen 0 1280x800x24" bash -c "
    tunedesk-app & APP=\$!
    sleep 15
    kill -0 \$APP && echo check-deb: the app runs after 15 s
    kill \$APP"
  test -s /tmp/home/tunedesk.db && echo "check-deb: the app created its database: ok"
'
