package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/sqlstore"
)

// A file larger than sqlstore.SyncCheckLimit is checked while serving (a
// full check would hold start-up for seconds); damage found then stops serve
// with the message a refusal at start-up gives.
func TestServeStopsWhenTheBackgroundCheckFindsDamage(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	path := filepath.Join(dir, "crmedge.db")
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, path, sqlstore.Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	// One outbox event with a body bigger than the limit: a large file, fast.
	body := bytes.Repeat([]byte("0123456789abcdef"), (sqlstore.SyncCheckLimit+(4<<20))/16)
	err = db.Write(ctx, func(tx edge.Tx) error {
		return tx.AppendEvent(&edge.Event{ID: "6c0000000000000000000001", Stream: "s", Kind: "member.create",
			Call: edge.Call{Method: "POST", Path: "/customers_location", Body: body}, CreatedAt: time.Now()})
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	fi, _ := f.Stat()
	if fi.Size() <= sqlstore.SyncCheckLimit {
		t.Fatalf("the file is %d bytes, not over the limit", fi.Size())
	}
	// Break the chain of the event's overflow pages half-way.
	if _, err := f.WriteAt(bytes.Repeat([]byte{0xA5, 0x5A, 0x00, 0xFF}, 1024), fi.Size()/2/4096*4096); err != nil {
		t.Fatal(err)
	}
	f.Close()

	p := startServe(t, dir) // serving starts before the check ends
	select {
	case <-p.done:
	case <-time.After(60 * time.Second):
		t.Fatal("serve did not stop on the damaged file")
	}
	if p.err == nil {
		t.Errorf("serve exited 0 on a damaged file")
	}
	for _, want := range []string{"damaged", "restore a backup"} {
		if !strings.Contains(p.Stderr(), want) {
			t.Errorf("serve on a damaged file says %q, want it to mention %q", p.Stderr(), want)
		}
	}
}
