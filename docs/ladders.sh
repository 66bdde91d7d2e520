#!/usr/bin/env bash
# Draw the book's ladder diagrams from the curated captures in pcaps/:
# docs/book/ladders/NAME.svg (for the page) and NAME.txt (for the
# terminal), for every recording with TCP in it. The test command checks
# that the SVGs are current (tests/tests/pcaps.rs), so run this after
# re-recording a capture.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${SYNACK_BIN:-target/release/synack}
[[ -x $BIN ]] || cargo build --release -p synack-apps
out=docs/book/ladders
mkdir -p "$out"
for dir in pcaps/*/; do
    name=$(basename "$dir")
    # The recording, not just its capture: frames a fault script dropped
    # are drawn as lost, and synack's column has its real states.
    if "$BIN" ladder "$dir" -o "$out/$name.svg" 2>/dev/null; then
        "$BIN" ladder "$dir" >"$out/$name.txt"
        echo "$out/$name.svg"
    else
        rm -f "$out/$name.svg" "$out/$name.txt"
    fi
done
