#!/usr/bin/env bash
# Fuzz synack's stack (not part of CI):
#
#   fuzz/run.sh TARGET [SECONDS]     # one target, default 600 s
#   fuzz/run.sh all [SECONDS]        # every target at once, in parallel
#   fuzz/run.sh list                 # the targets
#
# After a clean run the inputs that found new coverage are merged into
# fuzz/corpus/TARGET (commit them; SYNACK_FUZZ_MERGE=0 skips this).
#
# Targets (fuzz_targets/): frame_listening, frame_established,
# frame_fragments (frames into a stack in that state), tcp_segments (a
# sequence of segments against one connection) and drill_parse (any text
# into the packetdrill script parser). It installs cargo-fuzz if
# missing and builds with RUSTC_BOOTSTRAP=1 (the machine's toolchain is
# stable; cargo-fuzz needs -Z flags). Seeds are in fuzz/corpus/TARGET (kept
# in git, small); what the fuzzer finds goes to fuzz/work/TARGET and
# crashes to fuzz/artifacts/TARGET (both ignored by git). Replay a crash:
#   RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir fuzz TARGET fuzz/artifacts/TARGET/crash-…
# At the end libFuzzer prints its final stats: executions, edges covered
# (`cov`) and features (`ft`). Log: fuzz/work/TARGET.log.
set -euo pipefail
cd "$(dirname "$0")"

TARGETS=(frame_listening frame_established frame_fragments tcp_segments drill_parse)
target=${1:-}
secs=${2:-600}
if [[ -z $target || $target == list ]]; then
    printf '%s\n' "${TARGETS[@]}"
    exit 0
fi

if ! command -v cargo-fuzz >/dev/null 2>&1; then
    cargo install cargo-fuzz --locked
fi
export RUSTC_BOOTSTRAP=1

if [[ ! -d corpus/tcp_segments ]]; then
    SYNACK_FUZZ_WRITE_CORPUS=1 cargo test --release -q -- write_seed_corpus
fi
cargo fuzz build -O --fuzz-dir .

run_one() {
    local t=$1
    mkdir -p "work/$t" "artifacts/$t"
    cargo fuzz run -O --fuzz-dir . "$t" "work/$t" "corpus/$t" -- \
        -max_total_time="$secs" -max_len=4096 -timeout=10 -rss_limit_mb=2048 \
        -print_final_stats=1 -artifact_prefix="artifacts/$t/" >"work/$t.log" 2>&1
    local rc=$?
    grep -E '^stat::number_of_executed_units|^#[0-9]+.*(DONE|cov:)' "work/$t.log" | tail -2 | sed "s/^/$t: /"
    # Keep what found new coverage: libFuzzer's merge adds to corpus/TARGET
    # (in git) only the inputs of work/TARGET that cover something the
    # corpus does not, so the committed corpus stays small.
    if [[ $rc -eq 0 && ${SYNACK_FUZZ_MERGE:-1} == 1 ]]; then
        cargo fuzz run -O --fuzz-dir . "$t" "corpus/$t" "work/$t" -- -merge=1 -max_len=4096 \
            >"work/$t.merge.log" 2>&1 || true
        grep -E 'MERGE-OUTER: [0-9]+ new files' "work/$t.merge.log" | sed "s/^/$t: /" || true
    fi
    return $rc
}

if [[ $target == all ]]; then
    pids=()
    for t in "${TARGETS[@]}"; do
        run_one "$t" &
        pids+=($!)
    done
    rc=0
    for p in "${pids[@]}"; do wait "$p" || rc=1; done
    exit $rc
fi
run_one "$target"
