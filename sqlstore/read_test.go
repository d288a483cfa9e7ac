package sqlstore

import (
	"context"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"crmedge/edge"
)

// TestReadSurvivesGoexit: a read whose callback ends its goroutine (as
// t.Fatal does) gives its connection back to the pool (closed), so later
// reads do not wait for a connection that never returns.
func TestReadSurvivesGoexit(t *testing.T) {
	t.Parallel()
	db := openTest(t, filepath.Join(t.TempDir(), "read.db"))
	for range 2*cap(db.rpool) + 1 {
		done := make(chan struct{})
		go func() {
			defer close(done)
			_ = db.Read(context.Background(), func(edge.Tx) error {
				runtime.Goexit()
				return nil
			})
		}()
		<-done
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := db.Read(ctx, func(tx edge.Tx) error {
		_, err := tx.SyncCounts()
		return err
	}); err != nil {
		t.Fatalf("read after abandoned reads: %v", err)
	}
}
