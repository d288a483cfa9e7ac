package sqlstore_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"crmedge/edge"
	"crmedge/sqlstore"
)

func TestBackupCheckAndRestore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
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
