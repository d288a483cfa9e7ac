package sqlstore

import (
	"cmp"
	"database/sql"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"crmedge/edge"
)

const ledgerColumns = `seq, id, customer_id, type, score, status, confirmed, item_code, item_name, item_id,
	item_score, code, serial, org, pos_id, token_name, origin, created_at`

const insertLedgerEntry = `INSERT INTO ledger (id, customer_id, type, score, status, confirmed, item_code, item_name,
	item_id, item_score, code, serial, org, pos_id, token_name, origin, created_at)
	VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)`

func ledgerArgs(e *edge.LedgerEntry) []any {
	return []any{e.ID, e.CustomerID, e.Type, e.Score, e.Status, boolInt(e.Confirmed), e.ItemCode, e.ItemName,
		e.ItemID, e.ItemScore, e.Code, e.Serial, e.Org, e.PosID, e.TokenName, e.Origin, ms(e.CreatedAt)}
}

func (t *txn) InsertLedgerEntry(e *edge.LedgerEntry) error {
	res, err := t.exec(insertLedgerEntry, ledgerArgs(e)...)
	if err != nil {
		return fmt.Errorf("insert ledger entry: %w", err)
	}
	e.Seq, _ = res.LastInsertId()
	return nil
}

// ImportLedgerEntry inserts an entry read from the central unless its id is
// already there. A skipped row fires no insert trigger: balances and
// ledger_locations count each entry once.
func (t *txn) ImportLedgerEntry(e *edge.LedgerEntry) (bool, error) {
	res, err := t.exec(insertLedgerEntry+` ON CONFLICT (id) DO NOTHING`, ledgerArgs(e)...)
	if err != nil {
		return false, fmt.Errorf("import ledger entry: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		if err != nil {
			err = fmt.Errorf("import ledger entry: %w", err)
		}
		return false, err
	}
	e.Seq, _ = res.LastInsertId()
	return true, nil
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
// grow with the size of the store (see TestQueryPlans). A page of one type is
// one walk. A page of both types merges the two types' walks (a compound
// SELECT's ORDER BY merges its arms, each read in index order, and stops at
// the page's last row) over the index alone, entries skipped by the offset
// included, and only the page's rows are then read from the table.
//
// The page comes back as one value, a JSON array of the rows (each an array
// of ledgerColumns as text): reading 18 columns of 20 rows one by one through
// the driver cost more than the query itself.
func historyQuery(f edge.HistoryFilter) (string, []any) {
	var q strings.Builder
	args := []any{f.CustomerID, f.Type, f.From.UnixMilli(), f.To.UnixMilli(), f.Limit, f.Offset}
	// INDEXED BY: left to itself, SQLite may prefer another index when a
	// date range is given, and read every entry in the range.
	where := func(typeParam string) {
		q.WriteString(` FROM ledger INDEXED BY ledger_history_type WHERE customer_id = ?1 AND type = ` + typeParam)
		if !f.From.IsZero() {
			q.WriteString(` AND created_at >= ?3`)
		}
		if !f.To.IsZero() {
			q.WriteString(` AND created_at <= ?4`)
		}
	}
	if f.Type != 0 {
		q.WriteString(`SELECT '[' || group_concat(` + pageJSON + `) || ']' FROM (SELECT ` + ledgerColumns)
		where("?2")
		q.WriteString(` ORDER BY created_at DESC, seq DESC LIMIT ?5 OFFSET ?6) AS page`)
		return q.String(), args
	}
	q.WriteString(`SELECT '[' || group_concat(` + joinedJSON + `) || ']' FROM (SELECT created_at, seq`)
	where(strconv.Itoa(edge.EntryAccumulate))
	q.WriteString(` UNION ALL SELECT created_at, seq`)
	where(strconv.Itoa(edge.EntryRedeem))
	q.WriteString(` ORDER BY created_at DESC, seq DESC LIMIT ?5 OFFSET ?6) AS page JOIN ledger l ON l.seq = page.seq`)
	return q.String(), args
}

var pageJSON, joinedJSON = ledgerJSON("page"), ledgerJSON("l")

// ledgerJSON is a ledger row (of table alias a) as a JSON array of its
// ledgerColumns, as text.
func ledgerJSON(a string) string {
	return strings.NewReplacer("a.", a+".").Replace(`json_array(CAST(a.seq AS TEXT), a.id, a.customer_id, CAST(a.type AS TEXT),
	CAST(a.score AS TEXT), CAST(a.status AS TEXT), CAST(a.confirmed AS TEXT), a.item_code, a.item_name, a.item_id,
	CAST(a.item_score AS TEXT), a.code, a.serial, a.org, a.pos_id, a.token_name, a.origin, CAST(a.created_at AS TEXT))`)
}

// History pages through one customer's entries newest first; entries of the
// same millisecond come latest-inserted first.
func (t *txn) History(f edge.HistoryFilter) ([]edge.LedgerEntry, error) {
	q, args := historyQuery(f)
	var page sql.NullString // NULL: no entries
	if _, err := t.row(q, args, &page); err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	if !page.Valid {
		return []edge.LedgerEntry{}, nil
	}
	rows, err := stringRows(page.String, 18)
	if err != nil {
		return nil, fmt.Errorf("history: %w", err)
	}
	out := make([]edge.LedgerEntry, len(rows))
	for i, r := range rows {
		if err := ledgerFromText(&out[i], r); err != nil {
			return nil, fmt.Errorf("history: %w", err)
		}
	}
	// Page order, whatever order the rows were gathered in.
	slices.SortFunc(out, func(a, b edge.LedgerEntry) int {
		return cmp.Or(b.CreatedAt.Compare(a.CreatedAt), cmp.Compare(b.Seq, a.Seq))
	})
	return out, nil
}

// ledgerFromText fills e from a row of ledgerJSON.
func ledgerFromText(e *edge.LedgerEntry, r []string) error {
	var ints [7]int64
	for i, col := range [...]int{0, 3, 4, 5, 6, 10, 17} {
		n, err := strconv.ParseInt(r[col], 10, 64)
		if err != nil {
			return fmt.Errorf("ledger column %d: %w", col, err)
		}
		ints[i] = n
	}
	*e = edge.LedgerEntry{Seq: ints[0], ID: r[1], CustomerID: r[2], Type: int(ints[1]), Score: ints[2], Status: int(ints[3]),
		Confirmed: ints[4] == 1, ItemCode: r[7], ItemName: r[8], ItemID: r[9], ItemScore: ints[5], Code: r[11],
		Serial: r[12], Org: r[13], PosID: r[14], TokenName: r[15], Origin: r[16], CreatedAt: fromMs(ints[6])}
	return nil
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
