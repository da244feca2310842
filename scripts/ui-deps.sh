#!/usr/bin/env bash
# The browser the UI tests drive: Debian's `chromium` package, installed with apt-get when
# /usr/bin/chromium is missing. Playwright drives this system browser; it never downloads its own.
#
#   scripts/ui-deps.sh          install if missing, then print the browser's path
#
# Needs root (CI runs as root) or password-less sudo for the install; does nothing when the
# browser is already there. CHROMIUM (environment) names another binary to use instead.
set -euo pipefail

BROWSER="${CHROMIUM:-/usr/bin/chromium}"

log() { echo "ui-deps.sh: $*" >&2; }
die() { log "$*"; exit 1; }

works() { [[ -x "$BROWSER" ]] && "$BROWSER" --headless --no-sandbox --version >/dev/null 2>&1; }

if works; then
    echo "$BROWSER"
    exit 0
fi
[[ "$BROWSER" == /usr/bin/chromium ]] || die "$BROWSER (from CHROMIUM) is not an executable browser"

sudo=()
if [[ "$(id -u)" != 0 ]]; then
    command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null \
        || die "Chromium is not installed and installing it needs root: run 'apt-get install chromium' as root"
    sudo=(sudo -n)
fi
command -v apt-get >/dev/null 2>&1 || die "Chromium is not installed and apt-get is not available"

log "installing the Debian 'chromium' package"
# Several test workers may get here at once; apt's own lock would make all but one fail.
exec 9>/tmp/.stripe-report-pipelines-ui-deps.lock
flock 9
if ! works; then
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    # fonts-liberation: readable text in screenshots on a machine without any fonts.
    "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        chromium fonts-liberation >&2
fi
works || die "chromium was installed but '$BROWSER --version' still fails"
echo "$BROWSER"
