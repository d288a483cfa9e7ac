package edge

import (
	"context"
	"fmt"
	"strings"
)

// CreateToken stores a new token and returns its secret, which is shown once
// and never stored.
func (s *Service) CreateToken(ctx context.Context, name string, posIDs []string, admin bool) (string, error) {
	name = strings.TrimSpace(name)
	if name == "" {
		return "", Invalid("name", "a token needs a name")
	}
	if err := checkText("name", name); err != nil {
		return "", err
	}
	for _, p := range posIDs {
		if strings.TrimSpace(p) == "" {
			return "", Invalid("pos", "pos_id must not be empty")
		}
	}
	secret := newTokenSecret()
	err := s.store.Write(ctx, func(tx Tx) error {
		return tx.InsertToken(&Token{Name: name, Hash: HashToken(secret), Admin: admin, PosIDs: posIDs, CreatedAt: s.nowMs()})
	})
	if err != nil {
		return "", fmt.Errorf("create token %s: %w", name, err)
	}
	return secret, nil
}

// EnsureAdminToken creates an admin token when the database has none at all,
// so a fresh install can be used at once. It returns "" when tokens exist.
func (s *Service) EnsureAdminToken(ctx context.Context) (string, error) {
	secret := newTokenSecret()
	created := false
	err := s.store.Write(ctx, func(tx Tx) error {
		n, err := tx.TokenCount()
		if err != nil || n > 0 {
			return err
		}
		created = true
		return tx.InsertToken(&Token{Name: "admin", Hash: HashToken(secret), Admin: true, CreatedAt: s.nowMs()})
	})
	if err != nil || !created {
		return "", err
	}
	return secret, nil
}

// Tokens lists the stored tokens (hashes, never secrets).
func (s *Service) Tokens(ctx context.Context) ([]Token, error) {
	var out []Token
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		out, err = tx.Tokens()
		return err
	})
	return out, err
}

// RevokeToken revokes every live token with this name.
func (s *Service) RevokeToken(ctx context.Context, name string) error {
	var n int64
	err := s.store.Write(ctx, func(tx Tx) error {
		var err error
		n, err = tx.RevokeToken(name, s.nowMs())
		return err
	})
	if err != nil {
		return fmt.Errorf("revoke token %s: %w", name, err)
	}
	if n == 0 {
		return Errorf(ENOTFOUND, "No live token named %q", name)
	}
	return nil
}

// TokenFinder is an optional fast path a Store may offer for Authenticate:
// the token with this hash (nil when none), possibly from a cache, provided
// the cache is kept coherent with the database so that a token created or
// revoked by any process counts from the next request.
type TokenFinder interface {
	TokenByHash(ctx context.Context, hash string) (*Token, error)
}

// Authenticate finds the live token with this secret. It is looked up on
// every request, so tokens created or revoked while serving apply at once.
func (s *Service) Authenticate(ctx context.Context, secret string) (Principal, error) {
	if secret == "" {
		return Principal{}, Errorf(EUNAUTHORIZED, "Missing token: send the header Authorization: Bearer TOKEN (or Api-Key: TOKEN)")
	}
	var t *Token
	var err error
	if f, ok := s.store.(TokenFinder); ok {
		t, err = f.TokenByHash(ctx, HashToken(secret))
	} else {
		err = s.store.Read(ctx, func(tx Tx) error {
			var err error
			t, err = tx.TokenByHash(HashToken(secret))
			return err
		})
	}
	if err != nil {
		return Principal{}, fmt.Errorf("authenticate: %w", err)
	}
	if t == nil || !t.RevokedAt.IsZero() {
		return Principal{}, Errorf(EUNAUTHORIZED, "Invalid or revoked token")
	}
	return Principal{TokenName: t.Name, Admin: t.Admin, PosIDs: t.PosIDs}, nil
}
