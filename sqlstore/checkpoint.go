package sqlstore

import (
	"context"
	"database/sql"
	"sync"
	"time"
)

// checkpointer copies the WAL back into the database file on a connection of
// its own, so the writer does not do it inside a commit. SQLite's automatic
// checkpoint (every 1,000 WAL pages) runs in the COMMIT that crosses the
// mark: that request, and every request queued behind the single writer,
// would wait for the copy and the fsync of the database file, which takes
// tens of milliseconds on a busy disk. Here the writer only kicks the
// checkpointer after a commit; a PASSIVE checkpoint runs alongside the next
// commits and the readers, at most every minCheckpointGap.
//
// A checkpoint alongside a busy writer never finishes the WAL (frames arrive
// while it copies), and SQLite starts the WAL over only once a checkpoint
// has copied all of it, so under a steady stream of writes the file would
// grow without end. When the WAL holds restartFrames frames, the
// checkpointer catches up with the writer (more PASSIVE checkpoints, each
// with less to copy) and then holds the writer between two batches (pause)
// for one last, short one: the WAL is then fully copied, and the next
// commit starts it from the beginning. And when no commit has come for
// idleAfter, the WAL is emptied (TRUNCATE), the writer held meanwhile.
type checkpointer struct {
	db            *sql.DB
	pause         *sync.Mutex // the writer holds it while it runs a batch
	restartFrames int64
	kick          chan struct{}
	stop          chan struct{}
	done          chan struct{}
}

const (
	minCheckpointGap = 100 * time.Millisecond
	restartFrames    = 16384 // 64 MiB of 4 KiB pages: the WAL's bound under steady writes
	catchUpFrames    = 256   // few enough to copy with the writer held
	idleAfter        = 500 * time.Millisecond
)

func newCheckpointer(path, synchronous string, pause *sync.Mutex, restartAt int64) (*checkpointer, error) {
	db, err := sql.Open("sqlite", dsn(path, "synchronous("+synchronous+")"))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	if restartAt <= 0 {
		restartAt = restartFrames
	}
	c := &checkpointer{db: db, pause: pause, restartFrames: restartAt,
		kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	go c.loop()
	return c, nil
}

// poke is called after each commit; it never blocks.
func (c *checkpointer) poke() {
	select {
	case c.kick <- struct{}{}:
	default:
	}
}

func (c *checkpointer) loop() {
	defer close(c.done)
	var idle <-chan time.Time // set while the WAL holds frames
	for {
		select {
		case <-c.stop:
			return
		case <-c.kick:
			// A failed checkpoint (busy, I/O) is retried after a later
			// commit; the WAL keeps every change meanwhile.
			if frames, _, err := c.checkpoint(); err == nil && frames >= c.restartFrames {
				c.finish()
			}
			idle = time.After(idleAfter)
			select {
			case <-c.stop:
				return
			case <-time.After(minCheckpointGap):
			}
		case <-idle:
			// No commit for a while: empty the WAL, so that reads find
			// every page in the (mapped) database file.
			idle = nil
			c.pause.Lock()
			_, _ = c.db.ExecContext(context.Background(), "PRAGMA wal_checkpoint(TRUNCATE)")
			c.pause.Unlock()
		}
	}
}

// checkpoint runs one PASSIVE checkpoint: frames is the WAL's length when it
// started, copied how many of them are in the database file now.
func (c *checkpointer) checkpoint() (frames, copied int64, err error) {
	var busy int64
	err = c.db.QueryRowContext(context.Background(), "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied)
	return frames, copied, err
}

// finish copies the whole WAL into the database file so that the next
// commit starts the WAL over (see checkpointer).
func (c *checkpointer) finish() {
	for range 3 {
		before, _, err := c.checkpoint()
		if err != nil {
			return
		}
		frames, copied, err := c.checkpoint()
		if err != nil {
			return
		}
		if frames-before < catchUpFrames && copied == frames {
			break // the writer adds less than catchUpFrames per checkpoint
		}
	}
	c.pause.Lock()
	defer c.pause.Unlock()
	_, _, _ = c.checkpoint()
}

func (c *checkpointer) close() error {
	close(c.stop)
	<-c.done
	return c.db.Close()
}
