package edge_test

import (
	"context"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"crmedge/sqlstore"
)

// A migrated, empty database, made once per test process: each harness
// starts from a fresh copy of it (PocketBase-style fixtures) instead of
// migrating a new file, which under -race costs ~0.2 s per scenario.
var (
	templateOnce sync.Once
	templateDB   []byte
	templateErr  error
)

// freshDBFile writes a copy of the migrated template into t's temp dir.
func freshDBFile(t testing.TB) string {
	t.Helper()
	templateOnce.Do(func() {
		dir, err := os.MkdirTemp("", "crmedge-template")
		if err != nil {
			templateErr = err
			return
		}
		defer os.RemoveAll(dir)
		path := filepath.Join(dir, "template.db")
		db, err := sqlstore.Open(context.Background(), path, sqlstore.Options{})
		if err != nil {
			templateErr = err
			return
		}
		if templateErr = db.Close(); templateErr != nil {
			return
		}
		templateDB, templateErr = os.ReadFile(path) // the last close checkpointed the WAL
	})
	if templateErr != nil {
		t.Fatalf("template database: %v", templateErr)
	}
	path := filepath.Join(t.TempDir(), "crmedge.db")
	if err := os.WriteFile(path, templateDB, 0o600); err != nil {
		t.Fatalf("copy template database: %v", err)
	}
	return path
}
