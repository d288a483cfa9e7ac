// Package sqlstore implements edge.Store on SQLite (modernc.org/sqlite, pure
// Go). All of crmedge's SQL lives here.
//
// Layout: one writer connection, driven by a single goroutine that
// group-commits concurrent writes (see writer.go), beside a pool of read-only
// connections. The database is in WAL mode so readers never block the writer,
// with foreign keys on, a busy timeout for other processes (the CLI) and
// synchronous=FULL: a shop's machine loses power, and an acknowledged write
// must survive that.
package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"net/url"
	"os"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"crmedge/edge"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"
)

// Options tune a DB. The zero value is the durable default.
type Options struct {
	// Synchronous is the SQLite synchronous level: "FULL" (default) or
	// "NORMAL" (survives a crash of crmedge, not of the machine).
	Synchronous string

	walRestartFrames int64 // tests: see checkpointer (0: restartFrames)
}

// mmapSize is how much of the file the writer and the read pool's
// connections map into memory (not the spare's: a check reading every page
// would map the whole file). Mapped pages are the OS page cache itself: a
// lookup reads them without a system call or a copy. They count in the
// process's resident memory (RssFile) once touched, but are not its heap:
// the kernel reclaims them like any cached file data.
const mmapSize = 1 << 30

// DB is an open crmedge database.
type DB struct {
	path    string
	read    *sql.DB        // read-only connections: the pool's, the tokens version's, and one spare (Ping, QuickCheck)
	rpool   chan *readConn // the read pool; nil entries are opened on first use
	write   *sql.DB
	w       *writer
	tokens  tokenCache
	version versionConn // where the tokens version is read (tokencache.go)

	closeOnce sync.Once
	closed    atomic.Bool
	closeErr  error
}

// readConn is one read-only connection of the pool with the statements
// prepared on it, so a read neither prepares nor re-binds a statement.
type readConn struct {
	conn *sql.Conn
	d    *dconn
}

var _ edge.Store = (*DB)(nil)

// dsn is the connection string of the database file at path. Each entry of
// params is a pragma the driver runs on every new connection
// ("journal_mode(WAL)"), or, when it has an '=', a URI parameter for SQLite
// itself ("mode=ro"). Every connection has foreign keys on and a busy
// timeout of 10 s, unless params set another. The path is escaped: a '?',
// '#' or '%' in it is part of the file's name.
func dsn(path string, params ...string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	busy := false
	for _, p := range params {
		if k, v, ok := strings.Cut(p, "="); ok {
			q.Add(k, v)
			continue
		}
		busy = busy || strings.HasPrefix(p, "busy_timeout(")
		q.Add("_pragma", p)
	}
	if !busy {
		q.Add("_pragma", "busy_timeout(10000)")
	}
	// "file:///abs" rather than "file:/abs": a path starting with "//"
	// would otherwise be read as an authority.
	prefix := "file:"
	if strings.HasPrefix(path, "/") {
		prefix = "file://"
	}
	return prefix + uriPath.Replace(path) + "?" + q.Encode()
}

var uriPath = strings.NewReplacer("%", "%25", "?", "%3F", "#", "%23")

// writePragmas are the pragmas of a connection that writes: the database is
// in WAL mode, and commits are as durable as synchronous says.
func writePragmas(synchronous string, more ...string) []string {
	return append([]string{"journal_mode(WAL)", "synchronous(" + synchronous + ")"}, more...)
}

// Open opens (creating if needed) and migrates the database at path.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	if opts.Synchronous != "FULL" && opts.Synchronous != "NORMAL" {
		return nil, fmt.Errorf("open %s: synchronous must be FULL or NORMAL", path)
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open %s: is a directory", path)
	}
	// The writer maps the file too (its reads of index pages are then no
	// system calls), and leaves checkpoints to the checkpointer. Its page
	// cache holds what a batch changes (a few pages per write; 1,024 pages
	// before SQLite spills to the WAL ahead of the commit), not more: at the
	// end of every transaction SQLite walks the whole cache's hash table
	// (pcache1TruncateUnsafe), so a 16 MiB cache cost ~6 µs per write.
	write, err := sql.Open("sqlite", dsn(path, writePragmas(opts.Synchronous,
		fmt.Sprintf("mmap_size(%d)", mmapSize), "wal_autocheckpoint(0)", "cache_size(-4096)")...))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	write.SetMaxOpenConns(1)
	write.SetMaxIdleConns(1)
	write.SetConnMaxLifetime(0)
	if err := write.PingContext(ctx); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, describe(err))
	}
	if err := migrateUp(write); err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read, err := sql.Open("sqlite", dsn(path, "query_only(1)"))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	pool := max(4, 2*runtime.NumCPU()) // read connections
	read.SetMaxOpenConns(pool + 2)
	read.SetMaxIdleConns(pool + 2)
	read.SetConnMaxLifetime(0)
	db := &DB{path: path, read: read, write: write, rpool: make(chan *readConn, pool)}
	for range pool {
		db.rpool <- nil
	}
	db.w, err = newWriter(ctx, write, path, opts.Synchronous, opts.walRestartFrames)
	if err != nil {
		read.Close()
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	return db, nil
}

// Close stops the writer after the writes already queued and closes the
// connections; the WAL is checkpointed by SQLite on the last close.
func (db *DB) Close() error {
	db.closeOnce.Do(func() {
		werr := db.w.close()
		db.closed.Store(true)
		for range cap(db.rpool) {
			if rc := <-db.rpool; rc != nil {
				rc.close()
			}
		}
		for range cap(db.rpool) {
			db.rpool <- nil // a late reader gets errClosed instead of waiting
		}
		db.version.close()
		rerr := db.read.Close()
		db.closeErr = errors.Join(werr, rerr, db.write.Close())
	})
	return db.closeErr
}

// Path is the database file.
func (db *DB) Path() string { return db.path }

// Ping checks that the database answers a query.
func (db *DB) Ping(ctx context.Context) error {
	var one int
	if err := db.read.QueryRowContext(ctx, "SELECT 1").Scan(&one); err != nil {
		return fmt.Errorf("ping: %w", describe(err))
	}
	return nil
}

// Read runs fn in a read transaction (a consistent snapshot) on a connection
// of the read pool. The statements run under a context that is not canceled:
// a read is a few index lookups, and a watcher per statement would cost more
// than the lookups.
func (db *DB) Read(ctx context.Context, fn func(edge.Tx) error) error {
	rc, err := db.acquire(ctx)
	if err != nil {
		return err
	}
	released := false
	defer func() {
		// fn ended the goroutine (runtime.Goexit, e.g. t.Fatal in a test)
		// with the connection inside its transaction: drop the connection
		// rather than leave the pool one short.
		if !released {
			db.release(rc, errReadAbandoned)
		}
	}()
	bg := context.WithoutCancel(ctx)
	var fnErr, ctlErr error
	var panicked any
	err = withDriver(rc.conn, &rc.d, func(c *dconn) error {
		if err := c.ctl("BEGIN"); err != nil {
			ctlErr = fmt.Errorf("begin read: %w", err)
			return nil
		}
		func() {
			// A panic in fn (recovered by the HTTP layer) must not leave the
			// connection inside its transaction: it is ended first.
			defer func() { panicked = recover() }()
			fnErr = fn(&txn{ctx: bg, c: c})
		}()
		if err := c.ctl("ROLLBACK"); err != nil {
			ctlErr = fmt.Errorf("end read: %w", err)
		}
		return nil
	})
	if err != nil {
		ctlErr = err
	}
	db.release(rc, ctlErr)
	released = true
	if panicked != nil {
		panic(panicked)
	}
	if ctlErr != nil && fnErr == nil {
		return describe(ctlErr)
	}
	return describe(fnErr)
}

// acquire takes a connection from the read pool, opening it on first use.
func (db *DB) acquire(ctx context.Context) (*readConn, error) {
	var rc *readConn
	select {
	case rc = <-db.rpool:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	if db.closed.Load() {
		db.rpool <- rc
		return nil, errClosed
	}
	if rc == nil {
		var err error
		if rc, err = db.openReadConn(ctx); err != nil {
			db.rpool <- nil
			return nil, fmt.Errorf("read: %w", describe(err))
		}
	}
	return rc, nil
}

// release gives a connection back; after a failed transaction-control
// statement its state is unknown, so it is closed and reopened next time.
// errReadAbandoned releases a read connection whose transaction was not ended.
var errReadAbandoned = errors.New("read abandoned")

func (db *DB) release(rc *readConn, ctlErr error) {
	if ctlErr != nil {
		rc.close()
		rc = nil
	}
	db.rpool <- rc
}

func (db *DB) openReadConn(ctx context.Context) (*readConn, error) {
	conn, err := db.read.Conn(ctx)
	if err != nil {
		return nil, err
	}
	rc := &readConn{conn: conn}
	if _, err := conn.ExecContext(ctx, fmt.Sprintf("PRAGMA mmap_size = %d", mmapSize)); err != nil {
		rc.close()
		return nil, err
	}
	return rc, nil
}

func (rc *readConn) close() {
	_ = withDriver(rc.conn, &rc.d, func(c *dconn) error {
		c.closeStmts()
		return nil
	})
	rc.conn.Close()
}

// Write runs fn on the single writer; see writer.go.
func (db *DB) Write(ctx context.Context, fn func(edge.Tx) error) error {
	return describe(db.w.do(ctx, fn))
}

// describe turns storage conditions an operator can fix into domain errors
// (503 in every dialect) and leaves others as they are.
func describe(err error) error {
	if err == nil {
		return nil
	}
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return err
	}
	switch se.Code() & 0xff {
	case sqlite3.SQLITE_FULL:
		return &edge.Error{Code: edge.EUNAVAILABLE, Reason: "disk_full", Message: "The edge's disk is full; free space and retry"}
	case sqlite3.SQLITE_READONLY:
		return &edge.Error{Code: edge.EUNAVAILABLE, Reason: "read_only", Message: "The edge's database is read-only; check the file's permissions"}
	case sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED:
		return &edge.Error{Code: edge.EUNAVAILABLE, Reason: "busy", Message: "The edge's database is busy; retry"}
	case sqlite3.SQLITE_IOERR:
		return &edge.Error{Code: edge.EUNAVAILABLE, Reason: "io_error", Message: "The edge could not write to its disk; retry"}
	case sqlite3.SQLITE_CORRUPT, sqlite3.SQLITE_NOTADB:
		return &edge.Error{Code: edge.EUNAVAILABLE, Reason: "corrupt", Message: "The edge's database file is damaged; restore a backup"}
	}
	return err
}

// Backup writes a consistent copy of the live database to path with VACUUM
// INTO: it reads one snapshot, so serving goes on meanwhile.
func (db *DB) Backup(ctx context.Context, path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("backup: %s already exists", path)
	}
	// A connection of its own: the writer's is busy with the single writer.
	src, err := sql.Open("sqlite", dsn(db.path))
	if err != nil {
		return fmt.Errorf("backup: %w", err)
	}
	defer src.Close()
	if _, err := src.ExecContext(ctx, `VACUUM INTO ?`, path); err != nil {
		return fmt.Errorf("backup to %s: %w", path, describe(err))
	}
	return nil
}

// SyncCheckLimit is the largest file StartupCheck checks before serving.
const SyncCheckLimit = 64 << 20

// StartupCheck checks the file for damage (QuickCheck) so that a damaged
// file is refused instead of served, and damaged further. quick_check reads
// every page: about 0.1 s for a file up to SyncCheckLimit, which is checked
// at once; a larger file would hold start-up for seconds, so its check runs
// in the background while serving, and its verdict (nil: sound) arrives on
// the returned channel, for the caller to stop serving on damage.
func (db *DB) StartupCheck(ctx context.Context) (<-chan error, error) {
	later := make(chan error, 1)
	if db.Size() <= SyncCheckLimit {
		if err := db.QuickCheck(ctx); err != nil {
			return nil, err
		}
		later <- nil
		return later, nil
	}
	go func() {
		err := db.QuickCheck(ctx)
		if ctx.Err() != nil {
			err = nil // stopped before it could tell: no verdict
		}
		later <- err
	}()
	return later, nil
}

// QuickCheck runs PRAGMA quick_check: a damaged file is refused at start-up
// with a clear message instead of being served (and damaged further).
func (db *DB) QuickCheck(ctx context.Context) error {
	problems, err := integrityCheck(ctx, db.read, "quick_check")
	if err != nil {
		return fmt.Errorf("%s: %w", db.path, err)
	}
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = problems[:5]
		}
		return fmt.Errorf("%s is damaged (PRAGMA quick_check: %v): restore a backup", db.path, problems)
	}
	return nil
}

// EdgeID returns this database's edge id, minting it on first use. It is sent
// upstream as X-Edge-Id.
func (db *DB) EdgeID(ctx context.Context) (string, error) {
	var id string
	err := db.Write(ctx, func(tx edge.Tx) error {
		var err error
		if id, err = tx.Meta("edge_id"); err != nil || id != "" {
			return err
		}
		id = edge.NewIDGenerator(time.Now).NewID()
		return tx.SetMeta("edge_id", id)
	})
	return id, err
}

// Size is the bytes of the database file and its WAL.
func (db *DB) Size() int64 {
	var n int64
	for _, p := range []string{db.path, db.path + "-wal"} {
		if fi, err := os.Stat(p); err == nil {
			n += fi.Size()
		}
	}
	return n
}
