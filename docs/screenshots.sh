#!/usr/bin/env bash
# Remakes README's pictures of the web view from a real run:
# docs/img/web-page.png (the page), docs/img/web-plots.png (a connection's
# plots) and docs/img/web-step.png (a handshake stepped from the page).
# They are the screenshots tests/tests/web_browser.rs takes: synack up
# --web in a network namespace, a chargen transfer to a slow reader on the
# host side with one segment dropped, then the host's nc to echo stepped
# with --web-control; Debian's chromium headless at 1280x900. Run as root
# (namespaces, TAP); tests/run.sh installs chromium.
set -euo pipefail
cd "$(dirname "$0")/.."

[[ $(id -u) -eq 0 ]] || { echo "docs/screenshots.sh: run it as root (it makes a network namespace)" >&2; exit 1; }
command -v chromium >/dev/null || { echo "docs/screenshots.sh: no chromium (apt-get install chromium)" >&2; exit 1; }

cargo build --release -p synack-apps
# The test runs in tests/: the folder is given whole.
SYNACK_WEB_TEST_OUT="$PWD/docs/img" cargo test --release -p synack-tests --test web_browser

for png in docs/img/web-page.png docs/img/web-plots.png docs/img/web-step.png; do
    size=$(stat -c %s "$png")
    echo "$png: $size bytes"
    # Keep the repository small: README's pictures stay under 300 kB.
    ((size < 300000)) || { echo "docs/screenshots.sh: $png is over 300 kB" >&2; exit 1; }
done
