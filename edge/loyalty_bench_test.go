package edge_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"crmedge/edge"
)

// heavyCustomer is the benchmarks' customer: phone 0867123456 with 10,000
// ledger entries (9,000 earned, 1,000 gifts), spread over 10,000 ms.
const heavyEntries = 10000

func heavyHarness(b *testing.B) *harness {
	b.Helper()
	h := newHarness(b)
	seedCatalog(b, h)
	codes := importCodes(b, h, "TIVI01", "H", heavyEntries*9/10)
	ctx := edge.WithPrincipal(context.Background(), edge.Principal{TokenName: "bench"})
	ct := edge.ContactPair("data", "+84867123456", "")
	run := func(n int, op func(i int) error) {
		var wg sync.WaitGroup
		var next atomic.Int64
		errs := make(chan error, 32)
		for range 32 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
					h.clock.Advance(time.Millisecond)
					if err := op(i); err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			b.Fatal(err)
		}
	}
	run(len(codes), func(i int) error {
		_, err := h.svc.Accumulate(ctx, edge.AccumulateRequest{Code: codes[i], Contact: &ct}, edge.Call{})
		return err
	})
	run(heavyEntries/10, func(int) error {
		_, err := h.svc.Redeem(ctx, edge.RedeemRequest{Code: "DAUMAY01", Contact: &ct}, edge.Call{})
		return err
	})
	_, _, n := ledgerSums(b, h, ct)
	if n != heavyEntries {
		b.Fatalf("the heavy customer has %d entries, want %d", n, heavyEntries)
	}
	return h
}

// send is one request for benchmarks: any goroutine, no t.Fatal inside.
func (h *harness) send(client *http.Client, method, url, body string) (int, error) {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, h.srv.URL+url, rd)
	if err != nil {
		return 0, err
	}
	req.Header.Set("Authorization", "Bearer "+h.tokens["admin"])
	resp, err := client.Do(req)
	if err != nil {
		return 0, err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode, nil
}

var benchPrefix atomic.Int64

// BenchmarkAccumulate earns points for the customer with 10,000 entries over
// real HTTP on loopback, with durable (synchronous=FULL) commits: one till at
// a time, and many at once (group commit).
func BenchmarkAccumulate(b *testing.B) {
	h := heavyHarness(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	fresh := func(b *testing.B) []string {
		return importCodes(b, h, "TIVI01", fmt.Sprintf("B%d", benchPrefix.Add(1)), b.N)
	}
	b.Run("serial", func(b *testing.B) {
		codes := fresh(b)
		b.ResetTimer()
		for i := range b.N {
			if st, err := h.send(client, "POST", "/accumulate", accumulateBody(codes[i], "0867123456", "")); err != nil || st != 200 {
				b.Fatalf("accumulate: %d %v", st, err)
			}
		}
	})
	b.Run("parallel", func(b *testing.B) {
		codes := fresh(b)
		var next atomic.Int64
		b.SetParallelism(16)
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				code := codes[next.Add(1)-1]
				if st, err := h.send(client, "POST", "/accumulate", accumulateBody(code, "0867123456", "")); err != nil || st != 200 {
					b.Errorf("accumulate: %d %v", st, err)
					return
				}
			}
		})
	})
}

// BenchmarkHistoryPage reads pages of the history of the customer with
// 10,000 entries over real HTTP on loopback.
func BenchmarkHistoryPage(b *testing.B) {
	h := heavyHarness(b)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	start := time.Date(2026, 11, 22, 10, 0, 0, 0, time.UTC).UnixMilli()
	for _, q := range []struct{ name, query string }{
		{"page1", "phone=0867123456"},
		{"page250", "phone=0867123456&page=250"},
		{"page500_last", "phone=0867123456&page=500"},
		{"gift_page1", "phone=0867123456&type=gift"},
		{"gift_range_page2", fmt.Sprintf("phone=0867123456&type=gift&createdAtRangeFrom=%d&createdAtRangeTo=%d&page=2", start+9000, start+10000)},
		{"point_range_page1", fmt.Sprintf("phone=0867123456&type=point&createdAtRangeFrom=%d&createdAtRangeTo=%d", start+4000, start+5000)},
	} {
		b.Run(q.name, func(b *testing.B) {
			if items := historyItems(b, h, q.query); len(items) != edge.HistoryPageSize {
				b.Fatalf("%s: %d items, want a full page", q.query, len(items))
			}
			b.ResetTimer()
			for range b.N {
				if st, err := h.send(client, "GET", "/history-point?"+q.query, ""); err != nil || st != 200 {
					b.Fatalf("history: %d %v", st, err)
				}
			}
		})
	}
}

// BenchmarkImportCodes parses and imports 100,000 random codes per op (one
// transaction each), as `crmedge import codes` does.
func BenchmarkImportCodes(b *testing.B) {
	h := newHarness(b)
	seedCatalog(b, h)
	const n = 100_000
	files := make([]string, 0, 4)
	for f := range 4 {
		var sb strings.Builder
		sb.WriteString("code,product_code,serial\n")
		x := uint64(f + 1)
		for i := range n {
			x ^= x << 13
			x ^= x >> 7
			x ^= x << 17
			fmt.Fprintf(&sb, "TIVI%016x,TIVI01,s%d\n", x, i)
		}
		files = append(files, sb.String())
	}
	b.ResetTimer()
	for i := range b.N {
		batch, err := edge.ParseCatalog(edge.CatalogCodes, strings.NewReader(files[i%len(files)]))
		if err != nil {
			b.Fatal(err)
		}
		if err := h.svc.ImportCatalog(context.Background(), batch, nil); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/code")
}
