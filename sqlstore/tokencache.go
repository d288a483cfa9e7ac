package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"crmedge/edge"
)

// tokenCache keeps the tokens requests authenticate with, so a request costs
// one lookup of the tokens version (a meta row every token change bumps in
// its own transaction, see bumpTokensVersion) instead of a read transaction.
// A token created or revoked by any process, the CLI included, changes the
// version, which empties the cache: the change counts from the next request.
type tokenCache struct {
	mu      sync.Mutex
	version string
	byHash  map[string]edge.Token
}

// maxCachedTokens bounds the cache; unknown secrets are never cached.
const maxCachedTokens = 1024

// TokenByHash returns the token with this hash (nil when there is none),
// from the cache when the tokens version shows it is current. It implements
// edge.TokenFinder.
func (db *DB) TokenByHash(ctx context.Context, hash string) (*edge.Token, error) {
	// The version is read before the token: a change committed in between
	// leaves the cache under the old version, which the next request
	// sees through.
	version, err := db.tokensVersion(ctx)
	if err != nil {
		return nil, fmt.Errorf("tokens version: %w", describe(err))
	}
	c := &db.tokens
	c.mu.Lock()
	if c.version != version || c.byHash == nil {
		c.version, c.byHash = version, map[string]edge.Token{}
	} else if tk, ok := c.byHash[hash]; ok {
		c.mu.Unlock()
		return cloneToken(tk), nil
	}
	c.mu.Unlock()
	var tk *edge.Token
	err = db.Read(ctx, func(tx edge.Tx) error {
		var err error
		tk, err = tx.TokenByHash(hash)
		return err
	})
	if err != nil || tk == nil {
		return nil, err
	}
	c.mu.Lock()
	if c.version == version {
		if len(c.byHash) >= maxCachedTokens {
			clear(c.byHash)
		}
		c.byHash[hash] = *cloneToken(*tk)
	}
	c.mu.Unlock()
	return tk, nil
}

func cloneToken(tk edge.Token) *edge.Token {
	tk.PosIDs = append([]string(nil), tk.PosIDs...)
	if len(tk.PosIDs) == 0 {
		tk.PosIDs = nil
	}
	return &tk
}

// versionConn is the connection the tokens version is read on, by one request
// at a time: a connection of its own, not one of the read pool's, because
// those map the file into memory, and a mapped connection unmaps all of it at
// its first read after any commit (SQLite drops what a connection holds of
// the database once another connection changed it). Under a stream of writes
// that made this one-row read cost as much as a member lookup; unmapped, it
// reads the two pages it needs.
type versionConn struct {
	mu     sync.Mutex
	conn   *sql.Conn
	d      *dconn
	closed bool
}

// tokensVersion reads the tokens version (see bumpTokensVersion).
func (db *DB) tokensVersion(ctx context.Context) (string, error) {
	v := &db.version
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.closed {
		return "", errClosed
	}
	if v.conn == nil {
		conn, err := db.read.Conn(ctx)
		if err != nil {
			return "", err
		}
		v.conn, v.d = conn, nil
	}
	var version string
	err := withDriver(v.conn, &v.d, func(c *dconn) error {
		t := txn{ctx: context.WithoutCancel(ctx), c: c}
		_, err := t.row(tokensVersionQuery, nil, &version)
		return err
	})
	if err != nil {
		v.closeLocked() // its state is unknown: a new one next time
		return "", err
	}
	return version, nil
}

func (v *versionConn) close() {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.closed = true
	v.closeLocked()
}

func (v *versionConn) closeLocked() {
	if v.conn == nil {
		return
	}
	_ = withDriver(v.conn, &v.d, func(c *dconn) error {
		c.closeStmts()
		return nil
	})
	v.conn.Close()
	v.conn, v.d = nil, nil
}
