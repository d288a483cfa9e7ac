package edge_test

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"slices"
	"testing"
	"time"

	"crmedge/edge"
)

// TestOutboxRetention: delivered events older than the retention are deleted,
// a batch per write, oldest first; pending and dead events stay whatever their
// age; and the sync status still knows when the central last accepted a
// write, from the outbox, with no upstream client to remember it (as after a
// restart).
func TestOutboxRetention(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	h := newHarness(t)
	now := h.clock.Now()
	day := 24 * time.Hour
	const keep = 30 * 24 * time.Hour

	type seeded struct {
		id    string
		state int
		at    time.Time // delivered or dead-lettered; pending: created
	}
	seeds := []seeded{
		{"6b0000000000000000000001", edge.EventDelivered, now.Add(-40 * day)},
		{"6b0000000000000000000002", edge.EventDelivered, now.Add(-31 * day)},
		{"6b0000000000000000000003", edge.EventDelivered, now.Add(-1 * day)},
		{"6b0000000000000000000004", edge.EventPending, now.Add(-60 * day)},
		{"6b0000000000000000000005", edge.EventDead, now.Add(-50 * day)},
	}
	// More old deliveries than one batch deletes.
	for i := range 2500 {
		seeds = append(seeds, seeded{fmt.Sprintf("6c%022x", i), edge.EventDelivered, now.Add(-45*day + time.Duration(i)*time.Second)})
	}
	if err := h.db.Write(ctx, func(tx edge.Tx) error {
		for _, s := range seeds {
			ev := &edge.Event{ID: s.id, Stream: "customer-" + s.id[20:], Kind: edge.KindMemberCreate,
				Call: edge.Call{Method: "POST", Path: "/customers_location", Body: []byte(`{}`)}, CreatedAt: s.at.Add(-time.Minute)}
			if err := tx.AppendEvent(ev); err != nil {
				return err
			}
			switch s.state {
			case edge.EventDelivered:
				if err := tx.EventDelivered(s.id, 200, s.at); err != nil {
					return err
				}
			case edge.EventDead:
				if err := tx.EventDead(s.id, 422, `{"message":"no"}`, s.at); err != nil {
					return err
				}
			}
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}

	n, err := h.svc.PruneDelivered(ctx, keep)
	if err != nil || n != 2502 {
		t.Fatalf("prune: %d deleted, %v; want 2502 (2,500 + 2 delivered over 30 days ago)", n, err)
	}
	left, err := h.svc.OutboxEvents(ctx, edge.OutboxFilter{State: -1, Limit: 100})
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, ev := range left {
		ids = append(ids, ev.ID)
	}
	slices.Sort(ids)
	want := []string{"6b0000000000000000000003", "6b0000000000000000000004", "6b0000000000000000000005"}
	if !slices.Equal(ids, want) {
		t.Errorf("left after prune: %v, want %v (the recent delivery, the old pending, the old dead)", ids, want)
	}
	if n, err := h.svc.PruneDelivered(ctx, keep); err != nil || n != 0 {
		t.Errorf("second prune: %d, %v; want 0", n, err)
	}

	st, err := h.svc.Sync(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if wantAt := now.Add(-day).Truncate(time.Millisecond); !st.LastSuccess.Equal(wantAt) || st.Pending != 1 || st.Dead != 1 {
		t.Errorf("sync: last success %v, pending %d, dead %d; want %v, 1, 1", st.LastSuccess, st.Pending, st.Dead, wantAt)
	}

	// RunRetention prunes at start and on every tick, and stops with ctx.
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		h.svc.RunRetention(runCtx, keep, 10*time.Millisecond, slog.New(slog.NewTextHandler(io.Discard, nil)))
	}()
	h.clock.Advance(2 * day) // the remaining delivery is now 3 days old: kept
	h.clock.Advance(28 * day)
	deadline := time.Now().Add(5 * time.Second)
	for {
		st, err := h.svc.Sync(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if st.LastSuccess.IsZero() {
			break // the last delivery, now 31 days old, is gone
		}
		if time.Now().After(deadline) {
			t.Fatalf("RunRetention did not prune the 31-day-old delivery: %+v", st)
		}
		time.Sleep(5 * time.Millisecond)
	}
	stop()
	<-done
	if st, _ := h.svc.Sync(ctx); st.Pending != 1 || st.Dead != 1 {
		t.Errorf("after RunRetention: pending %d, dead %d; want 1, 1", st.Pending, st.Dead)
	}
}
