package sqlstore

import (
	"context"
	"database/sql"
	"time"
)

// checkpointer copies the WAL back into the database file on a connection of
// its own, so the writer never does it inside a commit. SQLite's automatic
// checkpoint (every 1,000 WAL pages) runs in the COMMIT that crosses the
// mark: that request, and every request queued behind the single writer,
// would wait for the copy and its fsync. Here the writer only kicks the
// checkpointer after a commit; a PASSIVE checkpoint runs alongside the next
// commits and readers, at most every minCheckpointGap.
type checkpointer struct {
	db   *sql.DB
	kick chan struct{}
	stop chan struct{}
	done chan struct{}
}

const minCheckpointGap = 100 * time.Millisecond

func newCheckpointer(path, synchronous string) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, "synchronous("+synchronous+")"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	c := &checkpointer{db: db, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

// kicked after each commit; never blocks.
func (c *checkpointer) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
		}
		// A failed checkpoint (busy, I/O) is retried after the next commit;
		// the WAL keeps every change meanwhile.
		_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)")
		select {
		case <-c.stop:
			return
		case <-time.After(minCheckpointGap):
		}
	}
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
