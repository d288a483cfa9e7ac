package edge

import (
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"sync/atomic"
	"time"
)

// IDGenerator mints 24-hex-digit ids shaped like MongoDB ObjectIDs, which is what
// the central CRM's `_id`s look like: 4 bytes of seconds (so ids sort by creation
// time), 5 random bytes fixed per generator (so two edges never collide), and a
// 3-byte counter.
type IDGenerator struct {
	now     func() time.Time
	machine [5]byte
	counter atomic.Uint32
}

// NewIDGenerator returns a generator reading the clock through now.
func NewIDGenerator(now func() time.Time) *IDGenerator {
	g := &IDGenerator{now: now}
	var seed [4]byte
	_, _ = rand.Read(g.machine[:])
	_, _ = rand.Read(seed[:])
	g.counter.Store(binary.BigEndian.Uint32(seed[:]))
	return g
}

// NewID returns a fresh id.
func (g *IDGenerator) NewID() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(g.now().Unix()))
	copy(b[4:9], g.machine[:])
	c := g.counter.Add(1)
	b[9], b[10], b[11] = byte(c>>16), byte(c>>8), byte(c)
	return hex.EncodeToString(b[:])
}

// ValidID reports whether s is a 24-hex-digit id (lower case, as minted).
func ValidID(s string) bool {
	if len(s) != 24 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}
