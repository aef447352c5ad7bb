#!/usr/bin/env bash
# Makes sure the pinned toolchain and its components exist (idempotent; quiet when they do).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v cargo >/dev/null 2>&1; then
  echo "cargo not found: install Rust (https://rustup.rs) first" >&2
  exit 1
fi
if command -v rustup >/dev/null 2>&1; then
  # rust-toolchain.toml names the channel and components; `rustup show` installs what is missing.
  rustup show active-toolchain >/dev/null 2>&1 || rustup show >/dev/null
  for c in rustfmt clippy; do
    rustup component list --installed 2>/dev/null | grep -q "^$c" || rustup component add "$c"
  done
fi
