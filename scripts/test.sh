#!/usr/bin/env bash
# The whole test suite: lint, types, migrations check, then pytest on SQLite and on PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=.venv/bin
export PYTHONDONTWRITEBYTECODE=1
bash scripts/ensure-services.sh

echo "== ruff"
$BIN/ruff check .
echo "== mypy"
$BIN/mypy
echo "== makemigrations --check"
PYTHONPATH=. DJANGO_SETTINGS_MODULE=config.settings.test $BIN/tongban makemigrations --check --dry-run

PG_URL=${TONGBAN_TEST_PG_URL:-postgresql://postgres@127.0.0.1:5432/tongban}
echo "== pytest on SQLite"
TONGBAN_DATABASE_URL=sqlite:///var/test/tongban.sqlite3 $BIN/pytest "$@"
# Leftover test databases of an earlier run are dropped here, outside the suite: dropping a large one can
# outlast the statement timeout the platform's own connections carry, and --create-db would then fail.
if command -v psql >/dev/null; then
  base=${PG_URL%%\?*}; name=${base##*/}; server=${base%/*}
  for db in $(psql "$server/postgres" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'test\_${name}%'" 2>/dev/null); do
    psql "$server/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
fi
echo "== pytest on PostgreSQL ($PG_URL)"
TONGBAN_DATABASE_URL=$PG_URL $BIN/pytest --create-db "$@"
