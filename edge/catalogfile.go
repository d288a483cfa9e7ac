package edge

import (
	"bufio"
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// ParseCatalog reads catalog rows of one kind from CSV (with a header row) or
// a JSON array, telling them apart by the first non-blank byte. A bad row is
// an EINVALID naming its line (CSV) or its index (JSON).
func ParseCatalog(kind string, r io.Reader) (*CatalogBatch, error) {
	if kind != CatalogProducts && kind != CatalogCodes && kind != CatalogGifts {
		return nil, Invalid("kind", "catalog kind must be products, codes or gifts, not %q", kind)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := br.Peek(1)
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, Invalid("file", "the file is empty")
			}
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		switch b[0] {
		case ' ', '\t', '\r', '\n':
			_, _ = br.ReadByte()
			continue
		case 0xEF: // UTF-8 byte-order mark, as spreadsheet exports write it
			bom, _ := br.Peek(3)
			if bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
				_, _ = br.Discard(3)
				continue
			}
		case '[':
			return parseCatalogJSON(kind, br)
		}
		return parseCatalogCSV(kind, br)
	}
}

// catalogRow is one row as text, whatever the file format.
type catalogRow map[string]string

func parseCatalogCSV(kind string, r io.Reader) (*CatalogBatch, error) {
	cr := csv.NewReader(r)
	cr.FieldsPerRecord = -1
	cr.ReuseRecord = true
	header, err := cr.Read()
	if err != nil {
		return nil, Invalid("file", "line 1: cannot read the CSV header: %v", csvErr(err))
	}
	cols := make([]string, len(header))
	for i, h := range header {
		cols[i] = strings.ToLower(strings.TrimSpace(h))
	}
	if err := checkColumns(kind, cols); err != nil {
		return nil, err
	}
	b := &CatalogBatch{}
	row := catalogRow{}
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		line, _ := cr.FieldPos(0)
		if err != nil {
			return nil, Invalid("file", "line %d: %v", line, csvErr(err))
		}
		if len(rec) == 1 && strings.TrimSpace(rec[0]) == "" {
			continue // blank line
		}
		if len(rec) != len(cols) {
			return nil, Invalid("file", "line %d: %d fields, the header has %d", line, len(rec), len(cols))
		}
		for i, c := range cols {
			row[c] = strings.TrimSpace(rec[i])
		}
		if err := b.add(kind, row, fmt.Sprintf("line %d", line)); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		return nil, Invalid("file", "the file has a header but no rows")
	}
	return b, nil
}

func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

func parseCatalogJSON(kind string, r io.Reader) (*CatalogBatch, error) {
	dec := json.NewDecoder(r)
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, Invalid("file", "the JSON is malformed: %v", err)
	}
	b := &CatalogBatch{}
	for i := 0; dec.More(); i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			return nil, Invalid("file", "item %d: not a JSON object (%v)", i, err)
		}
		row := catalogRow{}
		for k, v := range obj {
			switch x := v.(type) {
			case string:
				row[strings.ToLower(k)] = strings.TrimSpace(x)
			case json.Number:
				row[strings.ToLower(k)] = x.String()
			case nil:
			default:
				return nil, Invalid("file", "item %d: %s must be a string or a number", i, k)
			}
		}
		if err := b.add(kind, row, fmt.Sprintf("item %d", i)); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, Invalid("file", "the JSON array is not closed: %v", err)
	}
	if b.Len() == 0 {
		return nil, Invalid("file", "the JSON array is empty")
	}
	return b, nil
}

func requiredColumns(kind string) []string {
	if kind == CatalogCodes {
		return []string{"code", "product_code"}
	}
	return []string{"code", "name", "score"}
}

func checkColumns(kind string, cols []string) error {
	for _, want := range requiredColumns(kind) {
		found := false
		for _, c := range cols {
			found = found || c == want
		}
		if !found {
			return Invalid("file", "line 1: the header lacks the column %q (a %s file needs %s)", want, kind, strings.Join(requiredColumns(kind), ", "))
		}
	}
	return nil
}

// add validates one row and appends it to the batch; where names it in errors.
func (b *CatalogBatch) add(kind string, row catalogRow, where string) error {
	for _, want := range requiredColumns(kind) {
		if row[want] == "" {
			return Invalid("file", "%s: %s is empty", where, want)
		}
	}
	for k, v := range row {
		if err := checkText(k, v); err != nil {
			return Invalid("file", "%s: %s", where, ErrorMessage(err))
		}
	}
	if strings.ContainsAny(row["code"], " \t") {
		return Invalid("file", "%s: code %q contains spaces", where, row["code"])
	}
	b.where = append(b.where, where)
	switch kind {
	case CatalogCodes:
		b.Codes = append(b.Codes, AccumulationCode{Code: row["code"], ProductCode: row["product_code"], Serial: row["serial"]})
		return nil
	}
	score, err := strconv.ParseInt(row["score"], 10, 64)
	if err != nil || score < 0 || score > 1_000_000_000 {
		return Invalid("file", "%s: score %q must be a whole number from 0 to 1000000000", where, row["score"])
	}
	if id := row["id"]; id != "" && !ValidID(id) {
		return Invalid("file", "%s: id %q must be a 24-hex-digit id", where, id)
	}
	if kind == CatalogProducts {
		b.Products = append(b.Products, Product{ID: row["id"], Code: row["code"], Name: row["name"], Score: score})
	} else {
		b.Gifts = append(b.Gifts, Gift{ID: row["id"], Code: row["code"], Name: row["name"], Score: score})
	}
	return nil
}

// ImportCatalog upserts a parsed batch in one transaction: every row or none.
// Codes must name products that exist (stored already, or in the batch).
// progress, when set, is called with the rows written so far.
func (s *Service) ImportCatalog(ctx context.Context, b *CatalogBatch, progress func(done, total int)) error {
	for i := range b.Products {
		if b.Products[i].ID == "" {
			b.Products[i].ID = s.newID()
		}
	}
	for i := range b.Gifts {
		if b.Gifts[i].ID == "" {
			b.Gifts[i].ID = s.newID()
		}
	}
	err := s.store.Write(ctx, func(tx Tx) error {
		known := map[string]bool{}
		for i, c := range b.Codes {
			ok, seen := known[c.ProductCode]
			if !seen {
				p, err := tx.Product(c.ProductCode)
				if err != nil {
					return err
				}
				ok = p != nil
				known[c.ProductCode] = ok
			}
			if !ok {
				where := fmt.Sprintf("row %d", i+1)
				if i < len(b.where) {
					where = b.where[i]
				}
				return Invalid("file", "%s: code %s names product %q, which is not in the catalog (import products first)", where, c.Code, c.ProductCode)
			}
		}
		return tx.UpsertCatalog(b, progress)
	})
	if err != nil {
		return fmt.Errorf("import catalog: %w", err)
	}
	return nil
}
