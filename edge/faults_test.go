package edge_test

// A full disk and a read-only database file: every dialect's writes answer
// 503 in its envelope and change nothing, reads go on, and writes work again
// once the fault is gone. The faults are made in SQLite itself
// (PRAGMA max_page_count caps the file at its current size; PRAGMA
// query_only refuses changes as a read-only file does), so the test runs
// anywhere, as any user.

import (
	"context"
	"fmt"
	"maps"
	"strings"
	"testing"
)

// faultWrite is one write per dialect. Bodies carry an unknown field of
// 256 KiB: the outbox keeps the body, so the write needs new pages whatever
// free room the tables have.
type faultWrite struct {
	dialect, method, url, token, body string
}

func faultWrites() []faultWrite {
	pad := `,"pad":"` + strings.Repeat("x", 256<<10) + `"}`
	b := func(s string) string { return strings.TrimSuffix(s, "}") + pad }
	return []faultWrite{
		{dMember, "POST", "/customers_location?pos_id=pos1", "", b(`{"phone":"0912345678","name":"Full Disk"}`)},
		{dMember, "PUT", "/customers_location?pos_id=pos1", "", b(`{"phone":"` + hardPhone + `","name":"Renamed"}`)},
		{dLoyalty, "POST", "/accumulate", "", b(`{"code":"CODE2","data":{"phones":[{"value":"` + hardPhone + `"}]}}`)},
		{dLoyalty, "POST", "/redeem", "", b(`{"code":"DAUMAY01","data":{"phone":"` + hardPhone + `"}}`)},
		{dTypes, "POST", "/api/crm/type/create", "", b(`{"vbot_id":"vbot1","project_code":"proj1","type_name":"Gold","type_no":"GOLD"}`)},
		{dTypes, "POST", "/api/crm/type/update", "", b(`{"vbot_id":"vbot1","project_code":"proj1","type_name":"V","type_no":"VIP"}`)},
		{dProfile, "POST", "/1.0/customer/create", "apikey:admin", b(`{"email":"full.disk@example.com","full_name":"F"}`)},
		{dAdmin, "PUT", "/admin/v1/products", "", manyProducts(3000)},
	}
}

// manyProducts is a catalog of n products: an import that needs new pages.
func manyProducts(n int) string {
	var sb strings.Builder
	sb.WriteString("[")
	for i := range n {
		if i > 0 {
			sb.WriteString(",")
		}
		fmt.Fprintf(&sb, `{"code":"P%05d","name":"Product number %d","score":1}`, i, i)
	}
	sb.WriteString("]")
	return sb.String()
}

// faultReads must keep answering 200 while writes cannot.
var faultReads = []struct{ dialect, url string }{
	{dMember, "/customers_location?pos_id=pos1&phone=" + hardPhone},
	{dLoyalty, "/history-point?phone=" + hardPhone},
	{dLoyalty, "/balance?phone=" + hardPhone},
	{dTypes, "/api/crm/type/list?vbot_id=vbot1&project_code=proj1"},
	{dAdmin, "/admin/v1/sync"},
	{dAdmin, "/readyz"},
}

func TestDiskFullAndReadOnlyDatabase(t *testing.T) {
	ctx := context.Background()
	for _, fault := range []struct {
		name, message string
		set, lift     func(h *harness) error
	}{
		{"disk full", "disk is full",
			func(h *harness) error { _, err := h.db.SetMaxPageCount(ctx, 1); return err },
			func(h *harness) error { _, err := h.db.SetMaxPageCount(ctx, 1<<30); return err }},
		{"read-only file", "read-only",
			func(h *harness) error { return h.db.SetQueryOnly(ctx, true) },
			func(h *harness) error { return h.db.SetQueryOnly(ctx, false) }},
	} {
		t.Run(fault.name, func(t *testing.T) {
			t.Parallel()
			h := newHarness(t, withOfflineUpstream)
			seedForBadInput(t, h)
			if err := fault.set(h); err != nil {
				t.Fatal(err)
			}
			for _, w := range faultWrites() {
				before := tableCounts(t, h)
				resp, b := rawDo(t, h, w.method, w.url, w.token, w.body)
				checkSecurityHeaders(t, resp)
				if resp.StatusCode != 503 {
					t.Errorf("%s %s: status %d, want 503; body %.300s", w.method, w.url, resp.StatusCode, b)
					continue
				}
				msg, problem := errorEnvelope(w.dialect, 503, b)
				if problem != "" {
					t.Errorf("%s %s: not the %s envelope (%s): %.300s", w.method, w.url, w.dialect, problem, b)
				}
				if !strings.Contains(msg, fault.message) {
					t.Errorf("%s %s: message %q does not say %q", w.method, w.url, msg, fault.message)
				}
				if resp.Header.Get("Retry-After") == "" {
					t.Errorf("%s %s: a 503 without Retry-After", w.method, w.url)
				}
				sameCounts(t, before, tableCounts(t, h))
			}
			for _, r := range faultReads {
				resp, b := rawDo(t, h, "GET", r.url, "", "")
				if resp.StatusCode != 200 || isFailureBody(r.dialect, b) {
					t.Errorf("read %s during the fault: %d %.300s", r.url, resp.StatusCode, b)
				}
			}
			// Space (or write access) comes back: the same writes succeed.
			if err := fault.lift(h); err != nil {
				t.Fatal(err)
			}
			for _, w := range faultWrites() {
				before := tableCounts(t, h)
				resp, b := rawDo(t, h, w.method, w.url, w.token, w.body)
				if resp.StatusCode < 200 || resp.StatusCode > 299 || isFailureBody(w.dialect, b) {
					t.Errorf("%s %s after the fault: %d %.300s", w.method, w.url, resp.StatusCode, b)
				}
				if w.dialect != dAdmin && maps.Equal(before, tableCounts(t, h)) {
					t.Errorf("%s %s after the fault wrote nothing", w.method, w.url)
				}
			}
			if problems, err := h.db.IntegrityCheck(ctx); err != nil || len(problems) > 0 {
				t.Errorf("integrity_check after the fault: %v %v", problems, err)
			}
		})
	}
}
