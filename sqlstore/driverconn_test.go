package sqlstore

import (
	"database/sql"
	"database/sql/driver"
	"testing"
)

// assign stores values as database/sql's Scan does for the types sqlstore
// scans into, and refuses what Scan refuses.
func TestAssignLikeDatabaseSQL(t *testing.T) {
	t.Parallel()
	var s string
	var n int
	var n64 int64
	var b []byte
	var f float64
	var ok bool
	var ns sql.NullString
	var ni sql.NullInt64
	var a any
	src := []byte("blob")
	for _, c := range []struct {
		dest  any
		v     driver.Value
		check func() bool
	}{
		{&s, "text", func() bool { return s == "text" }},
		{&s, []byte("bytes"), func() bool { return s == "bytes" }},
		{&s, int64(42), func() bool { return s == "42" }},
		{&n, int64(7), func() bool { return n == 7 }},
		{&n, "8", func() bool { return n == 8 }},
		{&n64, int64(1) << 40, func() bool { return n64 == 1<<40 }},
		{&b, src, func() bool { src[0] = 'X'; return string(b) == "blob" }}, // a copy
		{&b, nil, func() bool { return b == nil }},
		{&f, int64(3), func() bool { return f == 3 }},
		{&ok, int64(1), func() bool { return ok }},
		{&ns, nil, func() bool { return !ns.Valid }},
		{&ns, "used", func() bool { return ns.Valid && ns.String == "used" }},
		{&ni, int64(5), func() bool { return ni.Valid && ni.Int64 == 5 }},
		{&a, int64(9), func() bool { return a == int64(9) }},
	} {
		if err := assign(c.dest, c.v); err != nil || !c.check() {
			t.Errorf("assign(%T, %#v): %v", c.dest, c.v, err)
		}
	}
	for _, c := range []struct {
		dest any
		v    driver.Value
	}{{&s, nil}, {&n, nil}, {&n, "x"}, {&n, 1.5}, {new(struct{}), "x"}} {
		if err := assign(c.dest, c.v); err == nil {
			t.Errorf("assign(%T, %#v) should fail", c.dest, c.v)
		}
	}
}
