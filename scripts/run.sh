#!/usr/bin/env bash
# run.sh: migrate, load the demo knowledge base, and serve Zhiku on ZHIKU_ADDR (default :8080)
# with an admin key: ZHIKU_ADMIN_KEY when set, otherwise one generated once and kept in
# .zhiku/admin-key (gitignored) so it survives restarts.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=bin/zhiku
[ -x "$bin" ] || go build -o "$bin" ./cmd/zhiku

if [ -z "${ZHIKU_ADMIN_KEY:-}" ]; then
  mkdir -p .zhiku
  [ -s .zhiku/admin-key ] || (umask 077; printf 'zk_admin_%s\n' "$(head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n')" >.zhiku/admin-key)
  ZHIKU_ADMIN_KEY=$(cat .zhiku/admin-key)
fi
export ZHIKU_ADMIN_KEY
export ZHIKU_LOG_FORMAT=${ZHIKU_LOG_FORMAT:-text}

"$bin" migrate
if [ -x scripts/demo.sh ]; then scripts/demo.sh "$bin"; else "$bin" kb create --description "演示知识库 / demo knowledge base" demo; fi

addr=${ZHIKU_ADDR:-:8080}
port=${addr##*:}
cat <<MSG

  知库 Zhiku is starting on ${addr}
  Admin UI / 管理界面:  http://localhost:${port}/admin/
  Admin key / 管理密钥: ${ZHIKU_ADMIN_KEY}
  Try / 试一试:         curl -H "Authorization: Bearer ${ZHIKU_ADMIN_KEY}" http://localhost:${port}/v1/knowledge-bases

MSG
exec "$bin" serve
