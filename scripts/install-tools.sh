#!/usr/bin/env bash
# Installs the tools the course's checks need, when they are missing:
#   mdbook 0.5.4 (builds the book), from crates.io.
# Safe to run again: it skips what is already there at the right version.
set -euo pipefail

MDBOOK_VERSION=0.5.4
export PATH="$HOME/.cargo/bin:$PATH"

if mdbook --version 2>/dev/null | grep -q "v$MDBOOK_VERSION"; then
    echo "mdbook $MDBOOK_VERSION: already installed"
else
    echo "installing mdbook $MDBOOK_VERSION (a few minutes, once)…"
    # Only what `mdbook build` needs; learners who want `mdbook serve` can
    # install it with default features.
    cargo install mdbook --version "$MDBOOK_VERSION" --locked --quiet \
        --no-default-features --features search
fi
