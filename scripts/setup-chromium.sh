#!/usr/bin/env bash
# Install headless Chromium (Debian packages chromium + chromium-driver) for the report test
# (tests/test_report.py renders the HTML report and takes a screenshot), and poppler-utils
# (pdftoppm, small) with it, for the page images of the print test (tests/test_print.py).
#
# Idempotent: does nothing when chromium is already on PATH. Needs root (or sudo) and apt-get;
# without them it says so and exits 0, and the screenshot test is skipped with that reason.
set -euo pipefail

if { command -v chromium >/dev/null 2>&1 || command -v chromium-browser >/dev/null 2>&1; } \
    && command -v pdftoppm >/dev/null 2>&1; then
    echo "setup-chromium: chromium already installed: $(command -v chromium || command -v chromium-browser)"
    exit 0
fi
if ! command -v apt-get >/dev/null 2>&1; then
    echo "setup-chromium: apt-get not available; install chromium yourself (the report screenshot test is skipped without it)"
    exit 0
fi
SUDO=""
if [ "$(id -u)" -ne 0 ]; then
    if command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then
        SUDO="sudo -n"
    else
        echo "setup-chromium: need root to install chromium with apt-get; skipping (the report screenshot test is skipped without it)"
        exit 0
    fi
fi
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq chromium chromium-driver poppler-utils
echo "setup-chromium: installed $(command -v chromium)"
