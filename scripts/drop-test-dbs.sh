#!/usr/bin/env bash
# Drops databases left behind by test runs that were killed before their cleanup ran:
# only per-test databases (zhiku_t_<unix seconds>_<random>) older than ZHIKU_TEST_DB_MAX_AGE
# seconds (default 3 hours, longer than any run), so other test runs on the same PostgreSQL
# keep theirs. Databases of the older naming (no timestamp) are dropped as stale.
set -euo pipefail
url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
max_age=${ZHIKU_TEST_DB_MAX_AGE:-10800}
now=$(date +%s)
for db in $(psql "$url" -qAtc "select datname from pg_database where datname like 'zhiku\_t\_%'"); do
  rest=${db#zhiku_t_}
  created=${rest%%_*}
  if [[ "$created" =~ ^[0-9]{10}$ ]] && (( now - created < max_age )); then
    continue
  fi
  psql "$url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
done
