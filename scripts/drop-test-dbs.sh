#!/usr/bin/env bash
# Drops databases left behind by test runs that were killed before their cleanup ran.
# Only databases named zhiku_t_* (per-test) and zhiku_template_* (per-migration-set) go.
set -euo pipefail
url=${TEST_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable}
for db in $(psql "$url" -qAtc "select datname from pg_database where datname like 'zhiku\_t\_%'"); do
  psql "$url" -qc "DROP DATABASE IF EXISTS \"$db\" WITH (FORCE)" >/dev/null
done
