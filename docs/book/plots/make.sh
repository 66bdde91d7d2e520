#!/usr/bin/env bash
# Draw the book's plots from the curated recordings in pcaps/ with
# `synack plot` (apps/src/plot/): docs/book/plots/REC-KIND.svg is
# connection 1 of pcaps/REC, plot KIND (tseq, cwnd, rtt, buffers). The
# test command checks that every SVG here is what `synack plot` makes now
# (tests/tests/plot.rs), so run this after re-recording a capture or
# changing the plots.
set -euo pipefail
cd "$(dirname "$0")/../../.."
BIN=${SYNACK_BIN:-target/release/synack}
[[ -x $BIN ]] || cargo build --release -p synack-apps
out=docs/book/plots
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
# recording: the plots the book shows of it
plots=(
    "cwnd-loss:tseq cwnd rtt buffers"
    "zero-window:tseq buffers"
)
for entry in "${plots[@]}"; do
    rec=${entry%%:*}
    "$BIN" plot "pcaps/$rec" --conn 1 -o "$tmp/$rec" >/dev/null
    for kind in ${entry#*:}; do
        cp "$tmp/$rec/conn-1-$kind.svg" "$out/$rec-$kind.svg"
        echo "$out/$rec-$kind.svg"
    done
done
