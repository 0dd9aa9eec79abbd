#!/usr/bin/env bash
# Install headless Chromium from the system's packages (Debian/Ubuntu) for the test of the
# `stats --format html` page. Does nothing when a Chromium is already on PATH.
set -euo pipefail
for name in chromium chromium-browser google-chrome; do
    if command -v "$name" >/dev/null 2>&1; then
        exit 0
    fi
done
if ! command -v apt-get >/dev/null 2>&1; then
    echo "install_browser.sh: no apt-get here; install Chromium with your package manager" >&2
    exit 1
fi
sudo=""
if [ "$(id -u)" != 0 ]; then
    sudo="sudo"
fi
export DEBIAN_FRONTEND=noninteractive
$sudo apt-get update -qq
# Debian calls the package chromium; Ubuntu's chromium-browser is a snap stub, so on Ubuntu
# prefer chromium from a PPA or google-chrome if this fails.
$sudo apt-get install -y -qq chromium || $sudo apt-get install -y -qq chromium-browser
