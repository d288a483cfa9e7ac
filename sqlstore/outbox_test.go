package sqlstore

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"crmedge/edge"
)

// BenchmarkDueEvents is a wake of the forwarder (16 free workers) with
// 50,000 pending events over 5,000 streams. Offline, every stream's head
// waits out a backoff and nothing is due: a call must not read the backlog.
// Online, every head is due. Then the older half of the heads backed off,
// the younger never tried: the due heads are not among the oldest.
func BenchmarkDueEvents(b *testing.B) {
	for _, c := range []struct {
		name           string
		backedOff, due int // heads, in seq order
	}{
		{"offline", 5000, 0},
		{"online", 0, 5000},
		{"older half backed off", 2500, 2500},
	} {
		b.Run(c.name, func(b *testing.B) { benchDueEvents(b, c.backedOff, c.due) })
	}
}

func benchDueEvents(b *testing.B, backedOff, due int) {
	ctx := context.Background()
	db, err := Open(ctx, filepath.Join(b.TempDir(), "due.db"), Options{Synchronous: "NORMAL"})
	if err != nil {
		b.Fatal(err)
	}
	defer db.Close()
	now := time.UnixMilli(1_700_000_000_000)
	streams := backedOff + due
	err = db.Write(ctx, func(tx edge.Tx) error {
		for i := range 50_000 {
			ev := &edge.Event{ID: fmt.Sprintf("6c%022x", i), Stream: fmt.Sprintf("s%05d", i%streams), Kind: "k",
				Call: edge.Call{Method: "POST", Path: "/p", Body: []byte("{}")}, CreatedAt: now}
			if err := tx.AppendEvent(ev); err != nil {
				return err
			}
			if i < backedOff {
				err = tx.EventRetry(ev.ID, 0, "offline", now.Add(time.Hour))
			} else if i < streams && backedOff == 0 {
				err = tx.EventRetry(ev.ID, 0, "offline", now.Add(-time.Minute))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for b.Loop() {
		err := db.Read(ctx, func(tx edge.Tx) error {
			evs, err := tx.DueEvents(now, 16, nil)
			if want := min(16, due); err == nil && len(evs) != want {
				err = fmt.Errorf("%d due events, want %d", len(evs), want)
			}
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// refDueQuery is DueEvents as it was before outbox_heads: the reference the
// heads are checked against.
const refDueQuery = `SELECT seq FROM outbox o
	WHERE o.state = 0 AND o.next_try <= ?
	  AND o.seq = (SELECT MIN(seq) FROM outbox WHERE state = 0 AND stream = o.stream)
	  AND o.stream NOT IN (SELECT value FROM json_each(?))
	ORDER BY o.seq LIMIT ?`

// TestDueEventsFollowTheOutbox runs random appends, deliveries, retries,
// dead letters, requeues, expedites and prunes, and after each checks that
// outbox_heads holds each stream's oldest pending event and that DueEvents
// answers what refDueQuery does, for several clocks, limits and skips.
func TestDueEventsFollowTheOutbox(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "heads.db"))
	rnd := rand.New(rand.NewPCG(1, 2))
	base := time.UnixMilli(1_700_000_000_000)
	at := func(sec int) time.Time { return base.Add(time.Duration(sec) * time.Second) }
	// More streams than dueWindow: both of DueEvents' queries answer.
	var streams []string
	for i := range dueWindow + 8 {
		streams = append(streams, fmt.Sprintf("s%02d", i))
	}
	var ids []string
	ops := map[string]int{}
	for step := range 250 {
		var op string
		err := db.Write(ctx, func(etx edge.Tx) error {
			tx, now := etx.(*txn), at(step)
			if len(ids) == 0 || rnd.IntN(3) == 0 {
				op = "append"
				id := fmt.Sprintf("6c%022d", len(ids))
				ids = append(ids, id)
				// One stream gets a burst of them.
				s := streams[min(rnd.IntN(len(streams)+8), len(streams)-1)]
				return tx.AppendEvent(&edge.Event{ID: id, Stream: s, Kind: "k",
					Call: edge.Call{Method: "POST", Path: "/p", Body: []byte("{}")}, CreatedAt: now})
			}
			// Mostly a stream's head, else any pending event; a dead one to
			// requeue; now and then any event at all (a no-op or a stale call).
			pending, err := tx.Events(edge.OutboxFilter{State: edge.EventPending, Limit: 1 << 20})
			if err != nil {
				return err
			}
			dead, err := tx.Events(edge.OutboxFilter{State: edge.EventDead, Limit: 1 << 20})
			if err != nil {
				return err
			}
			pick := func(evs []edge.Event) string {
				if len(evs) == 0 || rnd.IntN(10) == 0 {
					return ids[rnd.IntN(len(ids))]
				}
				return evs[rnd.IntN(len(evs))].ID
			}
			id := pick(pending)
			if rnd.IntN(4) != 0 && len(pending) > 0 {
				// The stream's head: its oldest pending event.
				s := pending[rnd.IntN(len(pending))].Stream
				id = pending[slices.IndexFunc(pending, func(e edge.Event) bool { return e.Stream == s })].ID
			}
			switch rnd.IntN(8) {
			case 0, 1:
				op = "deliver"
				return tx.EventDelivered(id, 200, now)
			case 2, 3:
				op = "retry"
				status := []int{0, 0, 503, 429}[rnd.IntN(4)]
				return tx.EventRetry(id, status, "no", at(step+rnd.IntN(120)-20))
			case 4:
				op = "dead"
				return tx.EventDead(id, 422, "{}", now)
			case 5, 6:
				op = "requeue"
				_, err := tx.RequeueEvent(pick(dead), at(step+rnd.IntN(40)-20))
				return err
			default:
				if rnd.IntN(2) == 0 {
					op = "expedite"
					_, err := tx.ExpediteEvents(now)
					return err
				}
				op = "prune"
				_, err := tx.PruneDelivered(at(step-rnd.IntN(50)), 3)
				return err
			}
		})
		if err != nil {
			t.Fatalf("step %d (%s): %v", step, op, err)
		}
		ops[op]++
		checkHeads(t, db, fmt.Sprintf("step %d, after %s", step, op), at(step))
	}
	t.Logf("operations: %v", ops)
}

// Streams whose heads wait out a backoff fill the window of oldest heads:
// the due heads behind them are found all the same, oldest first.
func TestDueEventsBeyondTheWindow(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	db := openTest(t, filepath.Join(t.TempDir(), "window.db"))
	now := time.UnixMilli(1_700_000_000_000)
	err := db.Write(ctx, func(tx edge.Tx) error {
		for i := range 2*dueWindow + 10 {
			id := fmt.Sprintf("6c%022d", i)
			err := tx.AppendEvent(&edge.Event{ID: id, Stream: fmt.Sprintf("s%03d", i), Kind: "k",
				Call: edge.Call{Method: "POST", Path: "/p", Body: []byte("{}")}, CreatedAt: now})
			if err == nil && i < dueWindow+10 {
				err = tx.EventRetry(id, 0, "offline", now.Add(time.Minute))
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	checkHeads(t, db, "behind backed-off heads", now)
	err = db.Read(ctx, func(tx edge.Tx) error {
		evs, err := tx.DueEvents(now, 2, []string{fmt.Sprintf("s%03d", dueWindow+10)})
		if err != nil {
			return err
		}
		if len(evs) != 2 || evs[0].Stream != fmt.Sprintf("s%03d", dueWindow+11) || evs[1].Stream != fmt.Sprintf("s%03d", dueWindow+12) {
			t.Errorf("due events %+v, want the heads of s%03d and s%03d", evs, dueWindow+11, dueWindow+12)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// checkHeads compares outbox_heads with the outbox, and DueEvents with
// refDueQuery around now.
func checkHeads(t *testing.T, db *DB, when string, now time.Time) {
	t.Helper()
	err := db.Read(context.Background(), func(etx edge.Tx) error {
		tx := etx.(*txn)
		heads := func(q string) (string, error) {
			var s string
			_, err := tx.row(`SELECT COALESCE(group_concat(stream || ':' || seq || '@' || next_try, ' '), '') FROM (`+q+` ORDER BY stream)`, nil, &s)
			return s, err
		}
		got, err := heads(`SELECT stream, seq, next_try FROM outbox_heads`)
		if err != nil {
			return err
		}
		want, err := heads(`SELECT stream, seq, next_try FROM outbox o
			WHERE state = 0 AND seq = (SELECT MIN(seq) FROM outbox WHERE state = 0 AND stream = o.stream)`)
		if err != nil {
			return err
		}
		if got != want {
			return fmt.Errorf("outbox_heads %q, want %q", got, want)
		}
		for _, c := range []struct {
			now   time.Time
			limit int
			skip  []string
		}{
			{now, 1, nil},
			{now, 3, []string{"s00", "s39"}},
			{now, -1, nil},
			{now.Add(-30 * time.Second), 2, []string{"s01"}},
			{now.Add(30 * time.Second), 100, []string{"s39", "zz"}},
		} {
			evs, err := tx.DueEvents(c.now, c.limit, c.skip)
			if err != nil {
				return err
			}
			var gotSeqs []int64
			for _, e := range evs {
				if e.State != edge.EventPending || e.NextTry.After(c.now) {
					return fmt.Errorf("due event %+v at %v", e, c.now)
				}
				gotSeqs = append(gotSeqs, e.Seq)
			}
			skipJSON, _ := json.Marshal(append([]string{}, c.skip...))
			r, err := tx.query(refDueQuery, ms(c.now), string(skipJSON), c.limit)
			if err != nil {
				return err
			}
			var wantSeqs []int64
			for r.Next() {
				var seq int64
				if err := r.Scan(&seq); err != nil {
					r.Close()
					return err
				}
				wantSeqs = append(wantSeqs, seq)
			}
			if err := closeRows(r); err != nil {
				return err
			}
			if !slices.Equal(gotSeqs, wantSeqs) {
				return fmt.Errorf("DueEvents(%d, %d, %v) = %v, want %v", ms(c.now), c.limit, c.skip, gotSeqs, wantSeqs)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatalf("%s: %v", when, err)
	}
}
