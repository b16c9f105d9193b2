#!/usr/bin/env bash
# Retrieval quality on the project's eval set (testdata/eval, as knowledge base
# testdata_eval) and the shared dev sets: for every set present under DEVSETS (default
# ../shared/devsets), loads it into a knowledge base of the same name (once: ingestion
# skips unchanged records, and a set whose corpus and analysis code are unchanged since
# the last run is not even re-read), then prints recall@1, recall@10 and MRR@10 of the
# text, vector and hybrid modes and of the in-memory BM25 baseline, with the latency of
# each mode. The hybrid row and the BM25 row come from one `zhiku eval --baseline bm25` run.
#
#   make eval                                  # DATABASE_URL from the Makefile
#   DEVSETS=/path/to/devsets bash scripts/eval.sh
set -euo pipefail
cd "$(dirname "$0")/.."
DEVSETS=${DEVSETS:-../shared/devsets}
BIN=${BIN:-bin/zhiku}
MODES=${MODES:-text vector hybrid}
: "${DATABASE_URL:?set DATABASE_URL}"

[[ -d $DEVSETS ]] || echo "no dev sets at $DEVSETS: only testdata/eval" >&2
"$BIN" migrate >/dev/null 2>&1 || "$BIN" migrate

hash() { sha256sum "$@" | sha256sum | cut -c1-16; }
# Tokens depend on the segmenter; a change re-tokenizes the loaded sets (zhiku reindex).
analysis=$(hash internal/segment/*.go)
stamps=.zhiku/eval/$(echo -n "$DATABASE_URL" | sha256sum | cut -c1-12)
mkdir -p "$stamps"

rows=()
for dir in testdata/eval/ "$DEVSETS"/*/; do
	set=$(basename "$dir")
	corpus=$dir/corpus.jsonl queries=$dir/queries.jsonl
	if [[ $dir == testdata/eval/ ]]; then
		set=testdata_eval corpus=$dir/records.jsonl
	fi
	[[ -f $corpus && -f $queries ]] || continue
	lang=zh
	[[ $set == *_en ]] && lang=en
	"$BIN" kb create "$set" --language "$lang" >/dev/null
	stamp=$stamps/$set
	corpusHash=$(hash "$corpus")
	read -r oldCorpus oldAnalysis 2>/dev/null <"$stamp" || true
	if [[ ${oldCorpus:-} != "$corpusHash" ]]; then
		echo "loading $set ..." >&2
		"$BIN" ingest --kb "$set" --kind records "$corpus" 2>&1 | tail -2 >&2
		oldAnalysis=$analysis # freshly written chunks have the current tokens
	fi
	if [[ ${oldAnalysis:-} != "$analysis" ]]; then
		echo "re-tokenizing $set (the segmenter changed) ..." >&2
		"$BIN" reindex --kb "$set" >&2
	fi
	echo "$corpusHash $analysis" >"$stamp"
	for mode in $MODES; do
		args=(eval --kb "$set" --queries "$queries" --mode "$mode")
		[[ $mode == hybrid ]] && args+=(--baseline bm25)
		echo "evaluating $set $mode ..." >&2
		while read -r m _ r1 _ r10 mrr _ p50 p99; do
			rows+=("$set $m $r1 $r10 $mrr $p50 $p99")
		done < <("$BIN" "${args[@]}" | awk 'NR > 1 && NF == 9')
	done
done

printf '\n| set | mode | recall@1 | recall@10 | MRR@10 | p50 ms | p99 ms |\n| --- | --- | ---: | ---: | ---: | ---: | ---: |\n'
for r in "${rows[@]}"; do
	read -r set m r1 r10 mrr p50 p99 <<<"$r"
	printf '| %s | %s | %s | %s | %s | %s | %s |\n' "$set" "$m" "$r1" "$r10" "$mrr" "$p50" "$p99"
done
