#!/bin/sh
# The Linux settings every script in synack's drill suite assumes.
#
# Each script starts with the line `../defaults.sh` (in backticks). Under
# Linux (tests/drill/linux.sh runs each script in a fresh network namespace)
# packetdrill runs this file with /bin/sh. `synack drill` does not run a
# shell: it reads the `sysctl -q net.ipv4.NAME=VALUE` lines below and turns
# each one into synack's configuration. A line it does not know makes the
# script skipped, never passed.
#
# The values are Linux's stock ones, except where the stock value enables a
# feature synack does not have, switched off here so that Linux and synack
# run the same algorithm:
#   tcp_ecn=0, tcp_fastopen=0
#   tcp_autocorking=0     no autocorking of small writes
# and two that synack has (stack/src/tcp/rack.rs, on by default as in
# Linux) but that the scripts written before them do not expect; the
# scripts of rack/ switch them back on after this file:
#   tcp_early_retrans=0   no tail loss probe (RFC 8985 §7 TLP)
#   tcp_recovery=0        no RACK loss detection (RFC 8985 §6): RFC 6675's
#                         DupThresh, and cwnd = ssthresh at once in recovery
#                         (no PRR, RFC 6937)
# Windows and buffers are pinned so that the host's own settings never show.
# The congestion control cannot be: a namespace inherits the host's default
# (bbr on this machine) and may not change it. Scripts whose lesson depends on
# it (cwnd/, recovery/, rto/) set TCP_CONGESTION "cubic" on the socket, which
# is synack's default; elsewhere the algorithm does not show.

sysctl -q net.ipv4.tcp_timestamps=1
sysctl -q net.ipv4.tcp_sack=1
sysctl -q net.ipv4.tcp_dsack=1
sysctl -q net.ipv4.tcp_window_scaling=1
sysctl -q net.ipv4.tcp_syncookies=1
sysctl -q net.ipv4.tcp_ecn=0
sysctl -q net.ipv4.tcp_fastopen=0
sysctl -q net.ipv4.tcp_early_retrans=0
sysctl -q net.ipv4.tcp_recovery=0
sysctl -q net.ipv4.tcp_autocorking=0
sysctl -q net.ipv4.tcp_rmem="4096 131072 6291456"
sysctl -q net.ipv4.tcp_wmem="4096 16384 4194304"
sysctl -q net.ipv4.tcp_slow_start_after_idle=1
sysctl -q net.ipv4.tcp_min_tso_segs=2
