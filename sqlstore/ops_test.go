package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"testing"

	"crmedge/edge"
	"crmedge/sqlstore"
)

// TestBackupCheckAndRestore runs in a plain directory and in one whose name
// holds characters that mean something in a connection string ('?', '#',
// '%'; Windows allows no '?' in a name).
func TestBackupCheckAndRestore(t *testing.T) {
	odd := "odd #1?x=y%41 dir"
	if runtime.GOOS == "windows" {
		odd = "odd #1 x=y%41 dir"
	}
	for _, name := range []string{"plain", odd} {
		t.Run(name, func(t *testing.T) {
			dir := filepath.Join(t.TempDir(), name)
			if err := os.Mkdir(dir, 0o700); err != nil {
				t.Fatal(err)
			}
			testBackupCheckAndRestore(t, dir)
			// Nothing was created beside it, under a name cut at the '?' or '#'.
			if entries, _ := os.ReadDir(filepath.Dir(dir)); len(entries) != 1 {
				t.Errorf("%d entries beside %s, want none", len(entries)-1, dir)
			}
		})
	}
}

func testBackupCheckAndRestore(t *testing.T, dir string) {
	ctx := context.Background()
	live := filepath.Join(dir, "crmedge.db")
	db, err := sqlstore.Open(ctx, live, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	svc := edge.NewService(edge.Config{Store: db})
	if _, err := svc.CreateToken(ctx, "one", nil, false); err != nil {
		t.Fatal(err)
	}
	backup := filepath.Join(dir, "backup.db")
	if err := db.Backup(ctx, backup); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateToken(ctx, "two", nil, false); err != nil {
		t.Fatal(err)
	}
	rep, err := sqlstore.CheckFile(ctx, backup)
	if err != nil || len(rep.Problems) > 0 || rep.Version == 0 || rep.Counts["tokens"] != 1 {
		t.Fatalf("check backup: %+v %v", rep, err)
	}
	if c, err := db.RowCounts(ctx); err != nil || c["tokens"] != 2 {
		t.Fatalf("live counts: %v %v", c, err)
	}

	// While the database is open, restore refuses; a live file with its WAL
	// is not a backup.
	if _, err := sqlstore.Restore(ctx, backup, live); !errors.Is(err, sqlstore.ErrInUse) {
		t.Errorf("restore over an open database: %v, want ErrInUse", err)
	}
	if _, err := sqlstore.Restore(ctx, live, filepath.Join(dir, "other.db")); err == nil || !strings.Contains(err.Error(), "write-ahead log") {
		t.Errorf("restore from a live database: %v", err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	kept, err := sqlstore.Restore(ctx, backup, live)
	if err != nil {
		t.Fatal(err)
	}
	if rep, err := sqlstore.CheckFile(ctx, kept); err != nil || rep.Counts["tokens"] != 2 {
		t.Errorf("the replaced database was not kept whole: %+v %v", rep, err)
	}
	for _, suffix := range []string{"-wal", "-shm"} {
		if _, err := os.Stat(live + suffix); err == nil {
			t.Errorf("%s left after restore", suffix)
		}
	}
	db, err = sqlstore.Open(ctx, live, sqlstore.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if c, err := db.RowCounts(ctx); err != nil || c["tokens"] != 1 {
		t.Errorf("restored counts: %v %v", c, err)
	}
	if problems, err := db.IntegrityCheck(ctx); err != nil || len(problems) > 0 {
		t.Errorf("integrity after restore: %v %v", problems, err)
	}

	// A damaged backup is refused before anything is touched.
	bad := filepath.Join(dir, "bad.db")
	b, _ := os.ReadFile(backup)
	copy(b[4096*3:], strings.Repeat("\xa5", 4096))
	if err := os.WriteFile(bad, b, 0o600); err != nil {
		t.Fatal(err)
	}
	before, _ := os.Stat(live)
	if _, err := sqlstore.Restore(ctx, bad, live); err == nil || !strings.Contains(err.Error(), "damaged") {
		t.Errorf("restore from a damaged backup: %v", err)
	}
	if after, _ := os.Stat(live); !after.ModTime().Equal(before.ModTime()) {
		t.Errorf("the database was touched by a refused restore")
	}
}
