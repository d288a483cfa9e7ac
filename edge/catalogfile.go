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
	"unicode/utf8"
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
			return parseCatalogJSON(kind, &utf8Reader{r: br})
		case '{':
			return nil, Invalid("file", "send a JSON array of objects (or CSV with a header row), not a single JSON object")
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
		if err != nil {
			// FieldPos would panic: a failed Read returns no fields.
			line := 0
			var pe *csv.ParseError
			if errors.As(err, &pe) {
				line = pe.Line
			}
			return nil, Invalid("file", "line %d: %v", line, csvErr(err))
		}
		line, _ := cr.FieldPos(0)
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
		return nil, fileError(err, "the JSON is malformed: %v", err)
	}
	b := &CatalogBatch{}
	for i := 0; dec.More(); i++ {
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return nil, Invalid("file", "item %d: not a JSON object but a JSON %s", i, te.Value)
			}
			return nil, fileError(err, "item %d: not a JSON object (%v)", i, err)
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
		return nil, fileError(err, "the JSON array is not closed: %v", err)
	}
	if b.Len() == 0 {
		return nil, Invalid("file", "the JSON array is empty")
	}
	return b, nil
}

// utf8Reader fails on the first invalid UTF-8 sequence, which the JSON
// decoder would otherwise turn silently into U+FFFD.
type utf8Reader struct {
	r    io.Reader
	buf  []byte // the held-back tail, then this read's bytes
	tail int    // length of an incomplete sequence held back from the last read
	off  int64
}

func (u *utf8Reader) Read(p []byte) (int, error) {
	n, err := u.r.Read(p)
	u.buf = append(u.buf[:u.tail], p[:n]...)
	// Hold back an incomplete sequence at the end: the next read completes
	// it. At the end of the input nothing will.
	cut := len(u.buf)
	for i := len(u.buf) - 1; err == nil && i >= 0 && i >= len(u.buf)-utf8.UTFMax; i-- {
		if utf8.RuneStart(u.buf[i]) {
			if !utf8.FullRune(u.buf[i:]) {
				cut = i
			}
			break
		}
	}
	if !utf8.Valid(u.buf[:cut]) {
		at := 0
		for at < cut {
			r, size := utf8.DecodeRune(u.buf[at:cut])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
		return 0, Invalid("file", "the file is not valid UTF-8 text (byte %d)", u.off-int64(u.tail)+int64(at))
	}
	u.tail = copy(u.buf, u.buf[cut:])
	u.off += int64(n)
	return n, err
}

// fileError is err when it is already a domain error (the UTF-8 check),
// else an EINVALID on the file with this message.
func fileError(err error, format string, args ...any) error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	return Invalid("file", format, args...)
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
