#!/usr/bin/env bash
# THE test command of synack: `sudo tests/run.sh` (or as root `tests/run.sh`).
# CI runs exactly this (`.ci/run`, as root, CI=true, on a fresh machine).
#
# Order, fastest failure first: formatting, then the release build of the
# binaries (the interop tests run target/release/synack), clippy, then every
# test in every crate (the workspace's, then the fuzz crate's unit tests),
# then the benchmark's smoke run. Interop tests need
# root: without it they print a loud SKIPPED message, except under CI=true,
# where that is a failure.
set -euo pipefail

cd "$(dirname "$0")/.."

say() { printf '\n=== %s\n' "$*"; }

# Tools the interop tests drive, by the command each package provides. Some
# commands have several implementations (Debian has two arpings, two pings,
# three netcats, two telnets) and the tests read one's wording and pass its
# options: PROBE says how to ask a command who it is and what it must say,
# NAMES where else that implementation may be (tests/src/lib.rs,
# IMPLEMENTATIONS, has the same table and calls the right one by path).
declare -A TOOLS=(
    [ip]=iproute2
    [ss]=iproute2
    [ping]=iputils-ping
    [arping]=iputils-arping
    [nc]=netcat-openbsd
    [telnet]=inetutils-telnet
    [tshark]=tshark
    [tcpdump]=tcpdump
    [python3]=python3
    [curl]=curl
    [chromium]=chromium
)
declare -A PROBE=(
    [ip]="-V|iproute2"
    [ss]="-V|iproute2"
    [ping]="-V|iputils"
    [arping]="-V|iputils"
    [nc]="-h|OpenBSD netcat"
    [telnet]="--version|GNU inetutils"
)
declare -A NAMES=(
    [nc]="nc.openbsd nc"
    [telnet]="inetutils-telnet telnet"
)

# Is the implementation of $1 the tests expect installed?
have_tool() {
    local tool=$1 name said
    for name in ${NAMES[$tool]:-$tool}; do
        command -v "$name" >/dev/null 2>&1 || continue
        [[ -z ${PROBE[$tool]:-} ]] && return 0
        said=$(timeout 5 "$name" ${PROBE[$tool]%%|*} </dev/null 2>&1 || true)
        [[ $said == *"${PROBE[$tool]#*|}"* ]] && return 0
    done
    return 1
}

if [[ $(id -u) -eq 0 ]]; then
    missing=()
    for tool in "${!TOOLS[@]}"; do
        have_tool "$tool" || missing+=("${TOOLS[$tool]}")
    done
    if ((${#missing[@]})); then
        say "installing ${missing[*]}"
        export DEBIAN_FRONTEND=noninteractive
        # tshark asks whether non-root users may capture: answer no, never block.
        echo "wireshark-common wireshark-common/install-setuid boolean false" | debconf-set-selections || true
        apt-get update -q
        # Installing iputils-arping removes Habets' arping (they conflict).
        apt-get install -y -q --no-install-recommends "${missing[@]}"
        for tool in "${!TOOLS[@]}"; do
            have_tool "$tool" || { echo "tests/run.sh: still no ${TOOLS[$tool]}'s $tool after installing it" >&2; exit 1; }
        done
    fi
else
    echo "tests/run.sh: not root: interop tests will be SKIPPED (run it with sudo for the whole suite)" >&2
fi

# fuzz/ is a cargo workspace of its own (cargo-fuzz builds it with its own
# flags), so every cargo step below runs for it too, by its manifest.
FUZZ=(--manifest-path fuzz/Cargo.toml)

say "cargo fmt --check"
cargo fmt --all --check
cargo fmt "${FUZZ[@]}" --all --check

# --lib builds libsynack_preload.so (apps/preload/) next to the synack
# binary, where `synack run` finds it (tests/tests/run.rs); --examples the
# Rust front door's examples, which tests/tests/frontdoor.rs runs.
say "cargo build --release --workspace --bins --lib --examples"
cargo build --release --workspace --bins --lib --examples

say "cargo clippy --workspace --all-targets -- -D warnings"
cargo clippy --workspace --all-targets -- -D warnings
cargo clippy "${FUZZ[@]}" --all-targets -- -D warnings

# The lossy-link test moves 100 MB each way through 10 % loss, 25 %
# reordering, 5 % duplication and 20 ms ± 10 ms (the robustness issue's
# figure): about 25 minutes, most of the run. SYNACK_LOSSY_MB=2 for a quick pass.
export SYNACK_LOSSY_MB=${SYNACK_LOSSY_MB:-100}

say "cargo test --release --workspace (lossy link: $SYNACK_LOSSY_MB MB each way)"
cargo test --release --workspace "$@"

# synack's packetdrill suite: every script was first run against Linux
# (tests/drill/linux.sh); here it runs against synack on a virtual clock.
say "synack drill tests/drill"
target/release/synack drill tests/drill

# The fuzz crate's unit tests: its labs come up, and every input of the
# committed corpus (fuzz/corpus/TARGET) runs; a missing corpus fails.
say "cargo test --release --manifest-path fuzz/Cargo.toml --lib"
cargo test --release "${FUZZ[@]}" --lib

# The benchmark's smoke run (about 1 min, every row, small sizes), to keep
# it working. Only an error of the bench fails the script, never a slow
# figure: the bench exits non-zero only when a row cannot be measured.
# Without root only the in-memory rows can run.
say "synack-bench --smoke"
if [[ $(id -u) -eq 0 ]]; then
    target/release/synack-bench --smoke
else
    target/release/synack-bench --smoke --only mem,handshakes
fi

say "all tests passed"
