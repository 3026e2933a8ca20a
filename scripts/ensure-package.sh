#!/usr/bin/env bash
# Usage: scripts/ensure-package.sh COMMAND [DEBIAN_PACKAGE]
# Makes sure COMMAND exists, installing Debian's package (default: named like it) if not:
# redis-server for the tests and `make run`, wrk for `make bench`, chromedriver
# (chromium-driver, which brings chromium) for the dashboard's browser test.
set -euo pipefail
command="$1"
package="${2:-$1}"
command -v "$command" >/dev/null 2>&1 && exit 0
echo "$command not found; installing Debian's $package package..." >&2
if [ "$(id -u)" -eq 0 ]; then
  sudo=""
elif command -v sudo >/dev/null 2>&1; then
  sudo="sudo"
else
  echo "Cannot install $package (not root, no sudo): please install it." >&2
  exit 1
fi
$sudo apt-get update -qq
$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$package" >/dev/null
command -v "$command" >/dev/null 2>&1
