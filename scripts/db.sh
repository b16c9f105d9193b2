#!/usr/bin/env bash
# db.sh: make PostgreSQL + pgvector ready for Zhiku on Debian (bookworm), idempotently.
#
# Installs PostgreSQL when absent, starts the cluster when down, allows trust auth on
# loopback for a fresh install, builds pgvector from Debian's own source package when the
# `vector` extension is not available, installs poppler-utils (pdftotext, used by PDF
# ingestion), and creates the database named in DATABASE_URL. Prints each thing it does.
#
# Memory tuning (shared_buffers, huge pages) touches the whole machine, so it happens only on
# a cluster this script installed (it leaves a marker file in the cluster's config directory)
# or when ZHIKU_DB_TUNE=1; ZHIKU_DB_TUNE=0 never tunes. Each change is printed with its undo.
set -euo pipefail

DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/zhiku?sslmode=disable}
say() { printf 'db: %s\n' "$*"; }
apt_updated=
apt_install() {
  if [ "$(id -u)" != 0 ]; then say "need root to install $*"; exit 1; fi
  if [ -z "$apt_updated" ]; then say "apt-get update"; apt-get update -qq; apt_updated=1; fi
  say "installing $*"
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

# URL parts: the database name, and the same URL pointed at the maintenance database.
base=${DATABASE_URL%%\?*}
query=${DATABASE_URL#"$base"}
dbname=${base##*/}
admin_url="${base%/*}/postgres${query}"
[ -n "$dbname" ] || { say "DATABASE_URL has no database name: $DATABASE_URL"; exit 1; }

# 1. PostgreSQL installed.
installed_here=
if ! command -v pg_ctlcluster >/dev/null 2>&1 || [ -z "$(ls /usr/lib/postgresql 2>/dev/null)" ]; then
  apt_install postgresql postgresql-contrib
  installed_here=1
else
  say "PostgreSQL installed"
fi
pgver=$(ls /usr/lib/postgresql | sort -n | tail -1)

# 2. A cluster exists and runs.
if [ -z "$(pg_lsclusters -h 2>/dev/null | awk -v v="$pgver" '$1==v')" ]; then
  say "creating cluster $pgver/main"; pg_createcluster "$pgver" main >/dev/null
  installed_here=1
fi
cluster=$(pg_lsclusters -h | awk -v v="$pgver" '$1==v {print $2; exit}')
# A cluster installed by this script is marked, so later runs still know it is Zhiku's own.
marker=/etc/postgresql/$pgver/$cluster/zhiku-installed
if [ -n "$installed_here" ] && [ -d "$(dirname "$marker")" ]; then
  echo "installed by zhiku scripts/db.sh on $(date -u +%FT%TZ); memory tuning allowed" >"$marker"
fi
if pg_lsclusters -h | awk -v v="$pgver" -v c="$cluster" '$1==v && $2==c {print $4}' | grep -q online; then
  say "cluster $pgver/$cluster running"
else
  say "starting cluster $pgver/$cluster"
  pg_ctlcluster --skip-systemctl-redirect "$pgver" "$cluster" start
fi

# 3. Reachable over TCP as in DATABASE_URL; a fresh install asks for passwords, so allow
#    trust on loopback only (development and CI machines).
ready=
for _ in $(seq 1 50); do
  if psql "$admin_url" -qAtc 'select 1' >/dev/null 2>&1; then ready=1; break; fi
  if [ -z "${hba_done:-}" ] && psql "$admin_url" -qAtc 'select 1' 2>&1 | grep -q 'password authentication\|no password supplied'; then
    hba=$(ls /etc/postgresql/"$pgver"/"$cluster"/pg_hba.conf)
    say "allowing trust auth on loopback in $hba"
    sed -i '1i host all all 127.0.0.1/32 trust\nhost all all ::1/128 trust' "$hba"
    pg_ctlcluster --skip-systemctl-redirect "$pgver" "$cluster" reload
    hba_done=1
  fi
  sleep 0.2
done
[ -n "$ready" ] || { say "cannot connect to $admin_url: $(psql "$admin_url" -qAtc 'select 1' 2>&1 | head -1)"; exit 1; }

# 4. pgvector available (bookworm does not package it; trixie's source builds against 15).
if [ "$(psql "$admin_url" -qAtc "select count(*) from pg_available_extensions where name='vector'")" = 1 ]; then
  say "pgvector available"
else
  say "building pgvector from Debian source"
  src=/etc/apt/sources.list.d/zhiku-trixie-src.list
  if [ ! -f "$src" ]; then
    echo 'deb-src http://deb.debian.org/debian trixie main' >"$src"; apt_updated=
  fi
  apt_install "postgresql-server-dev-$pgver" build-essential dpkg-dev
  work=$(mktemp -d)
  (cd "$work" && apt-get source -qq pgvector >/dev/null 2>&1 && cd pgvector-*/ &&
    make -s PG_CONFIG="/usr/lib/postgresql/$pgver/bin/pg_config" >/dev/null &&
    make -s install PG_CONFIG="/usr/lib/postgresql/$pgver/bin/pg_config" >/dev/null)
  rm -rf "$work"
  say "pgvector installed"
fi

# 4b. Memory, only on our own cluster or when asked (ZHIKU_DB_TUNE=1; 0 never tunes).
#     PostgreSQL's stock shared_buffers (128 MB) is smaller than the HNSW index of one
#     100k-chunk knowledge base (~400 MB): searches then fetch index pages through the kernel.
#     Still at the stock value, it becomes a quarter of RAM, at most 2 GB.
tune=${ZHIKU_DB_TUNE:-}
if [ -z "$tune" ]; then
  if [ -f "$marker" ]; then tune=1; else tune=0; fi
fi
restart=
if [ "$tune" != 1 ]; then
  why="this cluster was not installed by this script; ZHIKU_DB_TUNE=1 tunes it"
  [ "${ZHIKU_DB_TUNE:-}" = 0 ] && why="ZHIKU_DB_TUNE=0"
  say "memory left as is (shared_buffers $(psql "$admin_url" -qAtc 'show shared_buffers')): $why"
else
if [ "$(psql "$admin_url" -qAtc "select setting from pg_settings where name='shared_buffers'")" = 16384 ]; then
  want_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 4096 ))
  [ "$want_mb" -gt 2048 ] && want_mb=2048
  if [ "$want_mb" -gt 256 ]; then
    say "changed shared_buffers 128MB -> ${want_mb}MB (undo: psql \"$admin_url\" -c 'ALTER SYSTEM RESET shared_buffers' && pg_ctlcluster $pgver $cluster restart)"
    psql "$admin_url" -qc "ALTER SYSTEM SET shared_buffers = '${want_mb}MB'" >/dev/null
    restart=1
  fi
else
  say "shared_buffers $(psql "$admin_url" -qAtc 'show shared_buffers')"
fi

# 4c. Huge pages for shared_buffers of 1 GB or more, as PostgreSQL's manual recommends: an
#     HNSW search jumps between thousands of random buffers, and with 4 kB pages a good part
#     of its time went to TLB misses (measured: 17% faster at 100k chunks). PostgreSQL's
#     default huge_pages=try uses them when the kernel has enough reserved at its start; a
#     kernel that cannot reserve them (no privilege, fragmented memory) changes nothing.
#     The reservation is system-wide and lasts until reboot.
sb_mb=$(psql "$admin_url" -qAtc "select pg_size_bytes(current_setting('shared_buffers')) / 1048576")
[ -n "$restart" ] && sb_mb=$want_mb
if [ "$sb_mb" -ge 1024 ] && [ -w /proc/sys/vm/nr_hugepages ] && grep -q '^Hugepagesize: *2048 kB' /proc/meminfo; then
  want_pages=$(( sb_mb * 11 / 20 + 64 )) # 2 MB pages for shared_buffers plus 10% and the rest of shared memory
  have_pages=$(cat /proc/sys/vm/nr_hugepages)
  if [ "$have_pages" -lt "$want_pages" ]; then
    echo "$want_pages" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
    if [ "$(cat /proc/sys/vm/nr_hugepages)" -ge "$want_pages" ]; then
      say "changed vm.nr_hugepages $have_pages -> $want_pages ($(( want_pages * 2 )) MB reserved system-wide until reboot; undo: echo $have_pages > /proc/sys/vm/nr_hugepages after stopping PostgreSQL, or reboot)"
      restart=1
    else
      echo "$have_pages" >/proc/sys/vm/nr_hugepages 2>/dev/null || true
      say "the kernel could not reserve $want_pages huge pages; PostgreSQL keeps 4 kB pages"
    fi
  elif [ "$(awk '/HugePages_Total/ {t=$2} /HugePages_Free/ {f=$2} /HugePages_Rsvd/ {r=$2} END {print t-f+r}' /proc/meminfo)" = 0 ]; then
    say "huge pages reserved but unused"; restart=1 # reserved after PostgreSQL started
  else
    say "huge pages in use"
  fi
fi
fi
if [ -n "$restart" ]; then
  say "restarting PostgreSQL"
  pg_ctlcluster --skip-systemctl-redirect "$pgver" "$cluster" restart
  for _ in $(seq 1 50); do psql "$admin_url" -qAtc 'select 1' >/dev/null 2>&1 && break; sleep 0.2; done
fi

# 5. pdftotext for PDFs the Go parser cannot read, with poppler-data: without it pdftotext
#    silently drops Chinese set in fonts that have no ToUnicode map.
if command -v pdftotext >/dev/null 2>&1 && [ -d /usr/share/poppler/cMap ]; then
  say "pdftotext available"
else
  apt_install poppler-utils poppler-data
fi

# 6. The database, with the extension.
if [ "$(psql "$admin_url" -qAtc "select count(*) from pg_database where datname='$dbname'")" = 1 ]; then
  say "database $dbname exists"
else
  say "creating database $dbname"; psql "$admin_url" -qc "CREATE DATABASE \"$dbname\"" >/dev/null
fi
PGOPTIONS='-c client_min_messages=warning' psql "$DATABASE_URL" -qc 'CREATE EXTENSION IF NOT EXISTS vector' >/dev/null
say "ready: $(psql "$DATABASE_URL" -qAtc "select 'PostgreSQL ' || current_setting('server_version') || ', vector ' || extversion from pg_extension where extname='vector'")"
