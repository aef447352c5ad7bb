#!/usr/bin/env bash
# The independent FIX engine the FIX tests drive: QuickFIX's C++ library (Debian's
# libquickfix-dev) and its FIX 4.4 data dictionary (spec/FIX44.xml from the quickfix source
# distribution on PyPI; Debian does not package it). Idempotent; prints the dictionary's path.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
out="$root/target/quickfix"
mkdir -p "$out"
if ! pkg-config --exists quickfix 2>/dev/null; then
  sudo_=""
  [ "$(id -u)" -eq 0 ] || sudo_="sudo"
  echo "installing libquickfix-dev (apt)" >&2
  $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q libquickfix-dev >&2 \
    || { $sudo_ apt-get update -q >&2 && $sudo_ env DEBIAN_FRONTEND=noninteractive apt-get install -y -q libquickfix-dev >&2; }
fi
if [ ! -s "$out/FIX44.xml" ]; then
  echo "fetching the FIX 4.4 data dictionary (quickfix sdist, PyPI)" >&2
  tmp="$(mktemp -d)"
  python3 -m pip download --quiet --no-deps --no-binary :all: quickfix==1.16.0 -d "$tmp" >&2
  tar -xzf "$tmp"/quickfix-1.16.0.tar.gz -C "$tmp" quickfix-1.16.0/spec/FIX44.xml
  mv "$tmp/quickfix-1.16.0/spec/FIX44.xml" "$out/FIX44.xml.part"
  mv "$out/FIX44.xml.part" "$out/FIX44.xml"
  rm -rf "$tmp"
fi
echo "$out/FIX44.xml"
