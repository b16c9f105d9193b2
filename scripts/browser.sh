#!/usr/bin/env bash
# browser.sh: Debian's Chromium for the admin UI's browser tests (admin-ui/browser_test.go),
# installed once with a Chinese font (for readable screenshots); idempotent. The tests skip
# themselves when /usr/bin/chromium is missing.
set -euo pipefail
[ -x /usr/bin/chromium ] && [ -d /usr/share/fonts/truetype/wqy ] && exit 0
if ! command -v apt-get >/dev/null; then
  echo "browser.sh: no apt-get; install Chromium at /usr/bin/chromium to run the browser tests" >&2
  exit 0
fi
sudo=""
[ "$(id -u)" -eq 0 ] || sudo="sudo"
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq chromium fonts-wqy-microhei >/dev/null
echo "browser.sh: installed $(/usr/bin/chromium --version 2>/dev/null || echo chromium)"
