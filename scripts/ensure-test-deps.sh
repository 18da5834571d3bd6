#!/usr/bin/env bash
# What `npm test` needs outside npm: Debian's Chromium (the webview and UI tests drive it headless) and the
# DejaVu fonts (their screenshots and text metrics). Run first by `npm test` and by .ci/run.
#   - both present: exits 0 at once (a few milliseconds; nothing is run);
#   - missing, as root with apt-get (Debian/Ubuntu): installs `chromium fonts-dejavu-core` with apt;
#   - missing otherwise: prints the one command to run, and exits 1.
# The Chromium looked for is $CHROMIUM_PATH, else /usr/bin/chromium (as in test/webview/harness.ts); the fonts
# are looked for at $DEJAVU_FONT, else Debian's path of DejaVuSans.ttf.
set -euo pipefail

CHROMIUM=${CHROMIUM_PATH:-/usr/bin/chromium}
FONT=${DEJAVU_FONT:-/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf}
PACKAGES=(chromium fonts-dejavu-core)

missing=()
[ -x "$CHROMIUM" ] || missing+=("Chromium at $CHROMIUM")
[ -f "$FONT" ] || missing+=("the DejaVu fonts at $FONT")
[ ${#missing[@]} -eq 0 ] && exit 0

what=${missing[0]}
[ ${#missing[@]} -gt 1 ] && what="$what and ${missing[1]}"
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null 2>&1; then
  echo "ensure-test-deps: ${what} missing: apt-get install ${PACKAGES[*]}" >&2
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${PACKAGES[@]}"
  if [ -x "$CHROMIUM" ] && [ -f "$FONT" ]; then exit 0; fi
  echo "ensure-test-deps: apt-get installed ${PACKAGES[*]}, but ${CHROMIUM} or ${FONT} is still missing; set CHROMIUM_PATH to a Chromium binary" >&2
  exit 1
fi

if command -v apt-get >/dev/null 2>&1; then
  command="sudo apt-get install -y --no-install-recommends ${PACKAGES[*]}"
else
  command="install Chromium and the DejaVu fonts with your package manager, then: export CHROMIUM_PATH=/path/to/chromium"
fi
echo "ensure-test-deps: the tests need ${what}, which is missing. Run:" >&2
echo "  ${command}" >&2
exit 1
