package main

import (
	"context"
	"strconv"
	"sync"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
	"github.com/zhiku/zhiku/internal/store"
)

// Every bot request resolves its key and its knowledge base. At thousands of answers a
// second those two reads would cost PostgreSQL more than the answers themselves, so the
// API reads them through this cache:
//   - a key's principal for keyTTL: a revoked key stops working within that time;
//   - a knowledge base until a change notification says it changed (any process, any
//     writer: the database's triggers send it), or kbTTL at most.
const (
	keyTTL = 5 * time.Second
	kbTTL  = time.Minute
)

// cachedStore is the store as the API reads it.
type cachedStore struct {
	*store.Store
	mu    sync.RWMutex
	keys  map[string]cachedPrincipal
	kbs   map[string]cachedKB
	epoch uint64 // bumped by invalidate; an entry read before a bump is stale
}

type cachedPrincipal struct {
	p       kb.Principal
	expires time.Time
}

type cachedKB struct {
	k       kb.KnowledgeBase
	expires time.Time
}

func newCachedStore(st *store.Store) *cachedStore {
	return &cachedStore{Store: st, keys: map[string]cachedPrincipal{}, kbs: map[string]cachedKB{}}
}

// PrincipalByKeyHash caches live keys only: an unknown key is asked again each time.
func (c *cachedStore) PrincipalByKeyHash(ctx context.Context, hash []byte) (kb.Principal, error) {
	k := string(hash)
	now := time.Now()
	c.mu.RLock()
	e, ok := c.keys[k]
	epoch := c.epoch
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.p, nil
	}
	p, err := c.Store.PrincipalByKeyHash(ctx, hash)
	if err != nil {
		return p, err
	}
	c.mu.Lock()
	if len(c.keys) > 100_000 {
		clear(c.keys)
	}
	if c.epoch == epoch { // no revocation was announced while reading
		c.keys[k] = cachedPrincipal{p: p, expires: now.Add(keyTTL)}
	}
	c.mu.Unlock()
	return p, nil
}

// GetKB caches found knowledge bases by tenant and reference (id or name).
func (c *cachedStore) GetKB(ctx context.Context, tenantID int64, idOrName string) (kb.KnowledgeBase, error) {
	key := strconv.FormatInt(tenantID, 10) + "\x00" + idOrName
	now := time.Now()
	c.mu.RLock()
	e, ok := c.kbs[key]
	epoch := c.epoch
	c.mu.RUnlock()
	if ok && now.Before(e.expires) {
		return e.k, nil
	}
	k, err := c.Store.GetKB(ctx, tenantID, idOrName)
	if err != nil {
		return k, err
	}
	c.mu.Lock()
	if c.epoch == epoch { // no change was announced while reading
		if len(c.kbs) > 100_000 {
			clear(c.kbs)
		}
		c.kbs[key] = cachedKB{k: k, expires: now.Add(kbTTL)}
	}
	c.mu.Unlock()
	return k, nil
}

// UpdateKB and DeleteKB drop the cache at once for this process; notifications do it for
// the others.
func (c *cachedStore) UpdateKB(ctx context.Context, tenantID, id int64, p kb.KBPatch) (kb.KnowledgeBase, error) {
	k, err := c.Store.UpdateKB(ctx, tenantID, id, p)
	c.invalidate()
	return k, err
}

func (c *cachedStore) DeleteKB(ctx context.Context, tenantID, id int64) error {
	err := c.Store.DeleteKB(ctx, tenantID, id)
	c.invalidate()
	return err
}

// invalidate forgets cached knowledge bases. Entries are keyed by reference, not id, and
// changes are rare, so all of them go.
func (c *cachedStore) invalidate() {
	c.mu.Lock()
	clear(c.kbs)
	c.epoch++
	c.mu.Unlock()
}

// forgetKeys drops every cached key: one was revoked, in this process or another (the
// store's notification), and it must stop working now, not when its entry expires.
func (c *cachedStore) forgetKeys() {
	c.mu.Lock()
	clear(c.keys)
	c.epoch++
	c.mu.Unlock()
}
