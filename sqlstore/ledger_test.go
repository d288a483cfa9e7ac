package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"crmedge/edge"
)

// An entry imported twice is stored once: the second import reports false,
// changes nothing, and fires no insert trigger (the balance and the
// locations count it once).
func TestImportLedgerEntryOnce(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "import.db"))
	cust, now := "650000000000000000000001", time.UnixMilli(1_700_000_000_000)
	entry := func(score int64, pos string) *edge.LedgerEntry {
		return &edge.LedgerEntry{ID: "6a0000000000000000000001", CustomerID: cust, Type: 1, Score: score, Status: 1,
			Confirmed: true, ItemCode: "P", PosID: pos, Origin: "upstream", CreatedAt: now}
	}
	err := db.Write(ctx, func(tx edge.Tx) error {
		if err := tx.InsertCustomer(&edge.Customer{ID: cust, CreatedAt: now, UpdatedAt: now}); err != nil {
			return err
		}
		first := entry(50, "shop-1")
		if added, err := tx.ImportLedgerEntry(first); err != nil || !added || first.Seq == 0 {
			t.Errorf("first import: added %v, seq %d, %v", added, first.Seq, err)
		}
		again := entry(70, "shop-2")
		if added, err := tx.ImportLedgerEntry(again); err != nil || added || again.Seq != 0 {
			t.Errorf("second import: added %v, seq %d, %v", added, again.Seq, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	err = db.Read(ctx, func(tx edge.Tx) error {
		b, err := tx.Balance(cust)
		if err != nil {
			return err
		}
		if b.Points != 50 {
			t.Errorf("balance %d, want 50", b.Points)
		}
		e, err := tx.LedgerEntry("6a0000000000000000000001")
		if err != nil {
			return err
		}
		if e == nil || e.Score != 50 || e.PosID != "shop-1" {
			t.Errorf("entry %+v, want the first import's", e)
		}
		for pos, want := range map[string]bool{"shop-1": true, "shop-2": false} {
			seen, err := tx.CustomerSeenAt(cust, []string{pos})
			if err != nil {
				return err
			}
			if seen != want {
				t.Errorf("seen at %s: %v, want %v", pos, seen, want)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
