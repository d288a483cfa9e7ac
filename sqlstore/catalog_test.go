package sqlstore

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"crmedge/edge"
)

// Catalog batches of many sizes leave the writer with one kept statement
// per table, the full chunk's, not one per size of the last chunk; every row
// is written.
func TestUpsertCatalogKeepsOneStatementPerTable(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "catalog.db"))
	total := 0
	for _, n := range []int{1, 7, catalogChunk, catalogChunk + 3, 2*catalogChunk + 11} {
		b := &edge.CatalogBatch{Products: []edge.Product{{ID: "6d0000000000000000000001", Code: "P", Name: "P", Score: 1}}}
		for i := range n {
			b.Codes = append(b.Codes, edge.AccumulationCode{Code: fmt.Sprintf("C%d-%06d", n, i), ProductCode: "P"})
		}
		if err := db.Write(ctx, func(tx edge.Tx) error { return tx.UpsertCatalog(b, nil) }); err != nil {
			t.Fatal(err)
		}
		total += n
	}
	kept := map[string]int{}
	for q := range db.w.d.stmts {
		for _, table := range []string{"products", "codes"} {
			if strings.HasPrefix(q, "INSERT INTO "+table+" ") {
				kept[table]++
			}
		}
	}
	if kept["codes"] != 1 || kept["products"] != 0 {
		t.Errorf("the writer keeps %v catalog statements, want 1 for codes (a full chunk), none for products", kept)
	}
	counts, err := db.RowCounts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if counts["codes"] != int64(total) || counts["products"] != 1 {
		t.Errorf("%d codes and %d products, want %d and 1", counts["codes"], counts["products"], total)
	}
}
