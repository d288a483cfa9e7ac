package sqlstore

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"crmedge/migrations"
)

// FixtureSpec describes a generated store of realistic size for benchmarks:
// customers (each with one phone, one email and a membership at PosID),
// products, gifts, accumulation codes (half of them already spent by the
// ledger) and ledger entries. Everything is derived from the row number, so a
// benchmark can name any customer's phone or any unused code without asking
// the database.
type FixtureSpec struct {
	Customers    int    // customers, ≥ 2
	Codes        int    // accumulation codes
	Ledger       int    // ledger entries in all
	HeavyEntries int    // of which this many belong to customer 0 (a long history)
	Products     int    // products P01…, worth 10, 20, … points
	Gifts        int    // gifts G01…, costing 10, 20, … points
	PosID        string // the location every customer is a member of
}

// BenchFixture is the store `make bench` runs against: 100,000 customers,
// 1,000,000 codes and 1,000,000 ledger entries, 10,000 of them on one customer.
var BenchFixture = FixtureSpec{Customers: 100_000, Codes: 1_000_000, Ledger: 1_000_000, HeavyEntries: 10_000,
	Products: 10, Gifts: 5, PosID: "shop-1"}

// fixtureVersion changes whenever the generated data changes shape, so cached
// fixture files of an older shape are not reused.
const fixtureVersion = 1

// RichPoints is the balance customer 1 starts with: enough for any number of
// redeems a benchmark can send.
const RichPoints = 1_000_000_000

// Phone is customer i's phone in national form, as a till sends it.
func (s FixtureSpec) Phone(i int) string { return fmt.Sprintf("090%07d", i) }

// Code is accumulation code i.
func (s FixtureSpec) Code(i int) string { return fmt.Sprintf("CODE%010d", i) }

// UsedCodes is how many codes (0 … UsedCodes-1) the ledger has already spent;
// codes from UsedCodes on are free to accumulate.
func (s FixtureSpec) UsedCodes() int { return min(s.Codes/2, s.Ledger-s.HeavyEntries) }

// GiftCode is gift i (0-based); gift 0 costs 10 points.
func (s FixtureSpec) GiftCode(i int) string { return fmt.Sprintf("G%02d", i+1) }

// Key names a generated file: it changes with the spec, the fixture's shape
// and the schema (the embedded migrations).
func (s FixtureSpec) Key() string {
	h := sha256.New()
	fmt.Fprintf(h, "%d %+v\n", fixtureVersion, s)
	_ = fs.WalkDir(migrations.FS, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := fs.ReadFile(migrations.FS, p)
		h.Write([]byte(p))
		h.Write(b)
		return err
	})
	return hex.EncodeToString(h.Sum(nil))[:16]
}

func (s FixtureSpec) validate() error {
	switch {
	case s.Customers < 2 || s.Customers > 10_000_000:
		return errors.New("fixture: Customers must be 2…10,000,000")
	case s.Products < 1 || s.Gifts < 1 || s.Products > 99 || s.Gifts > 99:
		return errors.New("fixture: Products and Gifts must be 1…99")
	case s.HeavyEntries < 0 || s.HeavyEntries > s.Ledger || s.Codes < 0:
		return errors.New("fixture: need 0 ≤ HeavyEntries ≤ Ledger and Codes ≥ 0")
	case s.PosID == "":
		return errors.New("fixture: PosID is required")
	}
	return nil
}

// CachedFixture returns the path of a generated store for spec under dir,
// generating it first when no file of this spec's Key is there. The file is
// shared: copy it (CopyDB) before writing to it.
func CachedFixture(ctx context.Context, dir string, spec FixtureSpec) (string, error) {
	path := filepath.Join(dir, "crmedge-fixture-"+spec.Key()+".db")
	if _, err := os.Stat(path); err == nil {
		return path, nil
	}
	tmp := fmt.Sprintf("%s.%d.tmp", path, os.Getpid())
	defer os.Remove(tmp)
	if err := GenerateFixture(ctx, tmp, spec); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, path); err != nil {
		return "", fmt.Errorf("fixture: %w", err)
	}
	return path, nil
}

// GenerateFixture creates a new database at path (which must not exist) and
// fills it as spec says. The rows are produced by SQLite itself (recursive
// CTEs, in key order, one transaction per table, no journal), so a million
// rows take seconds; the file ends in WAL mode, as crmedge keeps it.
func GenerateFixture(ctx context.Context, path string, spec FixtureSpec) error {
	if err := spec.validate(); err != nil {
		return err
	}
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("fixture: %s already exists", path)
	}
	db, err := Open(ctx, path, Options{})
	if err != nil {
		return err
	}
	if err := db.Close(); err != nil {
		return err
	}
	raw, err := sql.Open("sqlite", dsn(path, "journal_mode(OFF)", "synchronous(OFF)", "cache_size(-262144)",
		"temp_store(MEMORY)", "locking_mode(EXCLUSIVE)"))
	if err != nil {
		return fmt.Errorf("fixture: %w", err)
	}
	defer raw.Close()
	raw.SetMaxOpenConns(1)
	created := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	heavy, rest := spec.HeavyEntries, spec.Ledger-spec.HeavyEntries
	perCustomer := max(1, (rest+spec.Customers-2)/(spec.Customers-1)) // customers 1… share the rest
	// Numbers are formatted into the SQL; the location is a bound parameter.
	steps := []struct {
		what, sql string
		args      []any
	}{
		{"products", fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %d)
			INSERT INTO products (code, id, name, score)
			SELECT printf('P%%02d', i+1), printf('6700000000000000%%08x', i), 'Product ' || (i+1), 10*(i+1) FROM n`, spec.Products), nil},
		{"gifts", fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %d)
			INSERT INTO gifts (code, id, name, score)
			SELECT printf('G%%02d', i+1), printf('6800000000000000%%08x', i), 'Gift ' || (i+1), 10*(i+1) FROM n`, spec.Gifts), nil},
		{"customers", fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %[1]d)
			INSERT INTO customers (id, customer_no, name, gender, birth_year, birth_month, birth_day, attrs, created_at, updated_at)
			SELECT printf('6500000000000000%%08x', i), i+1, 'Customer ' || i, CASE i %% 3 WHEN 0 THEN 'male' WHEN 1 THEN 'female' ELSE '' END,
				1950 + i %% 55, 1 + i %% 12, 1 + i %% 28,
				json_object('address', (i %% 300) || ' Tran Hung Dao', 'home_town', 'Ha Noi'),
				%[2]d + i * 1000, %[2]d + i * 1000 FROM n`, spec.Customers, created), nil},
		{"phones", fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %d)
			INSERT INTO customer_phones (e164, customer_id, position, id, type)
			SELECT printf('+8490%%07d', i), printf('6500000000000000%%08x', i), 0, printf('6600000000000000%%08x', i), 'mobile' FROM n`, spec.Customers), nil},
		{"emails", fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %d)
			INSERT INTO customer_emails (email, customer_id, position, id, type, address)
			SELECT 'customer' || i || '@example.com', printf('6500000000000000%%08x', i), 0, printf('6900000000000000%%08x', i), 'home',
				'customer' || i || '@example.com' FROM n ORDER BY 1`, spec.Customers), nil},
		{"memberships", fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %[1]d)
			INSERT INTO memberships (pos_id, customer_id, created_at, updated_at)
			SELECT ?, printf('6500000000000000%%08x', i), %[2]d + i * 1000, %[2]d + i * 1000 FROM n`, spec.Customers, created), []any{spec.PosID}},
		{"codes", fmt.Sprintf(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i+1 < %[1]d)
			INSERT INTO codes (code, product_code, serial, used_by)
			SELECT printf('CODE%%010d', i), printf('P%%02d', 1 + i %% %[2]d), printf('S%%010d', i),
				CASE WHEN i < %[3]d THEN printf('6a00000000000000%%08x', %[4]d + i) END FROM n`,
			max(spec.Codes, 1), spec.Products, spec.UsedCodes(), heavy), nil},
		// Ledger entry j: the first `heavy` belong to customer 0, then
		// customers 1… get perCustomer each, in time order; every fifth is a
		// redeem of gift 1. Entry heavy+k spends code k while codes last.
		{"ledger", fmt.Sprintf(`WITH RECURSIVE n(j) AS (SELECT 0 UNION ALL SELECT j+1 FROM n WHERE j+1 < %[1]d),
			e AS (SELECT j,
				CASE WHEN j < %[2]d THEN 0 ELSE 1 + (j - %[2]d) / %[3]d END AS c,
				CASE WHEN j %% 5 = 4 THEN 2 ELSE 1 END AS type,
				1 + j %% %[4]d AS p FROM n)
			INSERT INTO ledger (seq, id, customer_id, type, score, status, confirmed, item_code, item_name, item_id, item_score,
				code, serial, org, pos_id, token_name, origin, created_at)
			SELECT j + 1, printf('6a00000000000000%%08x', j), printf('6500000000000000%%08x', min(c, %[5]d)), type,
				CASE type WHEN 1 THEN 10 * p ELSE 10 END, 1, 1,
				CASE type WHEN 1 THEN printf('P%%02d', p) ELSE 'G01' END,
				CASE type WHEN 1 THEN 'Product ' || p ELSE 'Gift 1' END,
				CASE type WHEN 1 THEN printf('6700000000000000%%08x', p - 1) ELSE '680000000000000000000000' END,
				CASE type WHEN 1 THEN 0 ELSE 10 END,
				CASE WHEN type = 1 AND j >= %[2]d AND j - %[2]d < %[6]d THEN printf('CODE%%010d', j - %[2]d) ELSE '' END,
				CASE WHEN type = 1 AND j >= %[2]d AND j - %[2]d < %[6]d THEN printf('S%%010d', j - %[2]d) ELSE '' END,
				'62c10674cbe832bc9245a5b8', ?, 'fixture', 'local', %[7]d + j * 60000
			FROM e`, spec.Ledger, heavy, perCustomer, spec.Products, spec.Customers-1, spec.UsedCodes(), created), []any{spec.PosID}},
		{"rich customer", fmt.Sprintf(`INSERT INTO ledger (id, customer_id, type, score, status, confirmed, item_code, item_name,
				org, pos_id, origin, created_at)
			VALUES ('6b0000000000000000000000', '650000000000000000000001', 1, %d, 1, 1, 'P01', 'Opening balance',
				'62c10674cbe832bc9245a5b8', ?, 'upstream', %d)`, RichPoints, created), []any{spec.PosID}},
		{"checkpoint", `PRAGMA journal_mode=WAL`, nil},
	}
	for _, st := range steps {
		if err := execTx(ctx, raw, st.sql, st.args...); err != nil {
			return fmt.Errorf("fixture %s: %w", st.what, err)
		}
	}
	return nil
}

func execTx(ctx context.Context, db *sql.DB, q string, args ...any) error {
	if strings.HasPrefix(q, "PRAGMA") {
		_, err := db.ExecContext(ctx, q)
		return err
	}
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	if _, err := tx.ExecContext(ctx, q, args...); err != nil {
		tx.Rollback() //nolint:errcheck // the exec error is the one to report
		return err
	}
	return tx.Commit()
}

// CopyDB copies a closed database file (and its WAL, if any) to a new path,
// for a benchmark that writes to a shared fixture. The copy is synced before
// it returns: otherwise the kernel writes back half a gigabyte of it while
// the timed requests run, and their fsyncs queue behind it.
func CopyDB(from, to string) error {
	for _, suffix := range []string{"", "-wal"} {
		src, err := os.Open(from + suffix)
		if errors.Is(err, os.ErrNotExist) && suffix != "" {
			continue
		}
		if err != nil {
			return fmt.Errorf("copy db: %w", err)
		}
		dst, err := os.OpenFile(to+suffix, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			src.Close()
			return fmt.Errorf("copy db: %w", err)
		}
		_, err = dst.ReadFrom(src)
		src.Close()
		if err == nil {
			err = dst.Sync()
		}
		if cerr := dst.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			return fmt.Errorf("copy db: %w", err)
		}
	}
	return nil
}

// CommitFloor measures raw SQLite, not crmedge: single-row INSERTs, each its
// own transaction, from one goroutine on a fresh WAL-mode file in dir, with
// the given synchronous level ("FULL": every commit is fsynced), for about d.
// It returns commits per second: the rate a store without group commit
// cannot beat.
func CommitFloor(ctx context.Context, dir, synchronous string, d time.Duration) (float64, error) {
	f, err := os.CreateTemp(dir, "crmedge-floor-*.db")
	if err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	path := f.Name()
	f.Close()
	defer func() {
		for _, s := range []string{"", "-wal", "-shm"} {
			os.Remove(path + s)
		}
	}()
	db, err := sql.Open("sqlite", dsn(path, writePragmas(synchronous)...))
	if err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	if _, err := db.ExecContext(ctx, `CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT NOT NULL)`); err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	ins, err := db.PrepareContext(ctx, `INSERT INTO t (v) VALUES (?)`)
	if err != nil {
		return 0, fmt.Errorf("floor: %w", err)
	}
	defer ins.Close()
	n, start := 0, time.Now()
	for time.Since(start) < d {
		if _, err := ins.ExecContext(ctx, "a row of about the size of a ledger entry's text: 0123456789abcdef"); err != nil {
			return 0, fmt.Errorf("floor: %w", err)
		}
		n++
	}
	return float64(n) / time.Since(start).Seconds(), nil
}
