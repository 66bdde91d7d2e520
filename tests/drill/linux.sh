#!/usr/bin/env bash
# Run synack's packetdrill scripts against the real Linux kernel (the oracle),
# and, when a synack binary with `drill` is at hand, against synack too.
#
#   tests/drill/linux.sh [--markdown FILE] [SCRIPT.pkt ...]
#
# With no scripts, runs every tests/drill/**/*.pkt, sorted. Each script runs
# in a fresh network namespace of its own (synack-pd-<pid>-<n>, loopback up),
# with the script's directory as cwd and --ip_version=ipv4, under a 120 s
# timeout; the namespace is deleted afterwards (and on failure or Ctrl-C).
# Needs root (ip netns).
#
# Environment:
#   PACKETDRILL  the packetdrill binary (default <repo>/../shared/tools/packetdrill)
#   SYNACK       the synack binary (default <repo>/target/release/synack, else
#                <repo>/target/debug/synack); the synack column says n/a when
#                there is none or it has no `drill` subcommand.
#
# Prints a table | script | linux | synack | and the counts per column; with
# --markdown FILE also writes the table, under a two-line header saying how
# it was generated, to FILE. Exit status: 0 when every script passed on
# Linux, 1 when one did not, 2 when the tools are missing or misused.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
repo=$(cd "$here/../.." && pwd)
drill_dir="$here"

usage() {
	echo "usage: $0 [--markdown FILE] [SCRIPT.pkt ...]" >&2
	exit 2
}

orig_args=("$@")
markdown=""
scripts=()
while [ $# -gt 0 ]; do
	case "$1" in
	--markdown)
		[ $# -ge 2 ] || usage
		markdown=$2
		shift 2
		;;
	--markdown=*)
		markdown=${1#--markdown=}
		shift
		;;
	-h | --help) usage ;;
	-*) echo "unknown option: $1" >&2; usage ;;
	*)
		scripts+=("$1")
		shift
		;;
	esac
done

packetdrill=${PACKETDRILL:-$repo/../shared/tools/packetdrill}
if [ ! -x "$packetdrill" ]; then
	echo "packetdrill not found at $packetdrill (set PACKETDRILL=/path/to/packetdrill)" >&2
	exit 2
fi
if [ "$(id -u)" != 0 ]; then
	echo "$0 needs root: each script runs in a network namespace of its own" >&2
	exit 2
fi
command -v ip >/dev/null || { echo "the ip command (iproute2) is missing" >&2; exit 2; }

if [ ${#scripts[@]} -eq 0 ]; then
	while IFS= read -r s; do scripts+=("$s"); done < <(find "$drill_dir" -name '*.pkt' -type f | LC_ALL=C sort)
fi
if [ ${#scripts[@]} -eq 0 ]; then
	echo "no scripts found under $drill_dir" >&2
	exit 2
fi

# synack, if there is one that knows `drill`.
synack=""
if [ -n "${SYNACK:-}" ]; then
	synack=$SYNACK
elif [ -x "$repo/target/release/synack" ]; then
	synack=$repo/target/release/synack
elif [ -x "$repo/target/debug/synack" ]; then
	synack=$repo/target/debug/synack
fi
if [ -n "$synack" ] && ! "$synack" drill --help >/dev/null 2>&1; then
	synack=""
fi

# Namespaces this run created and has not yet deleted, and the command
# running now (started in the background so that a signal reaches us at
# once: `timeout` puts itself in a process group of its own, out of reach
# of the terminal's Ctrl-C).
declare -A live_ns=()
child=""
logdir=$(mktemp -d)
cleanup() {
	local ns
	if [ -n "$child" ]; then
		kill -TERM "$child" 2>/dev/null || true
		wait "$child" 2>/dev/null || true
		child=""
	fi
	for ns in "${!live_ns[@]}"; do
		ip netns del "$ns" 2>/dev/null || true
	done
	live_ns=()
	rm -rf "$logdir"
}
trap cleanup EXIT
trap 'echo "interrupted" >&2; exit 130' INT
trap 'exit 143' TERM

# run_bg LOG CMD...: runs CMD in the background, output to LOG, and waits
# for it; sets rc to its exit status.
run_bg() {
	local log=$1
	shift
	"$@" >"$log" 2>&1 &
	child=$!
	rc=0
	wait "$child" || rc=$?
	child=""
}

# name <script>: how the table names a script (relative to tests/drill when inside it).
name() {
	local abs
	abs=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
	case "$abs" in
	"$drill_dir"/*) echo "${abs#"$drill_dir"/}" ;;
	*) echo "$1" ;;
	esac
}

# run_linux script n: sets result to ok or FAIL; packetdrill's output in $logdir/n.linux.
# (Runs in this shell, not in $(...), so that the traps know the namespace.)
run_linux() {
	local script=$1 n=$2 ns="synack-pd-$$-$2" dir base rc=0
	dir=$(cd "$(dirname "$script")" && pwd)
	base=$(basename "$script")
	live_ns[$ns]=1
	if ! ip netns add "$ns" || ! ip -n "$ns" link set lo up; then
		echo "could not create network namespace $ns" >"$logdir/$n.linux"
		ip netns del "$ns" 2>/dev/null || true
		unset 'live_ns[$ns]'
		result=FAIL
		return
	fi
	run_bg "$logdir/$n.linux" \
		env -C "$dir" timeout 120 ip netns exec "$ns" "$packetdrill" --ip_version=ipv4 "$base"
	ip netns del "$ns" 2>/dev/null || true
	unset 'live_ns[$ns]'
	if [ "$rc" -eq 0 ]; then result=ok; else result=FAIL; fi
}

run_synack() { # script n -> prints ok / differs (documented) / skipped / FAIL / n/a
	local script=$1 n=$2 rc=0
	if [ -z "$synack" ]; then
		echo n/a
		return
	fi
	run_bg "$logdir/$n.synack" timeout 120 "$synack" drill "$script"
	if grep -q '^differs' "$logdir/$n.synack"; then
		echo "differs (documented)"
	elif grep -q '^skip' "$logdir/$n.synack"; then
		echo skipped
	elif [ "$rc" -eq 0 ] && grep -q '^ok' "$logdir/$n.synack"; then
		echo ok
	else
		echo FAIL
	fi
}

rows=()
declare -A linux_count=() synack_count=()
linux_failed=0
n=0
for script in "${scripts[@]}"; do
	n=$((n + 1))
	if [ ! -f "$script" ]; then
		echo "no such script: $script" >&2
		l=FAIL
		echo "no such file" >"$logdir/$n.linux"
		s=n/a
	else
		run_linux "$script" "$n"
		l=$result
		s=$(run_synack "$script" "$n")
	fi
	nm=$(name "$script")
	if [ "$l" != ok ]; then
		linux_failed=1
		{
			echo "--- $nm: Linux does not do what the script says:"
			tail -n 15 "$logdir/$n.linux"
		} >&2
	fi
	if [ "$s" = FAIL ]; then
		{
			echo "--- $nm: synack:"
			tail -n 15 "$logdir/$n.synack"
		} >&2
	fi
	linux_count[$l]=$((${linux_count[$l]:-0} + 1))
	synack_count[$s]=$((${synack_count[$s]:-0} + 1))
	rows+=("| $nm | $l | $s |")
	printf '%-60s linux: %-6s synack: %s\n' "$nm" "$l" "$s" >&2
done

counts() { # assoc-array-name
	local -n c=$1
	local k out=""
	while IFS= read -r k; do
		if [ -n "$k" ]; then out+="${out:+, }${c[$k]} $k"; fi
	done < <(printf '%s\n' "${!c[@]}" | LC_ALL=C sort)
	echo "$out"
}

table() {
	echo "| script | linux | synack |"
	echo "|---|---|---|"
	printf '%s\n' "${rows[@]}"
	echo
	echo "${#rows[@]} scripts. linux: $(counts linux_count). synack: $(counts synack_count)."
}

table
if [ -n "$markdown" ]; then
	# A new network namespace inherits the host's default (and may not change
	# it): scripts that do not set TCP_CONGESTION run with it on Linux.
	cc=$(cat /proc/sys/net/ipv4/tcp_congestion_control 2>/dev/null || echo unknown)
	{
		echo "Generated by \`tests/drill/linux.sh${orig_args[*]:+ ${orig_args[*]}}\` on $(date -u '+%Y-%m-%d %H:%M UTC'),"
		echo "Linux $(uname -r) (default congestion control in a new namespace: $cc), packetdrill $packetdrill, synack ${synack:-n/a}."
		echo
		table
	} >"$markdown"
fi

exit "$linux_failed"
