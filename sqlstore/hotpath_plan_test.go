package sqlstore

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"crmedge/edge"
)

// planOf returns the EXPLAIN QUERY PLAN lines of q, joined.
func planOf(t *testing.T, db *DB, q string, args ...any) string {
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
	return strings.Join(plan, "; ")
}

// TestHotPathQueryPlans checks that the queries every member lookup,
// accumulate, redeem and authentication runs (besides the loyalty ones
// TestQueryPlans covers) are index searches: none scans a table or sorts, so
// none grows with the store. Run on the generated fixture, with and without
// ANALYZE statistics.
func TestHotPathQueryPlans(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	dir := t.TempDir()
	spec := FixtureSpec{Customers: 200, Codes: 1000, Ledger: 3000, HeavyEntries: 500, Products: 3, Gifts: 2, PosID: "shop-1"}
	path := filepath.Join(dir, "plan.db")
	if err := GenerateFixture(ctx, path, spec); err != nil {
		t.Fatal(err)
	}
	db := openTest(t, path)
	cust := "650000000000000000000007"
	queries := []struct {
		name, sql string
		args      []any
		want      []string // indexes (or keys) the plan must name
	}{
		{"customer by phone", phoneOwnerQuery, []any{"+84900000007"}, []string{"PRIMARY KEY"}},
		{"customer by email", emailOwnerQuery, []any{"customer7@example.com"}, []string{"PRIMARY KEY"}},
		{"membership", memberQuery, []any{"shop-1", cust}, []string{"PRIMARY KEY"}},
		{"seen at a location", seenAtQuery, []any{"shop-1", cust}, []string{"PRIMARY KEY", "ledger_locations"}},
		{"customer with phones, emails, types", customerQuery, []any{cust},
			[]string{"sqlite_autoindex_customers_1", "COVERING INDEX customer_phones_customer", "COVERING INDEX customer_emails_customer", "SEARCH l USING PRIMARY KEY"}},
		{"member by phone", memberByPhoneQuery, []any{"+84900000007", "shop-1"},
			[]string{"SEARCH p USING PRIMARY KEY", "SEARCH m USING", "sqlite_autoindex_customers_1", "COVERING INDEX customer_phones_customer"}},
		{"customer name", customerNameQuery, []any{cust}, []string{"sqlite_autoindex_customers_1"}},
		{"next customer number", nextCustomerNoQuery, nil, []string{"sqlite_autoindex_customers_2"}},
		{"token by hash", tokenByHashQuery, []any{"h"}, []string{"sqlite_autoindex_tokens_1"}},
		{"tokens version", tokensVersionQuery, nil, []string{"sqlite_autoindex_meta_1"}},
	}
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
			plan := planOf(t, db, q.sql, q.args...)
			// Scanning a constant row or a co-routine's few rows is fine.
			rest := strings.NewReplacer("SCAN CONSTANT ROW", "", "SCAN (subquery-", "").Replace(plan)
			bad := strings.Contains(rest, "SCAN") || strings.Contains(rest, "TEMP B-TREE")
			for _, idx := range q.want {
				bad = bad || !strings.Contains(plan, idx)
			}
			if bad {
				t.Errorf("%s, %s: plan %q, want searches of %v, no scan, no sort", stats, q.name, plan, q.want)
			}
		}
	}
}
