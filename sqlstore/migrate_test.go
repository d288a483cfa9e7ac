package sqlstore

import (
	"context"
	"database/sql"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"crmedge/edge"
)

// TestMigration2UpgradesAndDowngrades: a database written at schema 1
// (ledger entries at two locations) is upgraded by Open to schema 2, where
// the locations a customer was seen at, balances and history pages are what
// schema 1 gave; new entries keep ledger_locations whole; and `migrate down`
// brings back schema 1's indexes.
func TestMigration2UpgradesAndDowngrades(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "v1.db")
	raw, err := sql.Open("sqlite", dsn(path, "journal_mode(WAL)"))
	if err != nil {
		t.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	m, err := newMigrate(raw)
	if err != nil {
		t.Fatal(err)
	}
	if err := m.Migrate(1); err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		`INSERT INTO customers (id, customer_no, created_at, updated_at) VALUES ('650000000000000000000001', 1, 1, 1), ('650000000000000000000002', 2, 1, 1)`,
		`INSERT INTO ledger (id, customer_id, type, score, status, item_code, pos_id, created_at) VALUES
			('6a0000000000000000000001', '650000000000000000000001', 1, 50, 1, 'P', 'shop-1', 1000),
			('6a0000000000000000000002', '650000000000000000000001', 2, 20, 1, 'G', 'shop-2', 2000),
			('6a0000000000000000000003', '650000000000000000000001', 1, 10, 1, 'P', 'shop-1', 3000),
			('6a0000000000000000000004', '650000000000000000000002', 1, 10, 1, 'P', '', 3000)`,
	} {
		if _, err := raw.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	raw.Close()

	db, err := Open(ctx, path, Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	c1, c2 := "650000000000000000000001", "650000000000000000000002"
	check := func(when string) {
		t.Helper()
		err := db.Read(ctx, func(tx edge.Tx) error {
			for _, c := range []struct {
				customer string
				pos      []string
				want     bool
			}{
				{c1, []string{"shop-1"}, true}, {c1, []string{"shop-2"}, true}, {c1, []string{"shop-3"}, false},
				{c2, []string{"shop-1", "shop-2"}, false}, {c2, []string{"shop-9"}, when == "after a new entry"},
			} {
				seen, err := tx.CustomerSeenAt(c.customer, c.pos)
				if err != nil {
					return err
				}
				if seen != c.want {
					t.Errorf("%s: customer %s seen at %v = %v, want %v", when, c.customer[20:], c.pos, seen, c.want)
				}
			}
			b, err := tx.Balance(c1)
			if err != nil {
				return err
			}
			if b.Points != 40 {
				t.Errorf("%s: balance %d, want 40", when, b.Points)
			}
			for _, f := range []struct {
				filter edge.HistoryFilter
				want   []string
			}{
				{edge.HistoryFilter{CustomerID: c1, Limit: 20}, []string{"3", "2", "1"}},
				{edge.HistoryFilter{CustomerID: c1, Limit: 1, Offset: 1}, []string{"2"}},
				{edge.HistoryFilter{CustomerID: c1, Limit: 20, From: time.UnixMilli(1500), To: time.UnixMilli(3000)}, []string{"3", "2"}},
				{edge.HistoryFilter{CustomerID: c1, Type: 1, Limit: 20}, []string{"3", "1"}},
			} {
				es, err := tx.History(f.filter)
				if err != nil {
					return err
				}
				var got []string
				for _, e := range es {
					got = append(got, e.ID[23:])
				}
				if !slices.Equal(got, f.want) {
					t.Errorf("%s: history %+v: %v, want %v", when, f.filter, got, f.want)
				}
			}
			return nil
		})
		if err != nil {
			t.Fatalf("%s: %v", when, err)
		}
	}
	check("after the upgrade")
	err = db.Write(ctx, func(tx edge.Tx) error {
		return tx.InsertLedgerEntry(&edge.LedgerEntry{ID: "6a0000000000000000000005", CustomerID: c2, Type: 1, Score: 1,
			Status: 1, ItemCode: "P", PosID: "shop-9", CreatedAt: time.UnixMilli(4000)})
	})
	if err != nil {
		t.Fatal(err)
	}
	check("after a new entry")
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}

	if v, _, err := Migrate(path, "down"); err != nil || v != 2 {
		t.Fatalf("migrate down (3 to 2): version %d, %v", v, err)
	}
	if v, _, err := Migrate(path, "down"); err != nil || v != 1 {
		t.Fatalf("migrate down (2 to 1): version %d, %v", v, err)
	}
	raw, err = sql.Open("sqlite", dsn(path))
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	if err := raw.QueryRow(`SELECT COUNT(*) FROM sqlite_master WHERE name IN ('ledger_history', 'ledger_pos')
		OR name = 'ledger_locations'`).Scan(&n); err != nil || n != 2 {
		t.Errorf("after migrate down: %d of ledger_history, ledger_pos (and no ledger_locations), %v", n, err)
	}
	if v, _, err := Migrate(path, "up"); err != nil || v != 3 {
		t.Errorf("migrate up again: version %d, %v", v, err)
	}
}
