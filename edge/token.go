package edge

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"slices"
	"time"
)

// Token is an API credential as stored: only the SHA-256 of the secret.
type Token struct {
	ID        int64
	Name      string
	Hash      string
	Admin     bool
	PosIDs    []string // empty: every location
	CreatedAt time.Time
	RevokedAt time.Time
}

// Principal is who a request acts as.
type Principal struct {
	TokenName string
	Admin     bool
	PosIDs    []string
}

// MayUsePos reports whether the principal may act at a location.
func (p Principal) MayUsePos(posID string) bool {
	return len(p.PosIDs) == 0 || slices.Contains(p.PosIDs, posID)
}

// Scoped reports whether the principal is limited to some locations.
func (p Principal) Scoped() bool { return len(p.PosIDs) > 0 }

// HashToken is how tokens are stored and looked up.
func HashToken(secret string) string {
	sum := sha256.Sum256([]byte(secret))
	return hex.EncodeToString(sum[:])
}

// newTokenSecret returns a random token a person can paste: "crm_" + 32 bytes.
func newTokenSecret() string {
	var b [32]byte
	_, _ = rand.Read(b[:])
	return "crm_" + base64.RawURLEncoding.EncodeToString(b[:])
}
