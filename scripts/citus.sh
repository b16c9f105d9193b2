#!/usr/bin/env bash
# citus.sh: Zhiku on Citus, for real (`make test-citus`; docs/citus.md).
#
#   scripts/citus.sh            build Citus if needed, start a coordinator and two workers,
#                               run the Citus test (TestCitus, cmd/zhiku), stop the cluster;
#                               prints `citus ok` last when everything holds
#   scripts/citus.sh build      only install the build dependencies and build Citus
#   scripts/citus.sh start      build if needed and start the cluster (left running)
#   scripts/citus.sh stop       stop the cluster
#   scripts/citus.sh stop-worker N | start-worker N   stop or start worker N (1 or 2)
#
# Citus 13.2.2 (the last line that supports PostgreSQL 15) is built from
# ../shared/vendor/citus-13.2.2.tar.gz into the PostgreSQL 15 installation, once: a
# citus.so stamped with the same version is left alone. Build dependencies come from Debian
# when missing. The cluster's data directories live under ZHIKU_CITUS_DIR (default
# /tmp/zhiku-citus), on loopback ports ZHIKU_CITUS_PORT (default 9700: coordinator) and the
# next two (workers); each start begins from fresh data directories.
set -euo pipefail

CITUS_VERSION=13.2.2
here=$(cd "$(dirname "$0")/.." && pwd)
tarball=${ZHIKU_CITUS_TARBALL:-$here/../shared/vendor/citus-$CITUS_VERSION.tar.gz}
dir=${ZHIKU_CITUS_DIR:-/tmp/zhiku-citus}
port0=${ZHIKU_CITUS_PORT:-9700}
pgver=15
bin=/usr/lib/postgresql/$pgver/bin
pg_config=$bin/pg_config
say() { printf 'citus: %s\n' "$*"; }

# as_pg runs a command as the postgres user: initdb and the server refuse to run as root.
as_pg() {
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    if command -v sudo >/dev/null 2>&1; then
      say "installing $* (sudo)"
      sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
      sudo DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
      return
    fi
    say "need root (or sudo) to install $*"; exit 1
  fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 update -qq
  DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=600 install -y -qq --no-install-recommends "$@" >/dev/null
}

build() {
  [ -x "$pg_config" ] || { say "PostgreSQL $pgver is not installed: run make db first"; exit 1; }
  local libdir extdir stamp
  libdir=$("$pg_config" --pkglibdir)
  extdir=$("$pg_config" --sharedir)/extension
  stamp=$extdir/citus.zhiku-built
  if [ -f "$libdir/citus.so" ] && [ "$(cat "$stamp" 2>/dev/null)" = "$CITUS_VERSION" ]; then
    say "Citus $CITUS_VERSION installed"
    return
  fi
  local missing=()
  for p in "postgresql-server-dev-$pgver" libcurl4-openssl-dev liblz4-dev libzstd-dev libkrb5-dev build-essential; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
  done
  if [ ${#missing[@]} -gt 0 ]; then apt_install "${missing[@]}"; else say "build dependencies installed"; fi
  [ -f "$tarball" ] || { say "no Citus source at $tarball"; exit 1; }
  local work
  work=$(mktemp -d)
  tar xzf "$tarball" -C "$work"
  local src=$work/citus-$CITUS_VERSION
  # PostgreSQL 15.x headers (15.20 here) now export have_createdb_privilege(), which
  # Citus's compatibility header also defines as static: fence Citus's copy off.
  if grep -q 'have_createdb_privilege' "$("$pg_config" --includedir-server)/commands/dbcommands.h" 2>/dev/null; then
    perl -0pi -e 's/(static inline bool\nhave_createdb_privilege\(void\)\n\{.*?\n\}\n)/#if 0 \/* zhiku: PostgreSQL exports it *\/\n$1#endif\n/s' \
      "$src/src/include/pg_version_compat.h"
    grep -q 'zhiku: PostgreSQL exports it' "$src/src/include/pg_version_compat.h" || { say "compile fix did not apply"; exit 1; }
  fi
  # with_llvm=no: no JIT bitcode for the extension, which would double the compile time.
  say "building Citus $CITUS_VERSION (nice -n 19, make -j2; log $work/build.log)"
  local t0=$SECONDS
  (cd "$src" && nice -n 19 ./configure PG_CONFIG="$pg_config" >"$work/build.log" 2>&1 &&
    nice -n 19 make -j2 with_llvm=no >>"$work/build.log" 2>&1 && make install with_llvm=no >>"$work/build.log" 2>&1) ||
    { tail -30 "$work/build.log"; say "build failed (log $work/build.log)"; exit 1; }
  echo "$CITUS_VERSION" >"$stamp"
  rm -rf "$work"
  say "Citus $CITUS_VERSION built and installed in $((SECONDS - t0)) s"
}

node_dir() { echo "$dir/node$1"; }      # 0: coordinator, 1 and 2: workers
node_port() { echo $((port0 + $1)); }
psql_node() { local n=$1; shift; psql "postgres://postgres@127.0.0.1:$(node_port "$n")/postgres?sslmode=disable" -qAtX -v ON_ERROR_STOP=1 "$@"; }

start_node() {
  local d; d=$(node_dir "$1")
  as_pg "$bin/pg_ctl" -D "$d" -l "$d.log" -w -t 60 -o "-p $(node_port "$1")" start >/dev/null
}

stop_node() {
  local d; d=$(node_dir "$1")
  [ -f "$d/postmaster.pid" ] || return 0
  as_pg "$bin/pg_ctl" -D "$d" -m fast -w -t 60 stop >/dev/null
}

stop_all() {
  for n in 0 1 2; do stop_node "$n" || true; done
}

start_cluster() {
  build
  stop_all
  rm -rf "$dir"
  mkdir -p "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  for n in 0 1 2; do
    local d; d=$(node_dir "$n")
    as_pg "$bin/initdb" -D "$d" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 >/dev/null
    cat >>"$d/postgresql.conf" <<EOF
listen_addresses = '127.0.0.1'
port = $(node_port "$n")
unix_socket_directories = '$dir'
shared_preload_libraries = 'citus'
max_connections = 200
shared_buffers = 128MB
fsync = off
synchronous_commit = off
full_page_writes = off
citus.node_conninfo = 'sslmode=disable connect_timeout=2'
EOF
    start_node "$n"
    psql_node "$n" -c 'CREATE EXTENSION citus' -c 'CREATE EXTENSION vector'
  done
  psql_node 0 -c "SELECT citus_set_coordinator_host('127.0.0.1', $(node_port 0))" >/dev/null
  for n in 1 2; do psql_node 0 -c "SELECT citus_add_node('127.0.0.1', $(node_port "$n"))" >/dev/null; done
  say "cluster up: coordinator 127.0.0.1:$(node_port 0), workers $(node_port 1) and $(node_port 2) ($(psql_node 0 -c 'select citus_version()' | cut -d' ' -f1-2))"
}

case "${1:-test}" in
build) build ;;
start) start_cluster ;;
stop) stop_all; say "cluster stopped" ;;
stop-worker) stop_node "${2:?worker number}" ;;
start-worker) start_node "${2:?worker number}" ;;
test)
  t0=$SECONDS
  [ -f "$dir/node0/postmaster.pid" ] && stop_all
  start_cluster
  trap stop_all EXIT
  GO=${GO:-go}
  ZHIKU_TEST_CITUS_URL="postgres://postgres@127.0.0.1:$(node_port 0)/postgres?sslmode=disable" \
    ZHIKU_TEST_CITUS_CTL="$here/scripts/citus.sh" \
    "$GO" test -count=1 -timeout 12m -run '^TestCitus$' -v ./cmd/zhiku/ 2>&1 | tee "$dir/test.log" | grep -E '^(=== RUN|--- |\s+citus_test|PASS|FAIL|ok|panic)' || true
  if ! grep -q '^--- PASS: TestCitus ' "$dir/test.log"; then
    say "FAILED (full output: $dir/test.log)"
    exit 1
  fi
  say "done in $((SECONDS - t0)) s"
  echo "citus ok"
  ;;
*) sed -n '2,17p' "$0"; exit 2 ;;
esac
