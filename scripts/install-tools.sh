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

# Lesson 12's server is tried with real clients (tests/lesson12/clients.rs):
# curl, Python 3 and headless Chromium. A test whose client is missing says
# so and passes; CI installs them here, so there they run. Debian's packages
# (as root); elsewhere, this says what to install.
missing=()
command -v curl >/dev/null || missing+=(curl)
command -v python3 >/dev/null || missing+=(python3)
command -v chromium >/dev/null || command -v chromium-browser >/dev/null || missing+=(chromium)
if [ "${#missing[@]}" -gt 0 ]; then
    if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
        echo "installing ${missing[*]} (apt-get, once)…"
        export DEBIAN_FRONTEND=noninteractive
        # A fresh machine has no package lists yet: fetch them only then.
        if ! apt-cache show "${missing[@]}" >/dev/null 2>&1; then
            apt-get update -qq
        fi
        apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
    else
        echo "lesson 12's tests with real clients skip what is missing here: install" \
            "${missing[*]} (Debian, Ubuntu: apt-get install ${missing[*]})"
    fi
fi
