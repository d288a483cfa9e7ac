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
	var queries []planCase
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
		queries = append(queries, planCase{fmt.Sprintf("history type=%d from=%v to=%v offset=%d", f.Type, !f.From.IsZero(), !f.To.IsZero(), f.Offset), q, args, []string{index}})
	}
	queries = append(queries,
		planCase{"code", codeQuery, []any{"C000042"}, []string{"PRIMARY KEY"}},
		planCase{"spend code", spendCodeQuery, []any{"6c", "C000042"}, []string{"PRIMARY KEY"}},
		planCase{"product", productQuery, []any{"P"}, []string{"sqlite_autoindex_products_1"}},
		planCase{"gift", giftQuery, []any{"G"}, []string{"sqlite_autoindex_gifts_1"}},
		planCase{"balance", balanceQuery, []any{cust}, []string{"PRIMARY KEY"}},
		planCase{"last delivered", lastDeliveredQuery, nil, []string{"outbox_delivered"}},
		planCase{"prune delivered", pruneQuery, []any{int64(1000), 1000}, []string{"outbox_delivered"}},
	)
	// A page of both types is one page of rows, merged from two walks of the
	// index (co-routine "page"), then read by rowid.
	checkPlans(t, db, queries, "SCAN page")
}

// planCase is a query whose plan must name every index (or key) in want.
type planCase struct {
	name, sql string
	args      []any
	want      []string
}

// checkPlans checks, without statistics and then after ANALYZE, that each
// case's plan names its indexes and, once the scans in allowed are set
// aside, neither scans a table nor sorts: none grows with the store.
func checkPlans(t *testing.T, db *DB, cases []planCase, allowed ...string) {
	t.Helper()
	for _, stats := range []string{"without statistics", "after ANALYZE"} {
		if stats == "after ANALYZE" {
			if err := db.Write(context.Background(), func(tx edge.Tx) error {
				_, err := tx.(*txn).exec("ANALYZE")
				return err
			}); err != nil {
				t.Fatal(err)
			}
		}
		for _, c := range cases {
			plan := strings.Join(explain(t, db, c.sql, c.args...), "; ")
			rest := plan
			for _, a := range allowed {
				rest = strings.ReplaceAll(rest, a, "")
			}
			bad := strings.Contains(rest, "SCAN") || strings.Contains(rest, "TEMP B-TREE")
			for _, idx := range c.want {
				bad = bad || !strings.Contains(plan, idx)
			}
			if bad {
				t.Errorf("%s, %s: plan %q, want searches of %v, no scan, no sort", stats, c.name, plan, c.want)
			}
		}
	}
}
