package store

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/zhiku/zhiku/internal/kb"
)

// ExchangeLogOptions tune an ExchangeLog. Zero values take the defaults.
type ExchangeLogOptions struct {
	// BufferSize is how many exchanges may wait for their write; beyond it Record drops.
	// Defaults to 10,000 (a few seconds of a busy server's answers while the database stalls).
	BufferSize int
	// BatchSize writes a batch as soon as this many exchanges wait. Defaults to 500.
	BatchSize int
	// FlushInterval writes what waits at least this often. Defaults to 100 ms, so an
	// answer's feedback (which needs its logged exchange) rarely arrives before it.
	FlushInterval time.Duration
	// WriteTimeout bounds one batch's write. Defaults to 10 s.
	WriteTimeout time.Duration
}

// ExchangeLog writes exchanges to the answer log in batches, off the request path. It
// implements the answer pipeline's ExchangeSink: Record never blocks.
type ExchangeLog struct {
	st   *Store
	log  *slog.Logger
	opts ExchangeLogOptions

	queue   chan kb.Exchange
	flushes chan flushRequest
	closing chan struct{} // closed by Close
	done    chan struct{} // closed when the writer has stopped

	closeOnce sync.Once
	closeCtx  context.Context // set before closing is closed
	closeErr  error           // set before done is closed

	dropped  atomic.Int64
	lastWarn atomic.Int64 // unix nanoseconds of the last "dropping" warning
}

type flushRequest struct {
	ctx   context.Context
	reply chan error
}

// dropWarnEvery is how often, at most, a full buffer is reported.
const dropWarnEvery = 10 * time.Second

// NewExchangeLog starts a batched writer of exchanges into st; Close stops it.
func NewExchangeLog(st *Store, log *slog.Logger, opts ExchangeLogOptions) *ExchangeLog {
	if opts.BufferSize <= 0 {
		opts.BufferSize = 10000
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 500
	}
	if opts.FlushInterval <= 0 {
		opts.FlushInterval = 100 * time.Millisecond
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = 10 * time.Second
	}
	if log == nil {
		log = slog.Default()
	}
	l := &ExchangeLog{
		st: st, log: log.With("component", "exchange_log"), opts: opts,
		queue:   make(chan kb.Exchange, opts.BufferSize),
		flushes: make(chan flushRequest),
		closing: make(chan struct{}),
		done:    make(chan struct{}),
	}
	go l.run()
	return l
}

// Record queues e for writing and returns at once. When the buffer is full (the database
// is slow or down) or the log is closed, e is dropped and counted (see Dropped), with a
// warning at most every 10 s: answering customers matters more than logging them.
func (l *ExchangeLog) Record(e kb.Exchange) {
	select {
	case <-l.closing:
		l.drop()
		return
	default:
	}
	select {
	case l.queue <- e:
	default:
		l.drop()
	}
}

func (l *ExchangeLog) drop() {
	n := l.dropped.Add(1)
	now, last := time.Now().UnixNano(), l.lastWarn.Load()
	if now-last >= int64(dropWarnEvery) && l.lastWarn.CompareAndSwap(last, now) {
		l.log.Warn("answer log buffer full or closed: exchanges dropped", "dropped_total", n, "buffer_size", l.opts.BufferSize)
	}
}

// Dropped is how many exchanges Record has dropped since the log started.
func (l *ExchangeLog) Dropped() int64 { return l.dropped.Load() }

// Flush writes every exchange recorded before it was called and returns the first write
// error; for tests and orderly handovers.
func (l *ExchangeLog) Flush(ctx context.Context) error {
	req := flushRequest{ctx: ctx, reply: make(chan error, 1)}
	select {
	case l.flushes <- req:
	case <-l.done:
		return errors.New("store: exchange log is closed")
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case err := <-req.reply:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

// Close writes what is queued and stops the writer; ctx bounds the last write. Exchanges
// recorded afterwards are dropped. Calling Close again returns the first call's outcome.
func (l *ExchangeLog) Close(ctx context.Context) error {
	l.closeOnce.Do(func() {
		l.closeCtx = ctx
		close(l.closing)
	})
	select {
	case <-l.done:
		return l.closeErr
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (l *ExchangeLog) run() {
	defer close(l.done)
	ticker := time.NewTicker(l.opts.FlushInterval)
	defer ticker.Stop()
	batch := make([]kb.Exchange, 0, l.opts.BatchSize)
	// write sends the batch (in BatchSize pieces) and empties it.
	write := func(ctx context.Context) error {
		var first error
		for start := 0; start < len(batch); start += l.opts.BatchSize {
			part := batch[start:min(start+l.opts.BatchSize, len(batch))]
			wctx, cancel := context.WithTimeout(ctx, l.opts.WriteTimeout)
			err := l.st.LogExchanges(wctx, part)
			cancel()
			if err != nil {
				l.log.Error("writing the answer log failed: exchanges lost", "exchanges", len(part), "err", err)
				if first == nil {
					first = err
				}
			}
		}
		clear(batch)
		batch = batch[:0]
		return first
	}
	// drain moves everything queued now into the batch.
	drain := func() {
		for {
			select {
			case e := <-l.queue:
				batch = append(batch, e)
			default:
				return
			}
		}
	}
	for {
		select {
		case e := <-l.queue:
			batch = append(batch, e)
			if len(batch) >= l.opts.BatchSize {
				_ = write(context.Background())
			}
		case <-ticker.C:
			if len(batch) > 0 {
				_ = write(context.Background())
			}
		case req := <-l.flushes:
			drain()
			req.reply <- write(req.ctx)
		case <-l.closing:
			drain()
			l.closeErr = write(l.closeCtx)
			return
		}
	}
}
