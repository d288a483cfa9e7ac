package upstream

import (
	"errors"
	"net/http"
	"testing"
	"time"
)

func TestClassify(t *testing.T) {
	t.Parallel()
	for _, c := range []struct {
		status int
		err    error
		want   verdict
	}{
		{0, errors.New("connection refused"), retry},
		{200, nil, delivered}, {201, nil, delivered}, {204, nil, delivered},
		{408, nil, retry}, {429, nil, retry}, {500, nil, retry}, {502, nil, retry}, {503, nil, retry},
		{400, nil, dead}, {401, nil, dead}, {403, nil, dead}, {404, nil, dead}, {409, nil, dead}, {422, nil, dead},
		{301, nil, retry}, {308, nil, retry}, // a wrong URL, not a refused write
	} {
		if got := classify(c.status, c.err); got != c.want {
			t.Errorf("classify(%d, %v) = %d, want %d", c.status, c.err, got, c.want)
		}
	}
}

func TestRetryAfter(t *testing.T) {
	t.Parallel()
	now := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC)
	for _, c := range []struct {
		v    string
		want time.Duration
		ok   bool
	}{
		{"", 0, false}, {"soon", 0, false},
		{"0", 0, true}, {"7", 7 * time.Second, true}, {"-3", 0, true},
		{"86400", time.Hour, true}, // capped
		{now.Add(90 * time.Second).Format(http.TimeFormat), 90 * time.Second, true},
	} {
		got, ok := retryAfter(c.v, now)
		if got != c.want || ok != c.ok {
			t.Errorf("retryAfter(%q) = %s %v, want %s %v", c.v, got, ok, c.want, c.ok)
		}
	}
}

func TestNewRejectsBadURLs(t *testing.T) {
	t.Parallel()
	for _, u := range []string{"", "crm.example.com", "ftp://x", "http://", "http://x/?token=1", "http://x/#f"} {
		if _, err := New(Options{BaseURL: u}); err == nil {
			t.Errorf("New(%q) accepted", u)
		}
	}
	c, err := New(Options{BaseURL: "https://crm.example.com/api/"})
	if err != nil || c.base != "https://crm.example.com/api" {
		t.Errorf("New with a prefix: %v %q", err, c.base)
	}
}

func TestBackoffDelay(t *testing.T) {
	t.Parallel()
	base, capd := time.Second, 30*time.Second
	for _, c := range []struct {
		attempts int
		r        float64
		want     time.Duration
	}{
		{0, 0, 500 * time.Millisecond}, // the first retry is within 1 s
		{0, 0.999999, time.Second - time.Microsecond},
		{1, 0, time.Second},
		{4, 0, 8 * time.Second},
		{5, 0, 15 * time.Second}, // 32 s is over the cap: [15 s, 30 s)
		{5, 0.5, 22500 * time.Millisecond},
		{200, 0, 15 * time.Second}, // no overflow, however long the line is down
	} {
		got := backoffDelay(c.attempts, base, capd, c.r)
		if got < c.want-time.Millisecond || got > c.want+time.Millisecond {
			t.Errorf("backoffDelay(%d, r=%v) = %s, want %s", c.attempts, c.r, got, c.want)
		}
		if got > capd {
			t.Errorf("backoffDelay(%d) = %s is over the cap", c.attempts, got)
		}
	}
}
