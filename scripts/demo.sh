#!/usr/bin/env bash
# demo.sh BIN: load the demo knowledge base "demo" from testdata/demo with the zhiku binary
# BIN (default bin/zhiku). Idempotent: the knowledge base is created once and unchanged
# files are no-ops on re-ingest. Mined ticket pairs wait in review until approved.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-bin/zhiku}
dir=testdata/demo

"$bin" kb create --language zh --description "演示知识库：智净扫地机器人手册、商品目录、客服工单、常见问题 / demo knowledge base" demo
"$bin" ingest --kb demo --kind manual "$dir/xr500-manual.pdf"
"$bin" ingest --kb demo --kind catalog --replace "$dir/catalog.csv"
"$bin" ingest --kb demo --kind faq "$dir/faq.csv"
"$bin" ingest --kb demo --kind tickets "$dir/tickets.jsonl"
