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
SQLITE_URL=sqlite:///var/test/tongban.sqlite3
# Test databases of an earlier run are dropped outside the suite: dropping a large one can outlast the
# statement timeout the platform's own connections carry, and --create-db would then fail.
drop_pg_test_databases() {
  command -v psql >/dev/null || return 0
  local base=${PG_URL%%\?*}; local name=${base##*/}; local server=${base%/*}
  for db in $(psql "$server/postgres" -Atc "SELECT datname FROM pg_database WHERE datname LIKE 'test\_${name}%'" 2>/dev/null); do
    psql "$server/postgres" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null 2>&1 || true
  done
}
drop_pg_test_databases

if [ $# -gt 0 ]; then
  # Arguments (a path, -k, -x ...): the same selection on each database, one after the other.
  echo "== pytest on SQLite"
  TONGBAN_DATABASE_URL=$SQLITE_URL $BIN/pytest "$@"
  echo "== pytest on PostgreSQL ($PG_URL)"
  TONGBAN_DATABASE_URL=$PG_URL $BIN/pytest --create-db "$@"
  exit 0
fi

# The whole suite. One pytest process keeps about one core busy, so the two databases' runs go side by
# side (each line prefixed with its database); the fault tests, which time answers under injected
# faults, run afterwards on a machine no other test is loading. The first runs keep their test databases
# (--reuse-db) so that the fault runs do not migrate again.
export PYTHONUNBUFFERED=1
RUN_ID=$$
started=$(date +%s)
echo "== pytest on SQLite and on PostgreSQL ($PG_URL), side by side; then the fault tests on each"
( TONGBAN_TEST_RUN_ID=$RUN_ID-sqlite TONGBAN_DATABASE_URL=$SQLITE_URL \
    $BIN/pytest --reuse-db --ignore=tests/faults 2>&1 | sed -u 's/^/[sqlite] /'; exit "${PIPESTATUS[0]}" ) &
sqlite_pid=$!
( TONGBAN_TEST_RUN_ID=$RUN_ID-pg TONGBAN_DATABASE_URL=$PG_URL \
    $BIN/pytest --reuse-db --create-db --ignore=tests/faults 2>&1 | sed -u 's/^/[pg]     /'; exit "${PIPESTATUS[0]}" ) &
pg_pid=$!
status=0
wait $sqlite_pid || { echo "== pytest on SQLite FAILED"; status=1; }
wait $pg_pid || { echo "== pytest on PostgreSQL FAILED"; status=1; }
echo "== both suites done in $(( $(date +%s) - started )) s"
echo "== fault tests on SQLite"
TONGBAN_TEST_RUN_ID=$RUN_ID-sqlite TONGBAN_DATABASE_URL=$SQLITE_URL $BIN/pytest --reuse-db tests/faults || status=1
echo "== fault tests on PostgreSQL"
TONGBAN_TEST_RUN_ID=$RUN_ID-pg TONGBAN_DATABASE_URL=$PG_URL $BIN/pytest --reuse-db tests/faults || status=1
rm -f var/test/test-"$RUN_ID"-sqlite-*.sqlite3*
drop_pg_test_databases
echo "== all tests done in $(( $(date +%s) - started )) s"
exit $status
