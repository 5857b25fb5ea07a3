#!/usr/bin/env bash
# Runs the dashboard's browser test (dashboard.test.js) for CTest:
#   run.sh WEFT_CLI REMOTE_WORKER ARTIFACTS_DIR
# Fails when node, Debian's chromium or the npm dependencies are missing;
# WEFT_SKIP_BROWSER=1 skips it instead (exit 77, CTest's SKIP_RETURN_CODE).
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
if [ "${WEFT_SKIP_BROWSER:-}" = 1 ]; then
  echo "SKIP: WEFT_SKIP_BROWSER=1"
  exit 77
fi
missing=""
command -v node >/dev/null || missing="node (apt-get install nodejs npm)"
[ -x /usr/bin/chromium ] || missing="${missing:+$missing, }/usr/bin/chromium (apt-get install chromium)"
[ -d "$here/node_modules/puppeteer-core" ] \
  || missing="${missing:+$missing, }puppeteer-core (PUPPETEER_SKIP_DOWNLOAD=1 npm ci --prefix tests/browser)"
if [ -n "$missing" ]; then
  echo "FAIL: the browser test needs $missing; scripts/install-deps.sh installs all of it" \
       "(or set WEFT_SKIP_BROWSER=1 to skip this test)" >&2
  exit 1
fi
export PUPPETEER_SKIP_DOWNLOAD=1
exec node "$here/dashboard.test.js" "$@"
