package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"crmedge/edge"
)

// explain returns the EXPLAIN QUERY PLAN lines of q.
func explain(t *testing.T, db *DB, q string, args ...any) []string {
	t.Helper()
	rows, err := db.read.QueryContext(context.Background(), "EXPLAIN QUERY PLAN "+q, args...)
	if err != nil {
		t.Fatalf("explain %s: %v", q, err)
	}
	defer rows.Close()
	var plan []string
	for rows.Next() {
		var id, parent, notused int
		var detail string
		if err := rows.Scan(&id, &parent, &notused, &detail); err != nil {
			t.Fatal(err)
		}
		plan = append(plan, detail)
	}
	return plan
}

// TestQueryPlans checks that the loyalty hot paths are index searches: a
// history page, code, product and gift lookups, spending a code and reading
// a balance never scan a table nor sort in a temporary B-tree, with or
// without ANALYZE statistics.
func TestQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(t.TempDir(), "plan.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	// Two customers, one with 2,000 entries, and 5,000 codes.
	now := time.UnixMilli(1_700_000_000_000)
	err = db.Write(ctx, func(tx edge.Tx) error {
		for i, id := range []string{"6b0000000000000000000001", "6b0000000000000000000002"} {
			if err := tx.InsertCustomer(&edge.Customer{ID: id, CreatedAt: now, UpdatedAt: now}); err != nil {
				return err
			}
			for j := range 2000 / (1 + 9*i) {
				e := edge.LedgerEntry{ID: fmt.Sprintf("6c%02d%020d", i, j), CustomerID: id, Type: 1 + j%2, Score: 1,
					Status: 1, ItemCode: "P", CreatedAt: now.Add(time.Duration(j) * time.Millisecond)}
				if err := tx.InsertLedgerEntry(&e); err != nil {
					return err
				}
			}
		}
		b := &edge.CatalogBatch{Products: []edge.Product{{ID: "6d0000000000000000000001", Code: "P", Name: "P", Score: 1}}}
		for i := range 5000 {
			b.Codes = append(b.Codes, edge.AccumulationCode{Code: fmt.Sprintf("C%06d", i), ProductCode: "P"})
		}
		return tx.UpsertCatalog(b, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
	from, to := now.Add(10*time.Millisecond), now.Add(500*time.Millisecond)
	cust := "6b0000000000000000000001"
	type query struct {
		name  string
		sql   string
		args  []any
		index string // the index (or key) the plan must name
	}
	var queries []query
	for _, f := range []edge.HistoryFilter{
		{CustomerID: cust, Limit: 20},
		{CustomerID: cust, Limit: 20, Offset: 1980},
		{CustomerID: cust, Type: 1, Limit: 20},
		{CustomerID: cust, From: from, Limit: 20},
		{CustomerID: cust, To: to, Limit: 20},
		{CustomerID: cust, From: from, To: to, Limit: 20, Offset: 20},
		{CustomerID: cust, Type: 2, From: from, To: to, Limit: 20},
	} {
		q, args := historyQuery(f)
		// Both types: a merge of the two types' walks of the index alone
		// (no table row read for the entries an offset skips).
		index := "ledger_history_type"
		if f.Type == 0 {
			index = "COVERING INDEX ledger_history_type"
		}
		queries = append(queries, query{fmt.Sprintf("history type=%d from=%v to=%v offset=%d", f.Type, !f.From.IsZero(), !f.To.IsZero(), f.Offset), q, args, index})
	}
	queries = append(queries,
		query{"code", codeQuery, []any{"C000042"}, "PRIMARY KEY"},
		query{"spend code", spendCodeQuery, []any{"6c", "C000042"}, "PRIMARY KEY"},
		query{"product", productQuery, []any{"P"}, "sqlite_autoindex_products_1"},
		query{"gift", giftQuery, []any{"G"}, "sqlite_autoindex_gifts_1"},
		query{"balance", balanceQuery, []any{cust}, "PRIMARY KEY"},
		query{"last delivered", lastDeliveredQuery, nil, "outbox_delivered"},
		query{"prune delivered", pruneQuery, []any{int64(1000), 1000}, "outbox_delivered"},
	)
	for _, stats := range []string{"without statistics", "after ANALYZE"} {
		if stats == "after ANALYZE" {
			if err := db.Write(ctx, func(tx edge.Tx) error {
				_, err := tx.(*txn).exec("ANALYZE")
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		for _, q := range queries {
			plan := explain(t, db, q.sql, q.args...)
			text := strings.Join(plan, "; ")
			// A page of both types is one page of rows, merged from two
			// walks of the index (co-routine "page"), then read by rowid.
			rest := strings.ReplaceAll(text, "SCAN page", "")
			if strings.Contains(rest, "SCAN") || strings.Contains(text, "TEMP B-TREE") || !strings.Contains(text, q.index) {
				t.Errorf("%s, %s: plan %q, want a search of %s without scan or sort", stats, q.name, text, q.index)
			}
		}
	}
}
