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
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"
)

// ParseCatalog reads catalog rows of one kind from CSV (with a header row) or
// a JSON array, telling them apart by the first non-blank byte. A bad row is
// an EINVALID naming its line (and, in JSON, its item number from 1); a file
// with any bad row yields no batch at all.
func ParseCatalog(kind string, r io.Reader) (*CatalogBatch, error) {
	if kind != CatalogProducts && kind != CatalogCodes && kind != CatalogGifts {
		return nil, Invalid("kind", "catalog kind must be products, codes or gifts, not %q", kind)
	}
	br := bufio.NewReaderSize(r, 64<<10)
	// A UTF-8 byte-order mark, as spreadsheet exports write it, is dropped.
	if bom, _ := br.Peek(3); bytes.Equal(bom, []byte{0xEF, 0xBB, 0xBF}) {
		_, _ = br.Discard(3)
	}
	// Look at the first non-blank byte without consuming anything, so that
	// line numbers stay those of the file.
	for n := 1; ; n++ {
		b, err := br.Peek(n)
		if len(b) < n {
			if errors.Is(err, io.EOF) || errors.Is(err, bufio.ErrBufferFull) {
				return nil, Invalid("file", "the file is empty")
			}
			return nil, fmt.Errorf("read catalog: %w", err)
		}
		switch b[n-1] {
		case ' ', '\t', '\r', '\n':
			continue
		case '[':
			return parseCatalogJSON(kind, br)
		case '{':
			return nil, Invalid("file", "line %d: the JSON must be an array of objects ([{...}, ...]), not one object", 1+bytes.Count(b, []byte{'\n'}))
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
	var cols []string
	for cols == nil {
		header, err := cr.Read()
		if err != nil {
			if errors.Is(err, io.EOF) {
				return nil, Invalid("file", "the file is empty")
			}
			return nil, Invalid("file", "line %d: cannot read the CSV header: %s", csvErrLine(err, 1), csvErr(err))
		}
		if blankRecord(header) {
			continue // a line of spaces before the header
		}
		cols = make([]string, len(header))
		for i, h := range header {
			cols[i] = strings.ToLower(strings.TrimSpace(h))
		}
	}
	headerLine, _ := cr.FieldPos(0)
	if err := checkColumns(kind, cols, headerLine); err != nil {
		return nil, err
	}
	b := &CatalogBatch{}
	row := make(catalogRow, len(cols))
	for {
		rec, err := cr.Read()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, Invalid("file", "line %d: %s", csvErrLine(err, 0), csvErr(err))
		}
		line, _ := cr.FieldPos(0)
		if blankRecord(rec) {
			continue
		}
		if len(rec) != len(cols) {
			return nil, Invalid("file", "line %d: %d fields, the header has %d", line, len(rec), len(cols))
		}
		for i, c := range cols {
			row[c] = strings.TrimSpace(rec[i])
		}
		if err := b.add(kind, row, line, 0); err != nil {
			return nil, err
		}
	}
	if b.Len() == 0 {
		return nil, Invalid("file", "the file has a header but no rows")
	}
	return b, nil
}

func blankRecord(rec []string) bool {
	for _, f := range rec {
		if strings.TrimSpace(f) != "" {
			return false
		}
	}
	return true
}

func csvErr(err error) string {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		return pe.Err.Error()
	}
	return err.Error()
}

// csvErrLine is the line a CSV error is on (where the bad record starts).
func csvErrLine(err error, fallback int) int {
	var pe *csv.ParseError
	if errors.As(err, &pe) {
		if pe.StartLine > 0 {
			return pe.StartLine
		}
		return pe.Line
	}
	return fallback
}

// lineCounter turns byte offsets of a JSON file into line numbers. Offsets
// are asked in increasing order, so the whole file is counted once.
type lineCounter struct {
	data []byte
	off  int
	line int
}

func (lc *lineCounter) lineAt(off int) int {
	off = min(max(off, lc.off), len(lc.data))
	lc.line += bytes.Count(lc.data[lc.off:off], []byte{'\n'})
	lc.off = off
	return lc.line
}

// next is the line of the first byte at or after off that is not blank or a
// comma: where the next JSON item starts.
func (lc *lineCounter) next(off int) int {
	for off < len(lc.data) && strings.IndexByte(" \t\r\n,", lc.data[off]) >= 0 {
		off++
	}
	return lc.lineAt(off)
}

func jsonErrLine(lc *lineCounter, err error, fallback int) int {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.As(err, &se):
		return lc.lineAt(int(se.Offset))
	case errors.As(err, &te):
		return lc.lineAt(int(te.Offset))
	}
	return fallback
}

func parseCatalogJSON(kind string, r io.Reader) (*CatalogBatch, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read catalog: %w", err)
	}
	lc := &lineCounter{data: data, line: 1}
	// The JSON decoder would silently turn invalid UTF-8 into U+FFFD and
	// store it: refuse the file instead, saying where.
	if !utf8.Valid(data) {
		at := 0
		for at < len(data) {
			r, size := utf8.DecodeRune(data[at:])
			if r == utf8.RuneError && size <= 1 {
				break
			}
			at += size
		}
		return nil, Invalid("file", "line %d: the file is not valid UTF-8 text (byte %d)", lc.lineAt(at), at)
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	if _, err := dec.Token(); err != nil {
		return nil, Invalid("file", "line %d: the JSON is malformed: %v", jsonErrLine(lc, err, 1), err)
	}
	b := &CatalogBatch{fromJSON: true}
	for i := 1; dec.More(); i++ {
		line := lc.next(int(dec.InputOffset()))
		var obj map[string]any
		if err := dec.Decode(&obj); err != nil {
			var te *json.UnmarshalTypeError
			if errors.As(err, &te) {
				return nil, Invalid("file", "item %d (line %d): not a JSON object", i, line)
			}
			return nil, Invalid("file", "item %d (line %d): the JSON is malformed: %v", i, jsonErrLine(lc, err, line), err)
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
				return nil, Invalid("file", "item %d (line %d): %s must be a string or a number", i, line, k)
			}
		}
		if err := b.add(kind, row, line, i); err != nil {
			return nil, err
		}
	}
	if _, err := dec.Token(); err != nil {
		return nil, Invalid("file", "line %d: the JSON array is not closed: %v", jsonErrLine(lc, err, lc.lineAt(len(data))), err)
	}
	if dec.More() {
		return nil, Invalid("file", "line %d: text after the end of the JSON array", lc.lineAt(int(dec.InputOffset())))
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

func checkColumns(kind string, cols []string, line int) error {
	for _, want := range requiredColumns(kind) {
		if !slices.Contains(cols, want) {
			return Invalid("file", "line %d: the header lacks the column %q (a %s file needs %s)", line, want, kind, strings.Join(requiredColumns(kind), ", "))
		}
	}
	return nil
}

// add validates one row and appends it to the batch. line (and item, from 1,
// for JSON; 0 for CSV) name it in errors.
func (b *CatalogBatch) add(kind string, row catalogRow, line, item int) error {
	where := b.where(line, item)
	for _, want := range requiredColumns(kind) {
		if row[want] == "" {
			return Invalid("file", "%s: %s is empty", where(), want)
		}
	}
	for k, v := range row {
		if err := checkText(k, v); err != nil {
			return Invalid("file", "%s: %s", where(), ErrorMessage(err))
		}
	}
	if strings.ContainsAny(row["code"], " \t") {
		return Invalid("file", "%s: code %q contains spaces", where(), row["code"])
	}
	if kind == CatalogCodes {
		if strings.ContainsAny(row["product_code"], " \t") {
			return Invalid("file", "%s: product_code %q contains spaces", where(), row["product_code"])
		}
		b.lines = append(b.lines, int32(line))
		b.Codes = append(b.Codes, AccumulationCode{Code: row["code"], ProductCode: row["product_code"], Serial: row["serial"]})
		return nil
	}
	score, err := strconv.ParseInt(row["score"], 10, 64)
	if err != nil || score < 0 || score > 1_000_000_000 {
		return Invalid("file", "%s: score %q must be a whole number from 0 to 1000000000", where(), row["score"])
	}
	if id := row["id"]; id != "" && !ValidID(id) {
		return Invalid("file", "%s: id %q must be a 24-hex-digit id", where(), id)
	}
	b.lines = append(b.lines, int32(line))
	if kind == CatalogProducts {
		b.Products = append(b.Products, Product{ID: row["id"], Code: row["code"], Name: row["name"], Score: score})
	} else {
		b.Gifts = append(b.Gifts, Gift{ID: row["id"], Code: row["code"], Name: row["name"], Score: score})
	}
	return nil
}

// where names a row for an error message; the text is built only on error.
func (b *CatalogBatch) where(line, item int) func() string {
	return func() string {
		if item > 0 {
			return fmt.Sprintf("item %d (line %d)", item, line)
		}
		return fmt.Sprintf("line %d", line)
	}
}

// jsonItems is the JSON item number of row i, or 0 for a CSV file.
func (b *CatalogBatch) jsonItems(i int) int {
	if b.fromJSON {
		return i + 1
	}
	return 0
}

// rowWhere names the i-th row of the batch (0-based) for an error message.
func (b *CatalogBatch) rowWhere(i int) string {
	if i < len(b.lines) && b.lines[i] > 0 {
		return b.where(int(b.lines[i]), b.jsonItems(i))()
	}
	return fmt.Sprintf("row %d", i+1)
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
				return Invalid("file", "%s: code %s names product %q, which is not in the catalog (import products first)", b.rowWhere(i), c.Code, c.ProductCode)
			}
		}
		return tx.UpsertCatalog(b, progress)
	})
	if err != nil {
		return fmt.Errorf("import catalog: %w", err)
	}
	return nil
}
