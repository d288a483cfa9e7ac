package edge_test

// Helpers of the hardening tests (bad input, faults, security, fuzzing).

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"maps"
	"net/http"
	"strings"
	"testing"

	"crmedge/edge"
)

// offlineUpstream is a central CRM that is configured but unreachable: every
// accepted write is queued in the outbox (so "nothing half-written" covers
// the outbox too), and reads answer from local data.
type offlineUpstream struct{}

func (offlineUpstream) Status() edge.UpstreamStatus {
	return edge.UpstreamStatus{Online: false, LastError: "offline (test)"}
}

func (offlineUpstream) FetchMember(context.Context, string, string) (*edge.Customer, error) {
	return nil, errors.New("offline")
}

func (offlineUpstream) FetchHistory(context.Context, edge.Contact) ([]edge.LedgerEntry, error) {
	return nil, errors.New("offline")
}

func (offlineUpstream) Accumulate(context.Context, edge.Call) (int, []byte, error) {
	return 0, nil, errors.New("offline")
}

// withOfflineUpstream configures the harness with an unreachable upstream.
func withOfflineUpstream(o *harnessOptions) { o.upstream = offlineUpstream{} }

// tableCounts counts every table's rows.
func tableCounts(t testing.TB, h *harness) map[string]int64 {
	t.Helper()
	c, err := h.db.RowCounts(context.Background())
	if err != nil {
		t.Fatalf("row counts: %v", err)
	}
	return c
}

// sameCounts fails the test when a table's row count changed.
func sameCounts(t testing.TB, before, after map[string]int64) {
	t.Helper()
	if !maps.Equal(before, after) {
		for k, v := range after {
			if before[k] != v {
				t.Errorf("half-written: table %s went from %d to %d rows", k, before[k], v)
			}
		}
	}
}

// securityHeaders are set on every response, errors and 404s included.
var securityHeaders = map[string]string{
	"X-Content-Type-Options":  "nosniff",
	"X-Frame-Options":         "DENY",
	"Referrer-Policy":         "no-referrer",
	"Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
	"Cache-Control":           "no-store",
}

func checkSecurityHeaders(t testing.TB, resp *http.Response) {
	t.Helper()
	for k, v := range securityHeaders {
		if got := resp.Header.Get(k); got != v {
			t.Errorf("%s %s: header %s = %q, want %q", resp.Request.Method, resp.Request.URL.Path, k, got, v)
		}
	}
	if resp.Header.Get("X-Request-Id") == "" {
		t.Errorf("%s %s: no X-Request-Id", resp.Request.Method, resp.Request.URL.Path)
	}
}

// Dialect names for envelope checks.
const (
	dMember  = "member"
	dLoyalty = "loyalty"
	dTypes   = "types"
	dProfile = "profile"
	dAdmin   = "admin"
)

// errorEnvelope checks that body is dialect's error envelope for status and
// returns its message. It reports why not, or "" when it is.
func errorEnvelope(dialect string, status int, body []byte) (msg string, problem string) {
	var m map[string]any
	if err := json.Unmarshal(body, &m); err != nil {
		return "", "not a JSON object: " + err.Error()
	}
	msg, _ = m["message"].(string)
	if strings.TrimSpace(msg) == "" {
		return "", "no message"
	}
	num := func(k string) float64 { f, _ := m[k].(float64); return f }
	switch dialect {
	case dMember:
		if num("status") != float64(status) || m["data"] != nil {
			return msg, "not {status: HTTP status, data: null}"
		}
	case dLoyalty:
		if v, ok := m["success"].(float64); !ok || v != 0 {
			return msg, "success is not 0"
		}
		if e, _ := m["error"].(string); e == "" {
			return msg, "no machine error code"
		}
	case dTypes:
		want := map[int]float64{400: 1, 413: 1, 404: 2, 409: 3, 401: 4, 403: 4}[status]
		if want == 0 {
			want = 5
		}
		if v, ok := m["status"].(float64); !ok || v != 0 || num("error") != want {
			return msg, "not {status: 0, error: " + string(rune('0'+int(want))) + "}"
		}
	case dProfile:
		if num("code") != float64(status) || m["data"] != nil {
			return msg, "not {data: null, code: HTTP status}"
		}
	case dAdmin:
		if m["ok"] != false {
			return msg, "ok is not false"
		}
		if e, _ := m["error"].(string); e == "" {
			return msg, "no error code"
		}
	}
	return msg, ""
}

// failed reports whether a 2xx body is nevertheless a failure envelope: no
// dialect may answer a failure with a 200.
func isFailureBody(dialect string, body []byte) bool {
	var m map[string]any
	if json.Unmarshal(body, &m) != nil {
		var arr []any
		return json.Unmarshal(body, &arr) != nil // history answers an array
	}
	switch dialect {
	case dMember:
		return m["status"] != float64(200)
	case dLoyalty:
		return m["success"] != float64(1)
	case dTypes:
		return m["status"] != float64(1) || m["error"] != float64(0)
	case dProfile:
		c, _ := m["code"].(float64)
		return c < 200 || c > 299 || m["data"] == nil
	case dAdmin:
		return m["ok"] == false // the sync status has no "ok"
	}
	return true
}

func readRespBody(t testing.TB, resp *http.Response) []byte {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("read body: %v", err)
	}
	return b
}
