package upstream_test

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"crmedge/edge"
	"crmedge/sqlstore"
	"crmedge/upstream"
	"crmedge/upstream/fakecrm"
)

// BenchmarkForwarderDrain measures how fast a backlog drains against a
// central that takes 50 ms per call: events queued while the line was down,
// 5 per customer (a create and 4 updates, which must go in order), forwarded
// with the concurrency of the sub-benchmark's name.
//
// One at a time, 10,000 events would take over 500 s (10,000 × 50 ms), so
// concurrency=1 drains a sample of 200 and its events/s is the figure to
// compare; the others drain the full 10,000.
//
//	go test -run '^$' -bench ForwarderDrain -benchtime 1x ./upstream/
func BenchmarkForwarderDrain(b *testing.B) {
	for _, c := range []struct{ concurrency, events int }{{1, 200}, {8, 10000}, {16, 10000}, {32, 10000}} {
		b.Run(fmt.Sprintf("concurrency=%d", c.concurrency), func(b *testing.B) {
			var total time.Duration
			for range b.N {
				total += drainOnce(b, c.concurrency, c.events)
			}
			perRun := total / time.Duration(b.N)
			b.ReportMetric(float64(c.events)/perRun.Seconds(), "events/s")
			b.ReportMetric(float64(c.events), "events")
			b.ReportMetric(perRun.Seconds()*10000/float64(c.events), "s/10k-events")
		})
	}
}

// drainOnce queues n events on a fresh edge database and times the forwarder
// draining them into a fresh fake central with 50 ms of latency per call.
func drainOnce(b *testing.B, concurrency, n int) time.Duration {
	b.StopTimer()
	ctx := context.Background()
	db, err := sqlstore.Open(ctx, filepath.Join(b.TempDir(), "edge.db"), sqlstore.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	crm, url, err := fakecrm.NewServer(fakecrm.Options{Token: "t"})
	if err != nil {
		b.Fatal(err)
	}
	defer crm.Close()
	crm.SetLatency(50 * time.Millisecond)
	client, err := upstream.New(upstream.Options{BaseURL: url, Token: "t", EdgeID: "bench", Concurrency: concurrency})
	if err != nil {
		b.Fatal(err)
	}
	svc := edge.NewService(edge.Config{Store: db, Upstream: client, Notify: client.Notify})
	ids := edge.NewIDGenerator(time.Now)
	customers := make([]string, n/5)
	for i := range customers {
		customers[i] = ids.NewID()
	}
	// Queued as a day offline would: customers interleaved, each one's
	// events in order.
	var evs []edge.Event
	for round := range 5 {
		for i, id := range customers {
			method, kind := "PUT", edge.KindMemberUpdate
			if round == 0 {
				method, kind = "POST", edge.KindMemberCreate
			}
			body := fmt.Sprintf(`{"_id":%q,"phone":"09%08d","name":"v%d"}`, id, i, round)
			evs = append(evs, edge.Event{ID: ids.NewID(), Stream: id, Kind: kind, State: edge.EventPending,
				Call:      edge.Call{Method: method, Path: "/customers_location", Query: "pos_id=shop1", Body: []byte(body)},
				CreatedAt: time.Now()})
		}
	}
	for len(evs) > 0 {
		batch := evs[:min(len(evs), 1000)]
		evs = evs[len(batch):]
		if err := db.Write(ctx, func(tx edge.Tx) error {
			for i := range batch {
				if err := tx.AppendEvent(&batch[i]); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			b.Fatal(err)
		}
	}

	fctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	b.StartTimer()
	start := time.Now()
	go func() {
		defer close(done)
		upstream.NewForwarder(client, svc, upstream.ForwarderOptions{}).Run(fctx)
	}()
	for {
		st, err := svc.Sync(ctx)
		if err != nil {
			b.Fatal(err)
		}
		if st.Pending == 0 {
			break
		}
		if st.Dead > 0 {
			b.Fatalf("dead letters while draining: %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	if got := crm.Stats().Applied; got != n {
		b.Fatalf("the central applied %d of %d events", got, n)
	}
	return elapsed
}
