package sqlstore

// Operations on a database file as a whole: integrity checks, row counts,
// restore, and the knobs tests use to make the writer fail the way a full or
// read-only disk does.

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"crmedge/edge"
)

// countedTables are the tables RowCounts reports, in a stable order.
var countedTables = []string{
	"customers", "customer_phones", "customer_emails", "memberships",
	"customer_types", "customer_type_links", "products", "gifts", "codes",
	"ledger", "balances", "outbox", "idempotency_keys", "tokens",
}

// CountedTables lists the tables RowCounts reports, in order.
func CountedTables() []string { return append([]string(nil), countedTables...) }

// RowCounts counts the rows of crmedge's tables in one read snapshot.
func (db *DB) RowCounts(ctx context.Context) (map[string]int64, error) {
	return rowCounts(ctx, db.read)
}

func rowCounts(ctx context.Context, db *sql.DB) (map[string]int64, error) {
	out := make(map[string]int64, len(countedTables))
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return nil, fmt.Errorf("row counts: %w", describe(err))
	}
	defer tx.Rollback() //nolint:errcheck // read-only
	for _, t := range countedTables {
		var n int64
		// The table names are the constants above, never input.
		if err := tx.QueryRowContext(ctx, `SELECT COUNT(*) FROM `+t).Scan(&n); err != nil {
			return nil, fmt.Errorf("count %s: %w", t, describe(err))
		}
		out[t] = n
	}
	return out, nil
}

// IntegrityCheck runs PRAGMA integrity_check (slower and more thorough than
// the quick_check done at start-up) and returns its complaints; none means
// the file is sound.
func (db *DB) IntegrityCheck(ctx context.Context) ([]string, error) {
	return integrityCheck(ctx, db.read, "integrity_check")
}

func integrityCheck(ctx context.Context, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}, pragma string) ([]string, error) {
	rows, err := q.QueryContext(ctx, `PRAGMA `+pragma)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", pragma, describe(err))
	}
	var problems []string
	for rows.Next() {
		var line string
		if err := rows.Scan(&line); err != nil {
			rows.Close()
			return nil, fmt.Errorf("%s: %w", pragma, describe(err))
		}
		if line != "ok" {
			problems = append(problems, line)
		}
	}
	if err := closeRows(rows); err != nil {
		return nil, fmt.Errorf("%s: %w", pragma, describe(err))
	}
	return problems, nil
}

// SetMaxPageCount caps the database at n pages (PRAGMA max_page_count on the
// writer). SQLite never lowers the cap below the current size, so a small n
// makes the file full as it is: tests use it to see what tills get from a
// full disk, and raise it again to see the edge recover. It returns the cap
// in effect.
func (db *DB) SetMaxPageCount(ctx context.Context, n int64) (int64, error) {
	var got int64
	// Integers only: a pragma takes no bound parameters.
	if err := db.w.conn.QueryRowContext(ctx, fmt.Sprintf(`PRAGMA max_page_count = %d`, n)).Scan(&got); err != nil {
		return 0, fmt.Errorf("max_page_count: %w", err)
	}
	return got, nil
}

// SetQueryOnly makes the writer refuse every change (PRAGMA query_only), as
// a file on a disk remounted read-only does: writes answer 503 while reads
// go on. Tests use it; off restores writing.
func (db *DB) SetQueryOnly(ctx context.Context, on bool) error {
	v := 0
	if on {
		v = 1
	}
	if _, err := db.w.conn.ExecContext(ctx, fmt.Sprintf(`PRAGMA query_only = %d`, v)); err != nil {
		return fmt.Errorf("query_only: %w", err)
	}
	return nil
}

// FileReport is what CheckFile found.
type FileReport struct {
	Version  uint             // schema version
	Problems []string         // integrity_check complaints; none: sound
	Counts   map[string]int64 // rows per table (nil when they could not be read)
}

// CheckFile opens the database at path read-only, without migrating or
// changing it, and reports its schema version, integrity_check complaints and
// row counts.
func CheckFile(ctx context.Context, path string) (*FileReport, error) {
	if _, err := os.Stat(path); err != nil {
		return nil, err
	}
	ro, err := sql.Open("sqlite", dsn(path, "mode=ro"))
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", path, err)
	}
	defer ro.Close()
	ro.SetMaxOpenConns(1)
	rep := &FileReport{}
	if rep.Problems, err = integrityCheck(ctx, ro, "integrity_check"); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var dirty bool
	var v int64
	err = ro.QueryRowContext(ctx, `SELECT version, dirty FROM schema_migrations LIMIT 1`).Scan(&v, &dirty)
	if err != nil {
		return nil, fmt.Errorf("%s has no crmedge schema version: %w", path, describe(err))
	}
	rep.Version = uint(v)
	if dirty {
		rep.Problems = append(rep.Problems, fmt.Sprintf("schema version %d is dirty (a migration failed half-way)", v))
	}
	if counts, err := rowCounts(ctx, ro); err == nil {
		rep.Counts = counts
	} else if len(rep.Problems) == 0 {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return rep, nil
}

// ForceSchemaVersion records version v in the database at path without
// running any migration. Tests use it to fake a database written by a newer
// crmedge; it is not a repair tool.
func ForceSchemaVersion(path string, v uint) error {
	db, err := sql.Open("sqlite", dsn(path))
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	if _, err := db.Exec(`UPDATE schema_migrations SET version = ?, dirty = 0`, v); err != nil {
		return fmt.Errorf("force schema version: %w", err)
	}
	return nil
}

// ErrInUse means the database is open in another process (crmedge serve).
var ErrInUse = errors.New("the database is in use: stop crmedge serve (and any other crmedge command) first")

// Restore replaces the database at path with the backup at from. The backup
// must pass integrity_check and carry a schema this crmedge knows; the
// database must not be open anywhere (a running serve is refused with
// ErrInUse). The replaced file is kept beside it, renamed
// PATH.before-restore-TIMESTAMP, which Restore returns ("" when there was
// none). The restored file is migrated to this crmedge's schema on next open.
func Restore(ctx context.Context, from, path string) (kept string, err error) {
	if fi, err := os.Stat(from + "-wal"); err == nil && fi.Size() > 0 {
		// Part of that database is in its WAL, which a file copy would lose.
		return "", fmt.Errorf("%s has a write-ahead log (%s-wal) beside it: it is a live database, not a backup; make one with crmedge backup --db %s --to FILE", from, from, from)
	}
	rep, err := CheckFile(ctx, from)
	if err != nil {
		return "", fmt.Errorf("backup %w", err)
	}
	v, problems := rep.Version, rep.Problems
	if len(problems) > 0 {
		if len(problems) > 5 {
			problems = problems[:5]
		}
		return "", fmt.Errorf("backup %s is damaged (integrity_check: %v)", from, problems)
	}
	latest, err := latestVersion()
	if err != nil {
		return "", err
	}
	if v > latest {
		return "", fmt.Errorf("backup %s is at schema version %d, newer than this crmedge (%d): use a newer crmedge", from, v, latest)
	}
	if same, _ := sameFile(from, path); same {
		return "", fmt.Errorf("the backup and --db are the same file")
	}
	if _, err := os.Stat(path); err == nil {
		if err := quiesce(ctx, path); err != nil {
			return "", err
		}
		kept = path + ".before-restore-" + time.Now().UTC().Format("20060102T150405Z")
		if err := os.Rename(path, kept); err != nil {
			return "", fmt.Errorf("keep the current database: %w", err)
		}
		// A WAL left by a damaged file belongs with it.
		if err := os.Rename(path+"-wal", kept+"-wal"); err != nil && !errors.Is(err, os.ErrNotExist) {
			return kept, fmt.Errorf("keep the current database's WAL: %w", err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return "", err
	}
	for _, suffix := range []string{"-wal", "-shm", "-journal"} {
		if err := os.Remove(path + suffix); err != nil && !errors.Is(err, os.ErrNotExist) {
			return kept, fmt.Errorf("remove %s%s: %w", path, suffix, err)
		}
	}
	if err := copyFileSync(from, path); err != nil {
		return kept, err
	}
	return kept, nil
}

// quiesce makes sure nothing has path open and folds its WAL into the main
// file: leaving WAL mode needs the only connection, so a running serve makes
// it fail at once.
func quiesce(ctx context.Context, path string) error {
	db, err := sql.Open("sqlite", dsn(path, "busy_timeout(200)"))
	if err != nil {
		return fmt.Errorf("open %s: %w", path, err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	var mode string
	if err := db.QueryRowContext(ctx, `PRAGMA journal_mode = DELETE`).Scan(&mode); err != nil {
		var de *edge.Error
		if errors.As(describe(err), &de) && de.Reason == "busy" {
			return ErrInUse
		}
		// A damaged current file is what a restore is for: it is kept aside as is.
		return nil //nolint:nilerr // see above
	}
	if mode != "delete" {
		return ErrInUse
	}
	return nil
}

func sameFile(a, b string) (bool, error) {
	fa, err := os.Stat(a)
	if err != nil {
		return false, err
	}
	fb, err := os.Stat(b)
	if err != nil {
		return false, err
	}
	return os.SameFile(fa, fb), nil
}

// copyFileSync copies from to path through a temporary file in path's
// directory, synced and renamed into place, so path is never half-written.
func copyFileSync(from, path string) error {
	src, err := os.Open(from)
	if err != nil {
		return err
	}
	defer src.Close()
	tmp, err := os.CreateTemp(filepath.Dir(path), filepath.Base(path)+".restoring-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) //nolint:errcheck // gone after the rename
	if _, err := io.Copy(tmp, src); err != nil {
		tmp.Close()
		return fmt.Errorf("copy %s: %w", from, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync: %w", err)
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("move the restored file into place: %w", err)
	}
	if dir, err := os.Open(filepath.Dir(path)); err == nil {
		_ = dir.Sync()
		dir.Close()
	}
	return nil
}
