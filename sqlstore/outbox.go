package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"crmedge/edge"
)

const eventColumns = `seq, id, stream, kind, method, path, query, body, ledger_id, state, attempts, next_try,
	last_status, last_error, last_body, created_at, done_at`

func scanEvent(sc interface{ Scan(...any) error }, e *edge.Event) error {
	var next, created, done int64
	err := sc.Scan(&e.Seq, &e.ID, &e.Stream, &e.Kind, &e.Call.Method, &e.Call.Path, &e.Call.Query, &e.Call.Body,
		&e.LedgerID, &e.State, &e.Attempts, &next, &e.LastStatus, &e.LastError, &e.LastBody, &created, &done)
	e.NextTry, e.CreatedAt, e.DoneAt = fromMs(next), fromMs(created), fromMs(done)
	return err
}

func (t *txn) events(q string, args ...any) ([]edge.Event, error) {
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, err
	}
	var out []edge.Event
	for rows.Next() {
		var e edge.Event
		if err := scanEvent(rows, &e); err != nil {
			rows.Close()
			return nil, err
		}
		out = append(out, e)
	}
	return out, closeRows(rows)
}

func (t *txn) AppendEvent(e *edge.Event) error {
	res, err := t.exec(`INSERT INTO outbox (id, stream, kind, method, path, query, body, ledger_id, state, created_at)
		VALUES (?,?,?,?,?,?,?,?,0,?)`,
		e.ID, e.Stream, e.Kind, e.Call.Method, e.Call.Path, e.Call.Query, e.Call.Body, e.LedgerID, ms(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("append outbox event: %w", err)
	}
	e.Seq, _ = res.LastInsertId()
	return nil
}

func (t *txn) Event(id string) (*edge.Event, error) {
	evs, err := t.events(`SELECT `+eventColumns+` FROM outbox WHERE id = ?`, id)
	if err != nil || len(evs) == 0 {
		if err != nil {
			err = fmt.Errorf("outbox event %s: %w", id, err)
		}
		return nil, err
	}
	return &evs[0], nil
}

// DueEvents returns the head (oldest pending event) of each stream not in
// skip whose next attempt is due. Later events of a stream wait for its head:
// that is what keeps one customer's writes in commit order.
func (t *txn) DueEvents(now time.Time, limit int, skip []string) ([]edge.Event, error) {
	if skip == nil {
		skip = []string{}
	}
	skipJSON, _ := json.Marshal(skip)
	evs, err := t.events(`SELECT `+eventColumns+` FROM outbox o
		WHERE o.state = 0 AND o.next_try <= ?
		  AND o.seq = (SELECT MIN(seq) FROM outbox WHERE state = 0 AND stream = o.stream)
		  AND o.stream NOT IN (SELECT value FROM json_each(?))
		ORDER BY o.seq LIMIT ?`, ms(now), string(skipJSON), limit)
	if err != nil {
		return nil, fmt.Errorf("due events: %w", err)
	}
	return evs, nil
}

func (t *txn) EventDelivered(id string, status int, at time.Time) error {
	_, err := t.exec(`UPDATE outbox SET state = 1, attempts = attempts + 1, last_status = ?, last_error = '',
		done_at = ? WHERE id = ?`, status, ms(at), id)
	if err != nil {
		return fmt.Errorf("event delivered: %w", err)
	}
	return nil
}

func (t *txn) EventRetry(id string, status int, lastErr string, next time.Time) error {
	_, err := t.exec(`UPDATE outbox SET attempts = attempts + 1, last_status = ?, last_error = ?, next_try = ?
		WHERE id = ? AND state = 0`, status, lastErr, ms(next), id)
	if err != nil {
		return fmt.Errorf("event retry: %w", err)
	}
	return nil
}

func (t *txn) EventDead(id string, status int, body string, at time.Time) error {
	_, err := t.exec(`UPDATE outbox SET state = 2, attempts = attempts + 1, last_status = ?, last_body = ?,
		last_error = 'rejected by upstream', done_at = ? WHERE id = ?`, status, body, ms(at), id)
	if err != nil {
		return fmt.Errorf("event dead: %w", err)
	}
	return nil
}

func (t *txn) RequeueEvent(id string, at time.Time) (bool, error) {
	res, err := t.exec(`UPDATE outbox SET state = 0, next_try = ?, done_at = 0 WHERE id = ? AND state = 2`, ms(at), id)
	if err != nil {
		return false, fmt.Errorf("requeue event: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

// ExpediteEvents makes due now the pending events whose last attempt got no
// HTTP answer (last_status 0) and that wait out a backoff.
func (t *txn) ExpediteEvents(now time.Time) (int64, error) {
	res, err := t.exec(`UPDATE outbox SET next_try = ? WHERE state = 0 AND last_status = 0 AND next_try > ?`, ms(now), ms(now))
	if err != nil {
		return 0, fmt.Errorf("expedite events: %w", err)
	}
	return res.RowsAffected()
}

func (t *txn) Events(f edge.OutboxFilter) ([]edge.Event, error) {
	var evs []edge.Event
	var err error
	if f.State < 0 {
		evs, err = t.events(`SELECT `+eventColumns+` FROM outbox ORDER BY seq LIMIT ?`, f.Limit)
	} else {
		evs, err = t.events(`SELECT `+eventColumns+` FROM outbox WHERE state = ? ORDER BY seq LIMIT ?`, f.State, f.Limit)
	}
	if err != nil {
		return nil, fmt.Errorf("list events: %w", err)
	}
	return evs, nil
}

func (t *txn) SyncCounts() (edge.SyncCounts, error) {
	var c edge.SyncCounts
	var oldest int64
	if _, err := t.row(`SELECT COUNT(*) FROM outbox WHERE state = 0`, nil, &c.Pending); err != nil {
		return c, fmt.Errorf("sync counts: %w", err)
	}
	if _, err := t.row(`SELECT COUNT(*) FROM outbox WHERE state = 2`, nil, &c.Dead); err != nil {
		return c, fmt.Errorf("sync counts: %w", err)
	}
	if _, err := t.row(`SELECT created_at FROM outbox WHERE state = 0 ORDER BY seq LIMIT 1`, nil, &oldest); err != nil {
		return c, fmt.Errorf("sync counts: %w", err)
	}
	c.OldestPending = fromMs(oldest)
	var last int64 // stays 0 (no time) when nothing delivered is kept
	if _, err := t.row(lastDeliveredQuery, nil, &last); err != nil {
		return c, fmt.Errorf("sync counts: %w", err)
	}
	c.LastDelivered = fromMs(last)
	return c, nil
}

// Both on the partial index outbox_delivered (migration 3): neither reads
// more than the rows it returns, however many events were delivered.
const (
	// The newest entry of the index. (MAX(done_at) would walk outbox_state,
	// every delivered event; done_at > 0, always true, makes it a search the
	// plan test can tell from a scan.)
	lastDeliveredQuery = `SELECT done_at FROM outbox INDEXED BY outbox_delivered
		WHERE state = 1 AND done_at > 0 ORDER BY done_at DESC LIMIT 1`
	pruneQuery = `DELETE FROM outbox WHERE seq IN (SELECT seq FROM outbox INDEXED BY outbox_delivered
		WHERE state = 1 AND done_at < ? ORDER BY done_at LIMIT ?)`
)

func (t *txn) PruneDelivered(before time.Time, limit int) (int64, error) {
	res, err := t.exec(pruneQuery, ms(before), limit)
	if err != nil {
		return 0, fmt.Errorf("prune delivered events: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, fmt.Errorf("prune delivered events: %w", err)
	}
	return n, nil
}
