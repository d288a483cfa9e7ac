package sqlstore

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crmedge/edge"
)

func openTest(t *testing.T, path string) *DB {
	t.Helper()
	db, err := Open(context.Background(), path, Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// Concurrent writes share commits; a failing one rolls back alone, and each
// is answered with its own outcome.
func TestGroupCommitIsolatesFailures(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "w.db"))
	const n = 200
	errBad := errors.New("refused")
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			errs[i] = db.Write(ctx, func(tx edge.Tx) error {
				if err := tx.SetMeta(fmt.Sprintf("k%03d", i), "v"); err != nil {
					return err
				}
				if i%3 == 0 {
					return errBad // after a change: it must be undone
				}
				return nil
			})
		})
	}
	wg.Wait()
	err := db.Read(ctx, func(tx edge.Tx) error {
		for i := range n {
			v, err := tx.Meta(fmt.Sprintf("k%03d", i))
			if err != nil {
				return err
			}
			failed := i%3 == 0
			if errors.Is(errs[i], errBad) != failed {
				t.Errorf("write %d answered %v", i, errs[i])
			}
			if (v == "v") == failed {
				t.Errorf("write %d: value %q after answer %v", i, v, errs[i])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A panic in one write is that write's error; the writer goes on.
func TestWriterSurvivesAPanic(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "p.db"))
	err := db.Write(ctx, func(tx edge.Tx) error { panic("boom") })
	if err == nil || !strings.Contains(err.Error(), "boom") {
		t.Fatalf("panicking write: %v", err)
	}
	if err := db.Write(ctx, func(tx edge.Tx) error { return tx.SetMeta("after", "1") }); err != nil {
		t.Fatalf("write after a panic: %v", err)
	}
	// A panic inside a read gives its connection back, out of its transaction.
	for range 2 * cap(db.rpool) {
		func() {
			defer func() { _ = recover() }()
			_ = db.Read(ctx, func(tx edge.Tx) error { panic("read boom") })
		}()
	}
	var v string
	if err := db.Read(ctx, func(tx edge.Tx) error { v, err = tx.Meta("after"); return err }); err != nil || v != "1" {
		t.Fatalf("read after panics: %q %v", v, err)
	}
}

// The token cache serves repeated lookups, and a token revoked or created
// through another handle on the file (as the CLI does, from its own process)
// counts from the next lookup.
func TestTokenCacheSeesChangesFromOtherProcesses(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "t.db")
	serve, cli := openTest(t, path), openTest(t, path)
	now := time.UnixMilli(1_700_000_000_000)
	insert := func(db *DB, name, hash string) {
		t.Helper()
		if err := db.Write(ctx, func(tx edge.Tx) error {
			return tx.InsertToken(&edge.Token{Name: name, Hash: hash, PosIDs: []string{"shop-1"}, CreatedAt: now})
		}); err != nil {
			t.Fatal(err)
		}
	}
	insert(serve, "till", "h1")
	for range 3 {
		tk, err := serve.TokenByHash(ctx, "h1")
		if err != nil || tk == nil || tk.Name != "till" || !tk.RevokedAt.IsZero() || len(tk.PosIDs) != 1 {
			t.Fatalf("token: %+v %v", tk, err)
		}
		tk.PosIDs[0] = "changed by the caller" // must not reach the cache
	}
	if tk, _ := serve.TokenByHash(ctx, "h1"); tk.PosIDs[0] != "shop-1" {
		t.Fatalf("the cache was changed through a returned token: %v", tk.PosIDs)
	}
	if err := cli.Write(ctx, func(tx edge.Tx) error {
		n, err := tx.RevokeToken("till", now)
		if n != 1 {
			t.Errorf("revoked %d", n)
		}
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if tk, err := serve.TokenByHash(ctx, "h1"); err != nil || tk == nil || tk.RevokedAt.IsZero() {
		t.Fatalf("after a revoke by another handle: %+v %v", tk, err)
	}
	if tk, err := serve.TokenByHash(ctx, "h2"); err != nil || tk != nil {
		t.Fatalf("unknown token: %+v %v", tk, err)
	}
	insert(cli, "kiosk", "h2")
	if tk, err := serve.TokenByHash(ctx, "h2"); err != nil || tk == nil || tk.Name != "kiosk" {
		t.Fatalf("after a create by another handle: %+v %v", tk, err)
	}
}

// GenerateFixture makes what its spec says, consistently: the phones and
// codes the spec names are there, balances match the ledger, the free codes
// are free; CachedFixture reuses the file.
func TestGenerateFixture(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	spec := FixtureSpec{Customers: 50, Codes: 400, Ledger: 600, HeavyEntries: 100, Products: 3, Gifts: 2, PosID: "shop '1'"} // a quote: the location is bound, not spliced
	path, err := CachedFixture(ctx, dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	if again, err := CachedFixture(ctx, dir, spec); err != nil || again != path {
		t.Fatalf("second CachedFixture: %s %v, want %s", again, err, path)
	}
	copyPath := filepath.Join(dir, "copy.db")
	if err := CopyDB(path, copyPath); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, copyPath)
	err = db.Read(ctx, func(tx edge.Tx) error {
		for _, i := range []int{0, 1, spec.Customers - 1} {
			id, err := tx.CustomerIDByPhone("+84" + spec.Phone(i)[1:])
			if err != nil || id == "" {
				return fmt.Errorf("customer %d by phone: %q %v", i, id, err)
			}
			byEmail, err := tx.CustomerIDByEmail(spec.Email(i))
			if err != nil || byEmail != id {
				return fmt.Errorf("customer %d by email: %q %v", i, byEmail, err)
			}
			if ok, err := tx.IsMember(spec.PosID, id); err != nil || !ok {
				return fmt.Errorf("customer %d not a member: %v", i, err)
			}
			c, err := tx.Customer(id)
			if err != nil || c == nil || len(c.Phones) != 1 || len(c.Emails) != 1 {
				return fmt.Errorf("customer %d: %+v %v", i, c, err)
			}
		}
		heavy, _ := tx.CustomerIDByPhone("+84" + spec.Phone(0)[1:])
		page, err := tx.History(edge.HistoryFilter{CustomerID: heavy, Limit: 1000})
		if err != nil || len(page) != spec.HeavyEntries {
			return fmt.Errorf("heavy customer has %d entries (%v), want %d", len(page), err, spec.HeavyEntries)
		}
		for _, i := range []int{0, spec.UsedCodes() - 1, spec.UsedCodes(), spec.Codes - 1} {
			c, err := tx.AccumulationCode(spec.Code(i))
			if err != nil || c == nil || (c.UsedBy != "") != (i < spec.UsedCodes()) {
				return fmt.Errorf("code %d: %+v %v", i, c, err)
			}
		}
		if g, err := tx.Gift(spec.GiftCode(0)); err != nil || g == nil || g.Score != 10 {
			return fmt.Errorf("gift: %+v %v", g, err)
		}
		if p, err := tx.Product(spec.ProductCode(2)); err != nil || p == nil || p.Score != 30 {
			return fmt.Errorf("product: %+v %v", p, err)
		}
		rich, _ := tx.CustomerIDByPhone("+84" + spec.Phone(1)[1:])
		if b, err := tx.Balance(rich); err != nil || b.Points < RichPoints {
			return fmt.Errorf("rich customer's balance: %+v %v", b, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Balances equal the ledger's sums, customer by customer.
	var mismatched, entries int
	if err := db.Read(ctx, func(tx edge.Tx) error {
		_, err := tx.(*txn).row(`SELECT
		(SELECT COUNT(*) FROM (SELECT customer_id, SUM(CASE type WHEN 1 THEN score ELSE -score END) AS s
			FROM ledger WHERE status = 1 GROUP BY customer_id) l
			LEFT JOIN balances b USING (customer_id) WHERE b.points IS NOT l.s),
		(SELECT COUNT(*) FROM ledger)`, nil, &mismatched, &entries)
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if mismatched != 0 || entries != spec.Ledger+1 {
		t.Fatalf("%d balances differ from the ledger; %d entries, want %d", mismatched, entries, spec.Ledger+1)
	}
}

// Under a steady stream of writes the WAL is started over (see
// checkpointer) instead of growing with every commit.
func TestWALStaysBoundedUnderSteadyWrites(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	db, err := Open(ctx, path, Options{Synchronous: "NORMAL", walRestartFrames: 64})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	value := strings.Repeat("x", 3000) // about a page per write
	var wg sync.WaitGroup
	var writes atomic.Int64
	deadline := time.Now().Add(1500 * time.Millisecond)
	for g := range 4 {
		wg.Go(func() {
			for i := 0; time.Now().Before(deadline); i++ {
				if err := db.Write(ctx, func(tx edge.Tx) error { return tx.SetMeta(fmt.Sprintf("k%d-%d", g, i), value) }); err != nil {
					t.Error(err)
					return
				}
				writes.Add(1)
			}
		})
	}
	wg.Wait()
	var busy, frames, copied int64
	if err := db.w.conn.QueryRowContext(ctx, "PRAGMA wal_checkpoint(PASSIVE)").Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	// Never started over, the WAL would hold a frame or more per write.
	if n := writes.Load(); frames > n/2 {
		t.Errorf("the WAL holds %d frames after %d one-page writes over 1.5 s: it was not started over", frames, n)
	}
}

// Once writes stop, the WAL is emptied: reads then find every page in the
// database file.
func TestWALEmptiedWhenIdle(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "idle.db")
	db := openTest(t, path)
	for i := range 20 {
		if err := db.Write(ctx, func(tx edge.Tx) error { return tx.SetMeta(fmt.Sprint(i), "v") }); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		if fi.Size() == 0 {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("the WAL is still %d bytes 5 s after the writes stopped", fi.Size())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
