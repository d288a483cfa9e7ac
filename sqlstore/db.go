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
	"sync"
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
	// ReadConns is the size of the read pool (default: 2 × CPUs, at least 4).
	ReadConns int
	// MaxBatch caps how many writes share one commit (default 256).
	MaxBatch int
	// NoMigrate skips migrating to the latest schema at open.
	NoMigrate bool
}

// DB is an open crmedge database.
type DB struct {
	path   string
	read   *sql.DB
	write  *sql.DB
	w      *writer
	rstmts sync.Map // query → *sql.Stmt prepared on the read pool
}

var _ edge.Store = (*DB)(nil)

func dsn(path string, extra ...string) string {
	q := url.Values{}
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "busy_timeout(10000)")
	for _, e := range extra {
		q.Add("_pragma", e)
	}
	return "file:" + path + "?" + q.Encode()
}

// Open opens (creating if needed) and migrates the database at path.
func Open(ctx context.Context, path string, opts Options) (*DB, error) {
	if opts.Synchronous == "" {
		opts.Synchronous = "FULL"
	}
	if opts.Synchronous != "FULL" && opts.Synchronous != "NORMAL" {
		return nil, fmt.Errorf("open %s: synchronous must be FULL or NORMAL", path)
	}
	if opts.ReadConns <= 0 {
		opts.ReadConns = max(4, 2*runtime.NumCPU())
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = 256
	}
	if fi, err := os.Stat(path); err == nil && fi.IsDir() {
		return nil, fmt.Errorf("open %s: is a directory", path)
	}
	write, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)", "synchronous("+opts.Synchronous+")"))
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
	if !opts.NoMigrate {
		if err := migrateUp(write); err != nil {
			write.Close()
			return nil, fmt.Errorf("open %s: %w", path, err)
		}
	}
	read, err := sql.Open("sqlite", dsn(path, "query_only(1)"))
	if err != nil {
		write.Close()
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	read.SetMaxOpenConns(opts.ReadConns)
	read.SetMaxIdleConns(opts.ReadConns)
	read.SetConnMaxLifetime(0)
	db := &DB{path: path, read: read, write: write}
	db.w, err = newWriter(ctx, write, opts.MaxBatch)
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
	werr := db.w.close()
	db.rstmts.Range(func(_, v any) bool {
		v.(*sql.Stmt).Close()
		return true
	})
	rerr := db.read.Close()
	return errors.Join(werr, rerr, db.write.Close())
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

// Read runs fn in a read transaction on the read pool (a consistent snapshot).
func (db *DB) Read(ctx context.Context, fn func(edge.Tx) error) error {
	tx, err := db.read.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("begin read: %w", describe(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only: nothing to keep
	t := &txn{ctx: ctx, stmt: func(q string) (*sql.Stmt, error) {
		s, err := db.readStmt(ctx, q)
		if err != nil {
			return nil, err
		}
		return tx.StmtContext(ctx, s), nil
	}}
	return describe(fn(t))
}

func (db *DB) readStmt(ctx context.Context, q string) (*sql.Stmt, error) {
	if s, ok := db.rstmts.Load(q); ok {
		return s.(*sql.Stmt), nil
	}
	s, err := db.read.PrepareContext(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	if prev, loaded := db.rstmts.LoadOrStore(q, s); loaded {
		s.Close()
		return prev.(*sql.Stmt), nil
	}
	return s, nil
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
