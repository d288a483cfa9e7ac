package edge

import (
	"context"
	"errors"
	"time"
)

// Upstream is the central CRM as the domain sees it: read-through, the
// accumulate pass-through, and the forwarder's health. nil means standalone.
type Upstream interface {
	// Status reports what the last attempt to reach the central CRM found.
	Status() UpstreamStatus
	// FetchMember asks the central for the member with this phone at posID;
	// it returns nil, nil when the central has none.
	FetchMember(ctx context.Context, e164, posID string) (*Customer, error)
	// FetchHistory returns the central's ledger for a customer's contact.
	FetchHistory(ctx context.Context, contact Contact) ([]LedgerEntry, error)
	// Accumulate sends an accumulate call straight to the central and returns
	// its answer: used for codes the local catalog does not know.
	Accumulate(ctx context.Context, call Call) (status int, body []byte, err error)
}

// UpstreamStatus is the forwarder's view of the central CRM.
type UpstreamStatus struct {
	Online      bool // the last attempt got an HTTP answer
	LastSuccess time.Time
	LastError   string
}

// Config wires a Service.
type Config struct {
	Store    Store
	Upstream Upstream // nil: standalone, nothing is queued
	Org      string   // organisation id shown as `org` in loyalty history
	Now      func() time.Time
	NewID    func() string
	// Notify, when set, is called after a write that queued an outbox event
	// has committed: the forwarder's wake-up. It must not block.
	Notify func()
}

// Service holds the business rules. Dialect handlers call it; it calls the
// store. It keeps no state of its own beyond its wiring.
type Service struct {
	store    Store
	upstream Upstream
	org      string
	now      func() time.Time
	newID    func() string
	notify   func()
}

// NewService returns a Service; zero Now and NewID get the real clock and an
// ObjectID-style generator.
func NewService(cfg Config) *Service {
	s := &Service{store: cfg.Store, upstream: cfg.Upstream, org: cfg.Org, now: cfg.Now, newID: cfg.NewID, notify: cfg.Notify}
	if s.now == nil {
		s.now = time.Now
	}
	if s.newID == nil {
		s.newID = NewIDGenerator(s.now).NewID
	}
	return s
}

// Org is the configured organisation id.
func (s *Service) Org() string { return s.org }

// Now is the service's clock: the forwarder schedules retries on it, so that
// DueEvents and the schedule agree.
func (s *Service) Now() time.Time { return s.now() }

// Ping checks the database.
func (s *Service) Ping(ctx context.Context) error { return s.store.Ping(ctx) }

// nowMs is the clock truncated to what the store keeps.
func (s *Service) nowMs() time.Time { return s.now().Truncate(time.Millisecond) }

// errDuplicateKey means another request with the same Idempotency-Key was
// applied (or is being applied): the HTTP layer answers with the stored result.
var errDuplicateKey = &Error{Code: EUNAVAILABLE, Reason: "duplicate_request", Message: "A request with this Idempotency-Key is already being processed; retry shortly"}

// IsDuplicateKey reports whether err means the idempotency key was taken.
func IsDuplicateKey(err error) bool { return errors.Is(err, errDuplicateKey) }

// write runs fn on the single writer. A request carrying an Idempotency-Key
// claims it in the same transaction, so a replay can never apply twice. Every
// write through here queues an outbox event when it succeeds, so the forwarder
// is woken after the commit.
func (s *Service) write(ctx context.Context, fn func(Tx) error) error {
	key := IdempotencyKey(ctx)
	err := s.store.Write(ctx, func(tx Tx) error {
		if key != "" {
			ok, err := tx.ClaimIdempotencyKey(key, s.now())
			if err != nil {
				return err
			}
			if !ok {
				return errDuplicateKey
			}
		}
		return fn(tx)
	})
	if err == nil && s.upstream != nil && s.notify != nil {
		s.notify()
	}
	return err
}

// queue appends an outbox event for the central CRM, in the caller's
// transaction. Standalone edges queue nothing.
func (s *Service) queue(tx Tx, kind, stream string, call Call, ledgerID string) error {
	if s.upstream == nil {
		return nil
	}
	return tx.AppendEvent(&Event{
		ID:        s.newID(),
		Stream:    stream,
		Kind:      kind,
		Call:      call,
		LedgerID:  ledgerID,
		State:     EventPending,
		CreatedAt: s.nowMs(),
	})
}

type ctxKey int

const (
	principalKey ctxKey = iota
	idempotencyKeyKey
)

// WithPrincipal attaches the authenticated caller to ctx.
func WithPrincipal(ctx context.Context, p Principal) context.Context {
	return context.WithValue(ctx, principalKey, p)
}

// PrincipalFrom returns the caller attached to ctx (zero value: unrestricted,
// as used by the CLI).
func PrincipalFrom(ctx context.Context) Principal {
	p, _ := ctx.Value(principalKey).(Principal)
	return p
}

// WithIdempotencyKey marks ctx's write as a replay-safe request.
func WithIdempotencyKey(ctx context.Context, key string) context.Context {
	return context.WithValue(ctx, idempotencyKeyKey, key)
}

// IdempotencyKey returns the key attached to ctx, or "".
func IdempotencyKey(ctx context.Context) string {
	k, _ := ctx.Value(idempotencyKeyKey).(string)
	return k
}

// checkPos refuses a location the caller's token is not limited to.
func checkPos(ctx context.Context, posID string) error {
	if !PrincipalFrom(ctx).MayUsePos(posID) {
		return Errorf(EFORBIDDEN, "This token may not act for pos_id %q", posID)
	}
	return nil
}

// upstreamReachable reports whether a synchronous call to the central CRM is
// worth trying: there is one, and the last attempt did not fail to reach it.
// Before any attempt it is tried; a short timeout bounds the cost.
func (s *Service) upstreamReachable() bool {
	if s.upstream == nil {
		return false
	}
	st := s.upstream.Status()
	return st.Online || st.LastError == ""
}
