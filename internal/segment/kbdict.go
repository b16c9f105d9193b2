package segment

import "github.com/zhiku/zhiku/internal/kb"

// KBDict builds knowledge base k's vocabulary from its settings (custom words and synonym
// groups); nil when it has none. Indexing, querying and re-indexing all call it, so the
// three always segment alike.
func KBDict(k kb.KnowledgeBase) *Dict {
	words, syns := k.Dictionary()
	if len(words) == 0 && len(syns) == 0 {
		return nil
	}
	return NewDict(words, syns)
}
