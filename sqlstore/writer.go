package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"

	"crmedge/edge"
)

// writer owns the one write connection. Concurrent Write calls queue here;
// the writer goroutine takes whatever is queued (without waiting for company,
// so a lone request is not delayed), runs each request in its own SAVEPOINT
// inside one BEGIN IMMEDIATE transaction, commits once, and only then answers
// every request in the batch. One fsync then covers many requests: this is
// group commit, and it is how durable writes outrun a commit per request.
type writer struct {
	conn    *sql.Conn
	d       *dconn // conn's statements (see dconn)
	jobs    chan *writeJob
	done    chan struct{}
	ckpt    *checkpointer
	pause   sync.Mutex // held while a batch runs; see checkpointer
	commits atomic.Uint64
	writes  atomic.Uint64
	closeMu sync.RWMutex
	closed  bool
}

type writeJob struct {
	ctx  context.Context
	fn   func(edge.Tx) error
	errc chan error
}

var errClosed = errors.New("store closed")

// maxBatch caps how many writes share one commit.
const maxBatch = 256

func newWriter(ctx context.Context, db *sql.DB, path, synchronous string, restartFrames int64) (*writer, error) {
	conn, err := db.Conn(ctx)
	if err != nil {
		return nil, fmt.Errorf("writer connection: %w", err)
	}
	w := &writer{conn: conn, jobs: make(chan *writeJob, maxBatch), done: make(chan struct{})}
	if w.ckpt, err = newCheckpointer(path, synchronous, &w.pause, restartFrames); err != nil {
		conn.Close()
		return nil, fmt.Errorf("checkpointer: %w", err)
	}
	go w.loop()
	return w, nil
}

var jobPool = sync.Pool{New: func() any { return &writeJob{errc: make(chan error, 1)} }}

func (w *writer) do(ctx context.Context, fn func(edge.Tx) error) error {
	w.closeMu.RLock()
	if w.closed {
		w.closeMu.RUnlock()
		return errClosed
	}
	j := jobPool.Get().(*writeJob)
	j.ctx, j.fn = ctx, fn
	select {
	case w.jobs <- j:
		w.closeMu.RUnlock()
	case <-ctx.Done():
		w.closeMu.RUnlock()
		return ctx.Err()
	}
	// Once queued, the job is always answered: even if ctx ends, the writer
	// may already have committed it, and the caller must not guess.
	err := <-j.errc
	j.ctx, j.fn = nil, nil
	jobPool.Put(j)
	return err
}

func (w *writer) close() error {
	w.closeMu.Lock()
	if !w.closed {
		w.closed = true
		close(w.jobs)
	}
	w.closeMu.Unlock()
	<-w.done
	cerr := w.ckpt.close()
	_ = withDriver(w.conn, &w.d, func(c *dconn) error {
		c.closeStmts()
		return nil
	})
	return errors.Join(cerr, w.conn.Close())
}

func (w *writer) loop() {
	defer close(w.done)
	batch := make([]*writeJob, 0, maxBatch)
	errs := make([]error, maxBatch)
	for first := range w.jobs {
		batch = append(batch[:0], first)
	drain:
		for len(batch) < maxBatch {
			select {
			case j, ok := <-w.jobs:
				if !ok {
					break drain
				}
				batch = append(batch, j)
			default:
				break drain
			}
		}
		w.pause.Lock()
		err := withDriver(w.conn, &w.d, func(c *dconn) error {
			w.run(c, batch, errs[:len(batch)])
			return nil
		})
		if err != nil {
			fill(errs[:len(batch)], fmt.Errorf("writer connection: %w", err))
		}
		w.pause.Unlock()
		w.commits.Add(1)
		w.writes.Add(uint64(len(batch)))
		for i, j := range batch {
			j.errc <- errs[i]
		}
	}
}

// run applies a batch in one transaction, filling errs per job.
func (w *writer) run(c *dconn, batch []*writeJob, errs []error) {
	if err := c.ctl("BEGIN IMMEDIATE"); err != nil {
		fill(errs, fmt.Errorf("begin: %w", err))
		return
	}
	single := len(batch) == 1
	for i, j := range batch {
		if err := j.ctx.Err(); err != nil {
			errs[i] = err
			continue
		}
		if !single {
			if err := c.ctl("SAVEPOINT job"); err != nil {
				w.abort(c, errs, fmt.Errorf("savepoint: %w", err))
				return
			}
		}
		errs[i] = w.call(c, j)
		if errs[i] != nil && !single {
			if err := c.ctl("ROLLBACK TO job"); err != nil {
				w.abort(c, errs, fmt.Errorf("rollback to savepoint: %w", err))
				return
			}
		}
		if !single {
			if err := c.ctl("RELEASE job"); err != nil {
				w.abort(c, errs, fmt.Errorf("release savepoint: %w", err))
				return
			}
		}
	}
	if single && errs[0] != nil {
		// A lone failed request needs no savepoint: roll the whole thing back.
		w.abort(c, nil, nil)
		return
	}
	if err := c.ctl("COMMIT"); err != nil {
		w.abort(c, errs, fmt.Errorf("commit: %w", err))
		return
	}
	w.ckpt.poke()
}

// call runs one job's function, turning a panic into an error so one bad
// request cannot take the writer (and every till) down.
func (w *writer) call(c *dconn, j *writeJob) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("panic in write: %v", r)
		}
	}()
	// Statements run to the end once the job has started: its caller waits
	// for the commit anyway, and a cancel watcher per statement costs more
	// than the statement.
	return j.fn(&txn{ctx: context.WithoutCancel(j.ctx), c: c})
}

// abort rolls the transaction back and, when errs is given, fails every job
// of the batch with err: none of them was committed.
func (w *writer) abort(c *dconn, errs []error, err error) {
	_ = c.ctl("ROLLBACK")
	if errs != nil {
		fill(errs, err)
	}
}

func fill(errs []error, err error) {
	for i := range errs {
		errs[i] = err
	}
}

// CommitStats reports how many transactions the writer has run and how many
// writes they held: writes/commits is the average group-commit batch.
func (db *DB) CommitStats() (commits, writes uint64) {
	return db.w.commits.Load(), db.w.writes.Load()
}
