package sqlstore

import (
	"context"
	"database/sql/driver"
	"time"
)

// txn is one transaction's edge.Tx: on the writer (inside a savepoint) or on
// a read connection. Statements are prepared once per connection and reused,
// and run at the driver level (see dconn).
type txn struct {
	ctx context.Context
	c   *dconn
	// owners memoizes contact lookups ("p"+e164 or "e"+email → customer id)
	// within the transaction: a write asks for the same phone several times.
	// Any write empties it: every statement that changes data goes through exec.
	owners map[string]string
}

func (t *txn) exec(q string, args ...any) (driver.Result, error) {
	clear(t.owners)
	s, err := t.c.stmt(q)
	if err != nil {
		return nil, err
	}
	nv, err := namedValues(args)
	if err != nil {
		return nil, err
	}
	return s.(driver.StmtExecContext).ExecContext(t.ctx, nv)
}

// execOnce is exec with a statement prepared for this one run and closed
// after it, for SQL whose text varies with the data (a batch's last chunk):
// the connection keeps the statements exec prepares for its whole life.
func (t *txn) execOnce(q string, args ...any) (driver.Result, error) {
	clear(t.owners)
	nv, err := namedValues(args)
	if err != nil {
		return nil, err
	}
	s, err := t.c.prepare(q)
	if err != nil {
		return nil, err
	}
	res, err := s.(driver.StmtExecContext).ExecContext(t.ctx, nv)
	if cerr := s.Close(); err == nil && cerr != nil {
		return nil, cerr
	}
	return res, err
}

func (t *txn) query(q string, args ...any) (*rows, error) {
	s, err := t.c.stmt(q)
	if err != nil {
		return nil, err
	}
	nv, err := namedValues(args)
	if err != nil {
		return nil, err
	}
	dr, err := s.(driver.StmtQueryContext).QueryContext(t.ctx, nv)
	if err != nil {
		return nil, err
	}
	return &rows{dr: dr, vals: make([]driver.Value, len(dr.Columns()))}, nil
}

// row scans one row into dest; found is false (and err nil) when there is none.
func (t *txn) row(q string, args []any, dest ...any) (found bool, err error) {
	r, err := t.query(q, args...)
	if err != nil {
		return false, err
	}
	if r.Next() {
		err = r.Scan(dest...)
		found = err == nil
	}
	if cerr := closeRows(r); err == nil {
		err = cerr
	}
	return found, err
}

func ms(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixMilli()
}

func fromMs(v int64) time.Time {
	if v == 0 {
		return time.Time{}
	}
	return time.UnixMilli(v)
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}
