package sqlstore

import (
	"context"
	"path/filepath"
	"testing"
)

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
	queries := []planCase{
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
	// Scanning a constant row or a co-routine's few rows is fine.
	checkPlans(t, db, queries, "SCAN CONSTANT ROW", "SCAN (subquery-")
}
