package sqlstore

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"fmt"
	"io"
	"strconv"
	"time"
)

// dconn is a connection's driver-level side: the statements prepared on it,
// used directly (driver.Stmt) while database/sql lends the connection
// through sql.Conn.Raw. Going past database/sql saves its bookkeeping on
// every statement (about 2 µs and a dozen allocations each: a lookup costs
// 5 µs here), and the writer runs a dozen statements per request.
type dconn struct {
	dc    driver.Conn
	stmts map[string]driver.Stmt
}

// stmt returns q prepared on the connection, preparing it on first use.
func (c *dconn) stmt(q string) (driver.Stmt, error) {
	if s, ok := c.stmts[q]; ok {
		return s, nil
	}
	s, err := c.prepare(q)
	if err != nil {
		return nil, err
	}
	c.stmts[q] = s
	return s, nil
}

// prepare prepares q without keeping it: the caller closes it.
func (c *dconn) prepare(q string) (driver.Stmt, error) {
	p, ok := c.dc.(driver.ConnPrepareContext)
	if !ok {
		return nil, errors.New("prepare: the driver cannot prepare with a context")
	}
	s, err := p.PrepareContext(context.Background(), q)
	if err != nil {
		return nil, fmt.Errorf("prepare: %w", err)
	}
	return s, nil
}

// ctl runs a statement without arguments or rows (BEGIN, COMMIT, …).
func (c *dconn) ctl(q string) error {
	s, err := c.stmt(q)
	if err != nil {
		return err
	}
	_, err = s.(driver.StmtExecContext).ExecContext(context.Background(), nil)
	return err
}

func (c *dconn) closeStmts() {
	for q, s := range c.stmts {
		s.Close()
		delete(c.stmts, q)
	}
}

// withDriver runs f with conn's driver connection, and its statements, for
// the duration of f (sql.Conn.Raw). The statements stay prepared from one
// call to the next: a sql.Conn keeps its driver connection for life.
func withDriver(conn *sql.Conn, c **dconn, f func(*dconn) error) error {
	return conn.Raw(func(dc any) error {
		d, ok := dc.(driver.Conn)
		if !ok {
			return errors.New("not a driver connection")
		}
		if *c == nil || (*c).dc != d {
			*c = &dconn{dc: d, stmts: map[string]driver.Stmt{}}
		}
		return f(*c)
	})
}

// namedValues converts arguments as database/sql would for this driver.
func namedValues(args []any) ([]driver.NamedValue, error) {
	if len(args) == 0 {
		return nil, nil
	}
	nv := make([]driver.NamedValue, len(args))
	for i, a := range args {
		var v driver.Value
		switch a := a.(type) {
		case string, int64, []byte, nil, float64, bool, time.Time:
			v = a
		case int:
			v = int64(a)
		default:
			var err error
			if v, err = driver.DefaultParameterConverter.ConvertValue(a); err != nil {
				return nil, fmt.Errorf("argument %d: %w", i+1, err)
			}
		}
		nv[i] = driver.NamedValue{Ordinal: i + 1, Value: v}
	}
	return nv, nil
}

// rows is a statement's result set with the subset of sql.Rows' methods
// sqlstore uses: Next, Scan, Err, Close.
type rows struct {
	dr     driver.Rows
	vals   []driver.Value
	err    error
	closed bool
}

func (r *rows) Next() bool {
	if r.closed {
		return false
	}
	if err := r.dr.Next(r.vals); err != nil {
		if err != io.EOF {
			r.err = err
		}
		r.Close()
		return false
	}
	return true
}

func (r *rows) Scan(dest ...any) error {
	if r.closed {
		return errors.New("scan: rows are closed")
	}
	if len(dest) != len(r.vals) {
		return fmt.Errorf("scan: %d destinations for %d columns", len(dest), len(r.vals))
	}
	for i, d := range dest {
		if err := assign(d, r.vals[i]); err != nil {
			return fmt.Errorf("scan column %d: %w", i, err)
		}
	}
	return nil
}

func (r *rows) Err() error { return r.err }

func (r *rows) Close() error {
	if r.closed {
		return nil
	}
	r.closed = true
	return r.dr.Close()
}

// assign stores a column value as database/sql's Scan would, for the
// destination types sqlstore uses (and any sql.Scanner).
func assign(dest any, v driver.Value) error {
	switch d := dest.(type) {
	case *string:
		switch v := v.(type) {
		case string:
			*d = v
		case []byte:
			*d = string(v)
		case int64:
			*d = strconv.FormatInt(v, 10)
		case float64:
			*d = strconv.FormatFloat(v, 'g', -1, 64)
		case nil:
			return errors.New("converting NULL to string is unsupported")
		default:
			return fmt.Errorf("cannot store %T in *string", v)
		}
	case *int64:
		n, err := asInt(v)
		if err != nil {
			return err
		}
		*d = n
	case *int:
		n, err := asInt(v)
		if err != nil {
			return err
		}
		*d = int(n)
	case *[]byte:
		switch v := v.(type) {
		case []byte:
			*d = append([]byte(nil), v...)
		case string:
			*d = []byte(v)
		case nil:
			*d = nil
		default:
			return fmt.Errorf("cannot store %T in *[]byte", v)
		}
	case *float64:
		switch v := v.(type) {
		case float64:
			*d = v
		case int64:
			*d = float64(v)
		default:
			return fmt.Errorf("cannot store %T in *float64", v)
		}
	case *bool:
		n, err := asInt(v)
		if err != nil {
			return err
		}
		*d = n != 0
	case *any:
		if b, ok := v.([]byte); ok {
			v = append([]byte(nil), b...)
		}
		*d = v
	case sql.Scanner:
		return d.Scan(v)
	default:
		return fmt.Errorf("unsupported destination %T", dest)
	}
	return nil
}

func asInt(v driver.Value) (int64, error) {
	switch v := v.(type) {
	case int64:
		return v, nil
	case string:
		return strconv.ParseInt(v, 10, 64)
	case []byte:
		return strconv.ParseInt(string(v), 10, 64)
	case nil:
		return 0, errors.New("converting NULL to an integer is unsupported")
	default:
		return 0, fmt.Errorf("cannot store %T in an integer", v)
	}
}
