package edge

import (
	"context"
	"fmt"
	"time"
)

// SyncStatus is what `GET /admin/v1/sync` shows.
type SyncStatus struct {
	Online        bool
	Pending       int64
	Dead          int64
	OldestPending time.Time
	LastSuccess   time.Time
	LastError     string
}

// Sync reports the outbox and the central CRM's reachability.
func (s *Service) Sync(ctx context.Context) (SyncStatus, error) {
	var st SyncStatus
	err := s.store.Read(ctx, func(tx Tx) error {
		c, err := tx.SyncCounts()
		st.Pending, st.Dead, st.OldestPending, st.LastSuccess = c.Pending, c.Dead, c.OldestPending, c.LastDelivered
		return err
	})
	if err != nil {
		return st, fmt.Errorf("sync status: %w", err)
	}
	if s.upstream != nil {
		u := s.upstream.Status()
		st.Online, st.LastError = u.Online, u.LastError
		// The client knows this run's successes (read-through too); the
		// outbox remembers deliveries across restarts.
		if u.LastSuccess.After(st.LastSuccess) {
			st.LastSuccess = u.LastSuccess
		}
	}
	return st, nil
}

// DueEvents returns, for up to limit streams not in skip, the oldest pending
// event of the stream if it is due: the forwarder's work list.
func (s *Service) DueEvents(ctx context.Context, limit int, skip []string) ([]Event, error) {
	var out []Event
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		out, err = tx.DueEvents(s.nowMs(), limit, skip)
		return err
	})
	return out, err
}

// EventDelivered records the central's acceptance: the event is done and its
// ledger entry, if any, is confirmed (and live again if a retried dead letter
// had turned it off).
func (s *Service) EventDelivered(ctx context.Context, ev *Event, status int) error {
	return s.store.Write(ctx, func(tx Tx) error {
		if err := tx.EventDelivered(ev.ID, status, s.nowMs()); err != nil {
			return err
		}
		if ev.LedgerID != "" {
			return tx.SetLedgerEntry(ev.LedgerID, StatusLive, true)
		}
		return nil
	})
}

// EventRejected dead-letters an event the central refused for good. A
// rejected accumulate or redeem turns its ledger entry to status 0: earned
// points go, spent points come back.
func (s *Service) EventRejected(ctx context.Context, ev *Event, status int, body string) error {
	if len(body) > 4096 {
		body = body[:4096]
	}
	return s.store.Write(ctx, func(tx Tx) error {
		if err := tx.EventDead(ev.ID, status, body, s.nowMs()); err != nil {
			return err
		}
		if ev.LedgerID != "" {
			return tx.SetLedgerEntry(ev.LedgerID, StatusRejected, true)
		}
		return nil
	})
}

// EventRetry schedules another attempt.
func (s *Service) EventRetry(ctx context.Context, ev *Event, status int, lastErr string, next time.Time) error {
	if len(lastErr) > 1024 {
		lastErr = lastErr[:1024]
	}
	return s.store.Write(ctx, func(tx Tx) error {
		return tx.EventRetry(ev.ID, status, lastErr, next)
	})
}

// ExpediteRetries makes due at once every pending event whose last attempt
// could not reach the central CRM (network error or timeout): called when the
// line comes back, so the backlog drains without waiting out its backoff.
// Events the central answered (429, 5xx) keep their schedule.
func (s *Service) ExpediteRetries(ctx context.Context) (int64, error) {
	var n int64
	err := s.store.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.ExpediteEvents(s.nowMs())
		return err
	})
	if err != nil {
		return 0, fmt.Errorf("expedite retries: %w", err)
	}
	return n, nil
}

// OutboxEvents lists events for operators.
func (s *Service) OutboxEvents(ctx context.Context, f OutboxFilter) ([]Event, error) {
	if f.Limit <= 0 || f.Limit > 10000 {
		f.Limit = 100
	}
	var out []Event
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Events(f)
		return err
	})
	return out, err
}

// RetryDeadEvent puts the dead letter id back in the queue; an id that is
// not a dead letter is ENOTFOUND.
func (s *Service) RetryDeadEvent(ctx context.Context, id string) error {
	n, err := s.requeueDead(ctx, func(Tx) ([]string, error) { return []string{id}, nil })
	if err == nil && n == 0 {
		return Errorf(ENOTFOUND, "No dead-lettered event %q", id)
	}
	return err
}

// RetryAllDead puts every dead letter back in the queue and returns how many
// there were.
func (s *Service) RetryAllDead(ctx context.Context) (int, error) {
	return s.requeueDead(ctx, func(tx Tx) ([]string, error) {
		dead, err := tx.Events(OutboxFilter{State: EventDead, Limit: 1 << 30})
		ids := make([]string, 0, len(dead))
		for _, e := range dead {
			ids = append(ids, e.ID)
		}
		return ids, err
	})
}

// requeueDead requeues, in one write, the dead letters among the ids that
// pick returns, and counts them.
func (s *Service) requeueDead(ctx context.Context, pick func(Tx) ([]string, error)) (int, error) {
	n := 0
	err := s.store.Write(ctx, func(tx Tx) error {
		ids, err := pick(tx)
		if err != nil {
			return err
		}
		for _, id := range ids {
			ok, err := tx.RequeueEvent(id, s.nowMs())
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		return nil
	})
	if err != nil {
		return 0, fmt.Errorf("retry dead letters: %w", err)
	}
	return n, nil
}

// IdempotentResponse returns the stored answer to a request already applied
// under key.
func (s *Service) IdempotentResponse(ctx context.Context, key string) (int, []byte, bool, error) {
	var status int
	var body []byte
	var found bool
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		status, body, found, err = tx.IdempotentResponse(key)
		return err
	})
	return status, body, found, err
}

// SaveIdempotentResponse keeps the answer to a request applied under key.
func (s *Service) SaveIdempotentResponse(ctx context.Context, key string, status int, body []byte) error {
	return s.store.Write(ctx, func(tx Tx) error {
		return tx.SaveIdempotentResponse(key, status, body)
	})
}
