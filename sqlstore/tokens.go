package sqlstore

import (
	"encoding/json"
	"fmt"
	"time"

	"crmedge/edge"
)

func (t *txn) InsertToken(tk *edge.Token) error {
	pos := tk.PosIDs
	if pos == nil {
		pos = []string{}
	}
	posJSON, _ := json.Marshal(pos)
	res, err := t.exec(`INSERT INTO tokens (name, hash, admin, pos_ids, created_at) VALUES (?,?,?,?,?)`,
		tk.Name, tk.Hash, boolInt(tk.Admin), string(posJSON), ms(tk.CreatedAt))
	if err != nil {
		return fmt.Errorf("insert token: %w", err)
	}
	tk.ID, _ = res.LastInsertId()
	return t.bumpTokensVersion()
}

// tokensVersionKey is the meta row every token change bumps, in the same
// transaction, so the token cache (DB.TokenByHash) can tell with one lookup
// whether what it holds is still current, whichever process made the change.
const tokensVersionKey = "tokens_version"

func (t *txn) bumpTokensVersion() error {
	_, err := t.exec(`INSERT INTO meta (key, value) VALUES ('` + tokensVersionKey + `', '1')
		ON CONFLICT (key) DO UPDATE SET value = CAST(value AS INTEGER) + 1`)
	if err != nil {
		return fmt.Errorf("tokens version: %w", err)
	}
	return nil
}

const tokenColumns = `id, name, hash, admin, pos_ids, created_at, revoked_at`

const tokenByHashQuery = `SELECT ` + tokenColumns + ` FROM tokens WHERE hash = ?`

// tokensVersionQuery reads the version bumpTokensVersion keeps.
const tokensVersionQuery = `SELECT value FROM meta WHERE key = '` + tokensVersionKey + `'`

func scanToken(sc interface{ Scan(...any) error }, tk *edge.Token) error {
	var admin int
	var pos string
	var created, revoked int64
	if err := sc.Scan(&tk.ID, &tk.Name, &tk.Hash, &admin, &pos, &created, &revoked); err != nil {
		return err
	}
	tk.Admin, tk.CreatedAt, tk.RevokedAt = admin == 1, fromMs(created), fromMs(revoked)
	if pos != "[]" {
		if err := json.Unmarshal([]byte(pos), &tk.PosIDs); err != nil {
			return fmt.Errorf("token pos_ids: %w", err)
		}
	}
	return nil
}

func (t *txn) TokenByHash(hash string) (*edge.Token, error) {
	rows, err := t.query(tokenByHashQuery, hash)
	if err != nil {
		return nil, fmt.Errorf("token: %w", err)
	}
	var tk *edge.Token
	if rows.Next() {
		tk = &edge.Token{}
		if err := scanToken(rows, tk); err != nil {
			rows.Close()
			return nil, fmt.Errorf("token: %w", err)
		}
	}
	return tk, closeRows(rows)
}

func (t *txn) Tokens() ([]edge.Token, error) {
	rows, err := t.query(`SELECT ` + tokenColumns + ` FROM tokens ORDER BY id`)
	if err != nil {
		return nil, fmt.Errorf("tokens: %w", err)
	}
	var out []edge.Token
	for rows.Next() {
		var tk edge.Token
		if err := scanToken(rows, &tk); err != nil {
			rows.Close()
			return nil, fmt.Errorf("tokens: %w", err)
		}
		out = append(out, tk)
	}
	return out, closeRows(rows)
}

func (t *txn) RevokeToken(name string, at time.Time) (int64, error) {
	res, err := t.exec(`UPDATE tokens SET revoked_at = ? WHERE name = ? AND revoked_at = 0`, ms(at), name)
	if err != nil {
		return 0, fmt.Errorf("revoke token: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil || n == 0 {
		return n, err
	}
	return n, t.bumpTokensVersion()
}

func (t *txn) TokenCount() (int64, error) {
	var n int64
	if _, err := t.row(`SELECT COUNT(*) FROM tokens`, nil, &n); err != nil {
		return 0, fmt.Errorf("count tokens: %w", err)
	}
	return n, nil
}

func (t *txn) ClaimIdempotencyKey(key string, at time.Time) (bool, error) {
	res, err := t.exec(`INSERT INTO idempotency_keys (key, created_at) VALUES (?, ?) ON CONFLICT (key) DO NOTHING`, key, ms(at))
	if err != nil {
		return false, fmt.Errorf("claim idempotency key: %w", err)
	}
	n, _ := res.RowsAffected()
	return n == 1, nil
}

func (t *txn) IdempotentResponse(key string) (int, []byte, bool, error) {
	var status int
	var body []byte
	found, err := t.row(`SELECT status, body FROM idempotency_keys WHERE key = ?`, []any{key}, &status, &body)
	if err != nil {
		return 0, nil, false, fmt.Errorf("idempotent response: %w", err)
	}
	return status, body, found, nil
}

func (t *txn) SaveIdempotentResponse(key string, status int, body []byte) error {
	if _, err := t.exec(`UPDATE idempotency_keys SET status = ?, body = ? WHERE key = ?`, status, body, key); err != nil {
		return fmt.Errorf("save idempotent response: %w", err)
	}
	return nil
}

func (t *txn) Meta(key string) (string, error) {
	var v string
	if _, err := t.row(`SELECT value FROM meta WHERE key = ?`, []any{key}, &v); err != nil {
		return "", fmt.Errorf("meta %s: %w", key, err)
	}
	return v, nil
}

func (t *txn) SetMeta(key, value string) error {
	if _, err := t.exec(`INSERT INTO meta (key, value) VALUES (?, ?) ON CONFLICT (key) DO UPDATE SET value = excluded.value`, key, value); err != nil {
		return fmt.Errorf("set meta %s: %w", key, err)
	}
	return nil
}
