package sqlstore

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	"crmedge/edge"
)

const ledgerColumns = `seq, id, customer_id, type, score, status, confirmed, item_code, item_name, item_id,
	item_score, code, serial, org, pos_id, token_name, origin, created_at`

func (t *txn) InsertLedgerEntry(e *edge.LedgerEntry) error {
	res, err := t.exec(`INSERT INTO ledger (id, customer_id, type, score, status, confirmed, item_code, item_name,
		item_id, item_score, code, serial, org, pos_id, token_name, origin, created_at)
		VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`,
		e.ID, e.CustomerID, e.Type, e.Score, e.Status, boolInt(e.Confirmed), e.ItemCode, e.ItemName,
		e.ItemID, e.ItemScore, e.Code, e.Serial, e.Org, e.PosID, e.TokenName, e.Origin, ms(e.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert ledger entry: %w", err)
	}
	e.Seq, _ = res.LastInsertId()
	return nil
}

func (t *txn) ImportLedgerEntry(e *edge.LedgerEntry) (bool, error) {
	var one int
	found, err := t.row(`SELECT 1 FROM ledger WHERE id = ?`, []any{e.ID}, &one)
	if err != nil {
		return false, fmt.Errorf("import ledger entry: %w", err)
	}
	if found {
		return false, nil
	}
	return true, t.InsertLedgerEntry(e)
}

func scanLedger(sc interface{ Scan(...any) error }, e *edge.LedgerEntry) error {
	var confirmed int
	var created int64
	err := sc.Scan(&e.Seq, &e.ID, &e.CustomerID, &e.Type, &e.Score, &e.Status, &confirmed, &e.ItemCode, &e.ItemName,
		&e.ItemID, &e.ItemScore, &e.Code, &e.Serial, &e.Org, &e.PosID, &e.TokenName, &e.Origin, &created)
	e.Confirmed, e.CreatedAt = confirmed == 1, fromMs(created)
	return err
}

func (t *txn) LedgerEntry(id string) (*edge.LedgerEntry, error) {
	rows, err := t.query(`SELECT `+ledgerColumns+` FROM ledger WHERE id = ?`, id)
	if err != nil {
		return nil, fmt.Errorf("ledger entry %s: %w", id, err)
	}
	var e *edge.LedgerEntry
	if rows.Next() {
		e = &edge.LedgerEntry{}
		if err := scanLedger(rows, e); err != nil {
			rows.Close()
			return nil, fmt.Errorf("ledger entry %s: %w", id, err)
		}
	}
	return e, closeRows(rows)
}

func (t *txn) SetLedgerEntry(id string, status int, confirmed bool) error {
	if _, err := t.exec(`UPDATE ledger SET status = ?, confirmed = ? WHERE id = ?`, status, boolInt(confirmed), id); err != nil {
		return fmt.Errorf("set ledger entry %s: %w", id, err)
	}
	return nil
}

const balanceQuery = `SELECT points, pending FROM balances WHERE customer_id = ?`

// Balance reads the trigger-maintained sums (see the balances table).
func (t *txn) Balance(customerID string) (edge.Balance, error) {
	var b edge.Balance
	if _, err := t.row(balanceQuery, []any{customerID}, &b.Points, &b.Pending); err != nil {
		return b, fmt.Errorf("balance: %w", err)
	}
	return b, nil
}

// historyQuery is the SQL of one history page. It walks the
// (customer_id, type, created_at, seq) index so the cost of a page does not
// grow with the size of the store (see TestQueryPlans): a page of one type is
// one walk; a page of both types merges the two types' walks (a compound
// SELECT's ORDER BY is a merge of its arms, each read in index order, and
// stops at the page's last row).
func historyQuery(f edge.HistoryFilter) (string, []any) {
	var q strings.Builder
	args := make([]any, 0, 6)
	// INDEXED BY: left to itself, SQLite may prefer the primary key when a
	// date range is given, and read every entry in the range.
	arm := func(typeParam string) {
		q.WriteString(`SELECT ` + ledgerColumns + ` FROM ledger INDEXED BY ledger_history_type
			WHERE customer_id = ?1 AND type = ` + typeParam)
		if !f.From.IsZero() {
			q.WriteString(` AND created_at >= ?3`)
		}
		if !f.To.IsZero() {
			q.WriteString(` AND created_at <= ?4`)
		}
	}
	typ := f.Type
	if f.Type != 0 {
		arm("?2")
	} else {
		typ = edge.EntryAccumulate
		arm("?2")
		q.WriteString(` UNION ALL `)
		arm(strconv.Itoa(edge.EntryRedeem))
	}
	args = append(args, f.CustomerID, typ, f.From.UnixMilli(), f.To.UnixMilli(), f.Limit, f.Offset)
	q.WriteString(` ORDER BY created_at DESC, seq DESC LIMIT ?5 OFFSET ?6`)
	return q.String(), args
}

// History pages through one customer's entries newest first; entries of the
// same millisecond come latest-inserted first.
func (t *txn) History(f edge.HistoryFilter) ([]edge.LedgerEntry, error) {
	q, args := historyQuery(f)
	rows, err := t.query(q, args...)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	out := make([]edge.LedgerEntry, 0, f.Limit)
	for rows.Next() {
		var e edge.LedgerEntry
		if err := scanLedger(rows, &e); err != nil {
			rows.Close()
			return nil, fmt.Errorf("history: %w", err)
		}
		out = append(out, e)
	}
	return out, closeRows(rows)
}

func (t *txn) HistoryImported(customerID string) (bool, error) {
	var one int
	found, err := t.row(`SELECT 1 FROM history_imports WHERE customer_id = ?`, []any{customerID}, &one)
	if err != nil {
		return false, fmt.Errorf("history imported: %w", err)
	}
	return found, nil
}

func (t *txn) MarkHistoryImported(customerID string, at time.Time) error {
	_, err := t.exec(`INSERT INTO history_imports (customer_id, imported_at) VALUES (?, ?)
		ON CONFLICT (customer_id) DO UPDATE SET imported_at = excluded.imported_at`, customerID, ms(at))
	if err != nil {
		return fmt.Errorf("mark history imported: %w", err)
	}
	return nil
}
