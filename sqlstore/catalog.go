package sqlstore

import (
	"cmp"
	"database/sql"
	"fmt"
	"slices"
	"strings"

	"crmedge/edge"
)

// Lookups by code, checked against the schema's keys by TestQueryPlans.
const (
	productQuery   = `SELECT id, name, score FROM products WHERE code = ?`
	giftQuery      = `SELECT id, name, score FROM gifts WHERE code = ?`
	codeQuery      = `SELECT product_code, serial, used_by FROM codes WHERE code = ?`
	spendCodeQuery = `UPDATE codes SET used_by = ? WHERE code = ? AND used_by IS NULL`
)

func (t *txn) Product(code string) (*edge.Product, error) {
	p := &edge.Product{Code: code}
	found, err := t.row(productQuery, []any{code}, &p.ID, &p.Name, &p.Score)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("product %s: %w", code, err)
		}
		return nil, err
	}
	return p, nil
}

func (t *txn) Gift(code string) (*edge.Gift, error) {
	g := &edge.Gift{Code: code}
	found, err := t.row(giftQuery, []any{code}, &g.ID, &g.Name, &g.Score)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("gift %s: %w", code, err)
		}
		return nil, err
	}
	return g, nil
}

func (t *txn) AccumulationCode(code string) (*edge.AccumulationCode, error) {
	c := &edge.AccumulationCode{Code: code}
	var used sql.NullString
	found, err := t.row(codeQuery, []any{code}, &c.ProductCode, &c.Serial, &used)
	if err != nil || !found {
		if err != nil {
			err = fmt.Errorf("code %s: %w", code, err)
		}
		return nil, err
	}
	c.UsedBy = used.String
	return c, nil
}

// SpendCode marks a code used; the WHERE clause makes a second spend a no-op
// that the caller sees as an error, whatever the domain checked before.
func (t *txn) SpendCode(code, entryID string) error {
	res, err := t.exec(spendCodeQuery, entryID, code)
	if err != nil {
		return fmt.Errorf("spend code %s: %w", code, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &edge.Error{Code: edge.ECONFLICT, Reason: "code_used", Message: "This code has already been used"}
	}
	return nil
}

// catalogChunk is how many rows one INSERT statement carries: 1,000,000 codes
// take 2,000 statement executions instead of 1,000,000.
const catalogChunk = 500

// Upserts of each catalog table. A row whose values did not change is not
// rewritten; used_by is never touched, so a spent code stays spent.
const (
	upsertProducts = `INSERT INTO products (code, id, name, score) VALUES %s
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, score = excluded.score
		WHERE name IS NOT excluded.name OR score IS NOT excluded.score`
	upsertGifts = `INSERT INTO gifts (code, id, name, score) VALUES %s
		ON CONFLICT (code) DO UPDATE SET name = excluded.name, score = excluded.score
		WHERE name IS NOT excluded.name OR score IS NOT excluded.score`
	upsertCodes = `INSERT INTO codes (code, product_code, serial) VALUES %s
		ON CONFLICT (code) DO UPDATE SET product_code = excluded.product_code, serial = excluded.serial
		WHERE product_code IS NOT excluded.product_code OR serial IS NOT excluded.serial`
)

// chunkSQL is query with n groups of cols placeholders.
func chunkSQL(query string, cols, n int) string {
	group := "(" + strings.TrimSuffix(strings.Repeat("?,", cols), ",") + ")"
	return fmt.Sprintf(query, strings.TrimSuffix(strings.Repeat(group+",", n), ","))
}

// UpsertCatalog writes rows in chunks of multi-row INSERTs, inside the
// caller's transaction: the whole batch is applied or none of it.
func (t *txn) UpsertCatalog(b *edge.CatalogBatch, progress func(done, total int)) error {
	total, done, nextTick := b.Len(), 0, 0
	tick := func(n int) {
		done += n
		if progress != nil && (done >= nextTick || done == total) {
			progress(done, total)
			nextTick = done + 10000
		}
	}
	args := make([]any, 0, 4*catalogChunk)
	run := func(what, query string, cols, n int) error {
		// A full chunk's statement is kept for the next batch; the last
		// chunk's size varies, and its statement is not.
		exec := t.exec
		if n != catalogChunk {
			exec = t.execOnce
		}
		if _, err := exec(chunkSQL(query, cols, n), args...); err != nil {
			return fmt.Errorf("upsert %s: %w", what, err)
		}
		tick(n)
		args = args[:0]
		return nil
	}
	for i := 0; i < len(b.Products); i += catalogChunk {
		part := b.Products[i:min(i+catalogChunk, len(b.Products))]
		for _, p := range part {
			args = append(args, p.Code, p.ID, p.Name, p.Score)
		}
		if err := run("products", upsertProducts, 4, len(part)); err != nil {
			return err
		}
	}
	for i := 0; i < len(b.Gifts); i += catalogChunk {
		part := b.Gifts[i:min(i+catalogChunk, len(b.Gifts))]
		for _, g := range part {
			args = append(args, g.Code, g.ID, g.Name, g.Score)
		}
		if err := run("gifts", upsertGifts, 4, len(part)); err != nil {
			return err
		}
	}
	// Codes are written in key order: random codes inserted as they come
	// scatter writes over the whole B-tree (1,000,000 took 22 s instead of 3).
	// Ties keep file order, so a code given twice ends with its last row.
	order := make([]int32, len(b.Codes))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(x, y int32) int {
		if c := strings.Compare(b.Codes[x].Code, b.Codes[y].Code); c != 0 {
			return c
		}
		return cmp.Compare(x, y)
	})
	for i := 0; i < len(order); i += catalogChunk {
		part := order[i:min(i+catalogChunk, len(order))]
		for _, j := range part {
			c := &b.Codes[j]
			args = append(args, c.Code, c.ProductCode, c.Serial)
		}
		if err := run("codes", upsertCodes, 3, len(part)); err != nil {
			return err
		}
	}
	return nil
}
