package upstream

import (
	"context"
	"strings"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/upstream/fakecrm"
)

// historyRig is a Client of a fakecrm whose customer +84912345678 has n
// history entries, newest first by index; typeOf gives each one's type (1
// points, 2 gift, others unknown to the edge).
func historyRig(t *testing.T, timeout time.Duration, n int, typeOf func(i int) int) (*Client, *fakecrm.CRM) {
	t.Helper()
	crm, base, err := fakecrm.NewServer(fakecrm.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = crm.Close() })
	created := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixMilli()
	entries := make([]fakecrm.Entry, n)
	for i := range entries {
		entries[i] = fakecrm.Entry{Type: typeOf(i), Score: 10, Code: "C1", Product: &fakecrm.Product{Code: "P1", Name: "P"},
			CreatedAt: created + int64(n-i)}
	}
	if err := crm.AddHistory("0912345678", entries...); err != nil {
		t.Fatal(err)
	}
	c, err := New(Options{BaseURL: base, Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	return c, crm
}

var historyContact = edge.Contact{Phones: []string{"+84912345678"}}

// TestFetchHistoryPages: a page is full by its items, not by the entries the
// edge keeps of them, so a page with unknown types does not end the import.
func TestFetchHistoryPages(t *testing.T) {
	t.Parallel()
	// 45 items: page 1 holds the 2 of an unknown type (18 entries), page 2 is
	// full, page 3 has 5 and is the last.
	c, crm := historyRig(t, time.Second, 45, func(i int) int {
		if i < 2 {
			return 7
		}
		return 1
	})
	got, err := c.FetchHistory(context.Background(), historyContact)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 43 {
		t.Errorf("FetchHistory: %d entries, want 43", len(got))
	}
	if n := len(crm.Received()); n != 3 {
		t.Errorf("FetchHistory read %d pages, want 3", n)
	}
}

// TestFetchHistoryBounded: a slow central cannot hold a till for every page;
// the import gives up after historyBudget × Timeout, without calling the
// central offline (it answered every call in time).
func TestFetchHistoryBounded(t *testing.T) {
	t.Parallel()
	const timeout = 200 * time.Millisecond
	c, crm := historyRig(t, timeout, 20*edge.HistoryPageSize, func(int) int { return 1 })
	crm.SetLatency(timeout / 2) // each page in time, 20 pages in 2 s
	start := time.Now()
	got, err := c.FetchHistory(context.Background(), historyContact)
	elapsed := time.Since(start)
	if err == nil || !strings.Contains(err.Error(), "not every page within 600ms") {
		t.Errorf("FetchHistory from a slow central: %d entries, %v; want the budget's error", len(got), err)
	}
	if budget := historyBudget * timeout; elapsed > budget+timeout {
		t.Errorf("FetchHistory took %s, budget %s", elapsed, budget)
	}
	if !c.Status().Online {
		t.Errorf("the budget's end marked the central offline: %+v", c.Status())
	}
}
