package sqlstore

import (
	"database/sql"
	"fmt"

	"crmedge/edge"
)

func (t *txn) Product(code string) (*edge.Product, error) {
	p := &edge.Product{Code: code}
	found, err := t.row(`SELECT id, name, score FROM products WHERE code = ?`, []any{code}, &p.ID, &p.Name, &p.Score)
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
	found, err := t.row(`SELECT id, name, score FROM gifts WHERE code = ?`, []any{code}, &g.ID, &g.Name, &g.Score)
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
	found, err := t.row(`SELECT product_code, serial, used_by FROM codes WHERE code = ?`, []any{code}, &c.ProductCode, &c.Serial, &used)
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
	res, err := t.exec(`UPDATE codes SET used_by = ? WHERE code = ? AND used_by IS NULL`, entryID, code)
	if err != nil {
		return fmt.Errorf("spend code %s: %w", code, err)
	}
	if n, _ := res.RowsAffected(); n != 1 {
		return &edge.Error{Code: edge.ECONFLICT, Reason: "code_used", Message: "This code has already been used"}
	}
	return nil
}

// UpsertCatalog writes rows; a code already spent stays spent.
func (t *txn) UpsertCatalog(b *edge.CatalogBatch, progress func(done, total int)) error {
	total, done := b.Len(), 0
	tick := func() {
		done++
		if progress != nil && (done%10000 == 0 || done == total) {
			progress(done, total)
		}
	}
	for _, p := range b.Products {
		if _, err := t.exec(`INSERT INTO products (code, id, name, score) VALUES (?,?,?,?)
			ON CONFLICT (code) DO UPDATE SET name = excluded.name, score = excluded.score`, p.Code, p.ID, p.Name, p.Score); err != nil {
			return fmt.Errorf("upsert product %s: %w", p.Code, err)
		}
		tick()
	}
	for _, g := range b.Gifts {
		if _, err := t.exec(`INSERT INTO gifts (code, id, name, score) VALUES (?,?,?,?)
			ON CONFLICT (code) DO UPDATE SET name = excluded.name, score = excluded.score`, g.Code, g.ID, g.Name, g.Score); err != nil {
			return fmt.Errorf("upsert gift %s: %w", g.Code, err)
		}
		tick()
	}
	for _, c := range b.Codes {
		if _, err := t.exec(`INSERT INTO codes (code, product_code, serial) VALUES (?,?,?)
			ON CONFLICT (code) DO UPDATE SET product_code = excluded.product_code, serial = excluded.serial`,
			c.Code, c.ProductCode, c.Serial); err != nil {
			return fmt.Errorf("upsert code %s: %w", c.Code, err)
		}
		tick()
	}
	return nil
}
