package sqlstore

import "fmt"

// Names of generated rows that only this package's tests ask for; the
// others (Phone, Code, GiftCode) are in fixture.go, for the benchmarks.

// Email is customer i's email.
func (s FixtureSpec) Email(i int) string { return fmt.Sprintf("customer%d@example.com", i) }

// ProductCode is product i (0-based); product i is worth 10·(i+1) points.
func (s FixtureSpec) ProductCode(i int) string { return fmt.Sprintf("P%02d", i+1) }
