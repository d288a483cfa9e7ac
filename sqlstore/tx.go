package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"
)

// txn is one transaction's edge.Tx: on the writer (inside a savepoint) or on
// a read connection. Statements are prepared once per connection and reused.
type txn struct {
	ctx  context.Context
	stmt func(query string) (*sql.Stmt, error)
	// owners memoizes contact lookups ("p"+e164 or "e"+email → customer id)
	// within the transaction: a write asks for the same phone several times.
	// Any write empties it: every statement that changes data goes through exec.
	owners map[string]string
}

func (t *txn) exec(q string, args ...any) (sql.Result, error) {
	clear(t.owners)
	s, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return s.ExecContext(t.ctx, args...)
}

func (t *txn) query(q string, args ...any) (*sql.Rows, error) {
	s, err := t.stmt(q)
	if err != nil {
		return nil, err
	}
	return s.QueryContext(t.ctx, args...)
}

// row scans one row into dest; found is false (and err nil) when there is none.
func (t *txn) row(q string, args []any, dest ...any) (found bool, err error) {
	s, err := t.stmt(q)
	if err != nil {
		return false, err
	}
	err = s.QueryRowContext(t.ctx, args...).Scan(dest...)
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
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
