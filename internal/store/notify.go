package store

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"
)

// KBChangedChannel is the PostgreSQL notification channel that carries the id of a
// knowledge base whose row, documents or FAQs changed (triggers of migration 11). The
// notification is sent when the writing transaction commits, whichever process wrote.
const KBChangedChannel = "zhiku_kb_changed"

// ListenOptions tune ListenKBChanges. Zero values take the defaults.
type ListenOptions struct {
	// Ready, when set, is called each time the listener is listening: after the first
	// LISTEN and after every reconnection. Tests wait for it before writing.
	Ready func()
	// Log receives connection losses. Defaults to slog.Default().
	Log *slog.Logger
	// MinBackoff and MaxBackoff bound the wait between reconnection attempts, doubling
	// from one to the other. Default 100 ms and 10 s.
	MinBackoff, MaxBackoff time.Duration
	// OnKeyRevoked, when set, is called when an API key was revoked (RevokeKey notifies
	// "key:ID" on the same channel), and after a reconnection: key caches drop their
	// entries, so a revoked key stops working on every process at once.
	OnKeyRevoked func()
	// PingEvery checks an idle connection this often, so a connection that died silently
	// (a failover, a dropped NAT entry) is replaced. Defaults to 30 s.
	PingEvery time.Duration
}

// ListenKBChanges calls onChange with the id of each knowledge base that changed, as the
// changes commit, until ctx ends; then it returns nil. It holds one connection of its own,
// opened with the pool's settings (not one of the pool's). When the connection is lost it
// reconnects with backoff and then calls onChange(0): "any knowledge base may have changed"
// (notifications sent meanwhile are lost). onChange runs on the listener's goroutine; it
// should be quick. It fails at once only when the store is not on a pool (a transaction).
// With a read pool, each change first raises the replicas' fence (see ReadPool).
func (s *Store) ListenKBChanges(ctx context.Context, onChange func(kbID int64), opts ...ListenOptions) error {
	pool, ok := s.db.(*pgxpool.Pool)
	if !ok {
		return errors.New("store: listen for knowledge base changes: the store is not on a connection pool")
	}
	o := ListenOptions{Log: slog.Default(), MinBackoff: 100 * time.Millisecond, MaxBackoff: 10 * time.Second, PingEvery: 30 * time.Second}
	for _, x := range opts {
		if x.Ready != nil {
			o.Ready = x.Ready
		}
		if x.Log != nil {
			o.Log = x.Log
		}
		if x.MinBackoff > 0 {
			o.MinBackoff = x.MinBackoff
		}
		if x.MaxBackoff > 0 {
			o.MaxBackoff = x.MaxBackoff
		}
		if x.PingEvery > 0 {
			o.PingEvery = x.PingEvery
		}
		if x.OnKeyRevoked != nil {
			o.OnKeyRevoked = x.OnKeyRevoked
		}
	}
	o.MaxBackoff = max(o.MaxBackoff, o.MinBackoff)
	log := o.Log.With("component", "kb_listener")
	if s.read != nil {
		// Replicas must replay a change before reads trust them again (see ReadPool).
		tell := onChange
		onChange = func(kbID int64) {
			if err := s.read.heardChange(ctx, s.db); err != nil && ctx.Err() == nil {
				log.Warn("could not read the primary's WAL position; reads may see replicas lag", "err", err)
			}
			tell(kbID)
		}
	}
	cfg := pool.Config().ConnConfig.Copy()
	cfg.RuntimeParams["application_name"] = "zhiku listener"

	backoff, reconnecting := o.MinBackoff, false
	for ctx.Err() == nil {
		conn, err := listen(ctx, cfg)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			log.Warn("listening for knowledge base changes failed; retrying", "retry_in", backoff.String(), "err", err)
			sleep(ctx, backoff)
			backoff = min(backoff*2, o.MaxBackoff)
			reconnecting = true
			continue
		}
		backoff = o.MinBackoff
		if reconnecting {
			onChange(0)
			if o.OnKeyRevoked != nil {
				o.OnKeyRevoked()
			}
		}
		if o.Ready != nil {
			o.Ready()
		}
		err = receive(ctx, conn, o.PingEvery, onChange, o.OnKeyRevoked)
		_ = conn.Close(context.WithoutCancel(ctx))
		if ctx.Err() != nil {
			break
		}
		log.Warn("lost the connection listening for knowledge base changes; reconnecting", "err", err)
		reconnecting = true
	}
	return nil
}

// listen opens a connection and subscribes it to KBChangedChannel.
func listen(ctx context.Context, cfg *pgx.ConnConfig) (*pgx.Conn, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	conn, err := pgx.ConnectConfig(ctx, cfg)
	if err != nil {
		return nil, err
	}
	if _, err := conn.Exec(ctx, `LISTEN `+KBChangedChannel); err != nil {
		_ = conn.Close(context.WithoutCancel(ctx))
		return nil, fmt.Errorf("listen: %w", err)
	}
	return conn, nil
}

// receive passes notifications on until ctx ends or the connection fails; an idle
// connection is pinged every pingEvery.
func receive(ctx context.Context, conn *pgx.Conn, pingEvery time.Duration, onChange func(int64), onKey func()) error {
	for {
		wait, cancel := context.WithTimeout(ctx, pingEvery)
		n, err := conn.WaitForNotification(wait)
		cancel()
		switch {
		case err == nil && strings.HasPrefix(n.Payload, "key:"):
			if onKey != nil {
				onKey()
			}
		case err == nil:
			id, perr := strconv.ParseInt(n.Payload, 10, 64)
			if perr != nil || id <= 0 {
				id = 0 // not ours to read: assume anything changed
			}
			onChange(id)
		case ctx.Err() != nil:
			return ctx.Err()
		case errors.Is(err, context.DeadlineExceeded) && !conn.IsClosed():
			// A timed-out wait leaves the connection usable: check that the server still answers.
			pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
			err = conn.Ping(pctx)
			cancel()
			if err != nil {
				return fmt.Errorf("ping: %w", err)
			}
		default:
			return err
		}
	}
}

// sleep waits d or until ctx ends.
func sleep(ctx context.Context, d time.Duration) {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
	case <-ctx.Done():
	}
}
