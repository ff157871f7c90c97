#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0-only
# Runs every check of the project, as CI does: installs the test dependencies when missing,
# then formatting, lints, documentation and all tests. Usage: scripts/test-all.sh
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
shared="${SHARED_DIR:-$root/../shared}"

step() { printf '\n==> %s\n' "$*"; }

# 1. Test dependencies (libiscsi tools, sg3-utils, tgt, qemu-img with iSCSI, fuse3 …).
missing=()
for tool in iscsi-ls iscsi-inq iscsi-test-cu qemu-img fusermount3; do
    command -v "$tool" >/dev/null 2>&1 || missing+=("$tool")
done
if [ ${#missing[@]} -gt 0 ]; then
    step "installing test dependencies (missing: ${missing[*]})"
    if [ ! -x "$shared/tools/install-test-deps.sh" ] && [ ! -f "$shared/tools/install-test-deps.sh" ]; then
        echo "test-all: $shared/tools/install-test-deps.sh not found (set SHARED_DIR)" >&2
        exit 1
    fi
    if [ "$(id -u)" -eq 0 ]; then
        bash "$shared/tools/install-test-deps.sh"
    elif command -v sudo >/dev/null 2>&1; then
        sudo bash "$shared/tools/install-test-deps.sh"
    else
        echo "test-all: need root (or sudo) to install: ${missing[*]}" >&2
        exit 1
    fi
fi

step "cargo fmt --check"
cargo fmt --all -- --check

step "cargo clippy --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings

step "cargo doc --no-deps (warnings are errors)"
RUSTDOCFLAGS="-D warnings" cargo doc --workspace --no-deps --quiet

step "tests"
if cargo nextest --version >/dev/null 2>&1; then
    # Integration tests that start servers are serialised by the test-group in
    # .config/nextest.toml; everything else runs in parallel.
    cargo test --workspace --doc --quiet
    cargo nextest run --workspace --no-fail-fast
else
    cargo test --workspace --no-fail-fast
fi
