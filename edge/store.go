package edge

import (
	"context"
	"time"
)

// Store is what the domain needs from storage. Work is done inside Read or
// Write with a Tx; the store decides how transactions are run (sqlstore: a
// read pool, and one writer that group-commits concurrent Writes).
type Store interface {
	// Read runs fn against a consistent snapshot.
	Read(ctx context.Context, fn func(Tx) error) error
	// Write runs fn as one atomic unit on the single writer: either all of
	// fn's changes are durably committed before Write returns nil, or none.
	// fn must do no network I/O: it may share a commit with other requests.
	Write(ctx context.Context, fn func(Tx) error) error
	// Ping checks that the database answers.
	Ping(ctx context.Context) error
}

// Tx is one transaction's view of the store. Lookups that find nothing return
// a nil value (or "") and a nil error; the domain decides what that means.
type Tx interface {
	// Customers.
	CustomerIDByPhone(e164 string) (string, error)
	CustomerIDByEmail(email string) (string, error)
	Customer(id string) (*Customer, error)
	CustomerName(id string) (name string, found bool, err error)
	InsertCustomer(c *Customer) error // assigns c.No when zero
	UpdateCustomer(c *Customer) error // rewrites the row, phones, emails and types
	IsMember(posID, customerID string) (bool, error)
	// MemberByPhone is the customer owning the phone e164 when it is a member
	// at posID (CustomerIDByPhone, IsMember and Customer in one), else nil.
	MemberByPhone(e164, posID string) (*Customer, error)
	AddMembership(posID, customerID string, at time.Time) error
	CustomerSeenAt(customerID string, posIDs []string) (bool, error) // member there, or has ledger entries there

	// Customer types.
	CustomerType(scope TypeScope, typeNo string) (*CustomerType, error)
	CustomerTypesByNo(typeNo string) ([]CustomerType, error)
	CustomerTypes(scope TypeScope) ([]CustomerType, error)
	InsertCustomerType(t *CustomerType) error
	UpdateCustomerType(t *CustomerType) error
	DeleteCustomerType(id string) error
	CustomerTypeHolders(id string) (int64, error)

	// Catalog.
	Product(code string) (*Product, error)
	Gift(code string) (*Gift, error)
	AccumulationCode(code string) (*AccumulationCode, error)
	SpendCode(code, entryID string) error
	UpsertCatalog(b *CatalogBatch, progress func(done, total int)) error

	// Ledger.
	InsertLedgerEntry(e *LedgerEntry) error
	ImportLedgerEntry(e *LedgerEntry) (bool, error) // false when the id is already there
	LedgerEntry(id string) (*LedgerEntry, error)
	SetLedgerEntry(id string, status int, confirmed bool) error
	Balance(customerID string) (Balance, error)
	History(f HistoryFilter) ([]LedgerEntry, error)
	HistoryImported(customerID string) (bool, error)
	MarkHistoryImported(customerID string, at time.Time) error

	// Outbox.
	AppendEvent(e *Event) error
	Event(id string) (*Event, error)
	DueEvents(now time.Time, limit int, skipStreams []string) ([]Event, error)
	EventDelivered(id string, status int, at time.Time) error
	EventRetry(id string, status int, lastErr string, next time.Time) error
	EventDead(id string, status int, body string, at time.Time) error
	RequeueEvent(id string, at time.Time) (bool, error)
	ExpediteEvents(now time.Time) (int64, error) // pending events that failed to reach the upstream become due now
	Events(f OutboxFilter) ([]Event, error)
	SyncCounts() (SyncCounts, error)
	// PruneDelivered deletes up to limit delivered events delivered before
	// before, oldest first; pending and dead events are never deleted.
	PruneDelivered(before time.Time, limit int) (int64, error)

	// Idempotency keys of writes received from downstream edges.
	ClaimIdempotencyKey(key string, at time.Time) (bool, error)
	IdempotentResponse(key string) (status int, body []byte, found bool, err error)
	SaveIdempotentResponse(key string, status int, body []byte) error

	// Tokens.
	InsertToken(t *Token) error
	TokenByHash(hash string) (*Token, error)
	Tokens() ([]Token, error)
	RevokeToken(name string, at time.Time) (int64, error)
	TokenCount() (int64, error)

	// Meta holds small settings such as this edge's id.
	Meta(key string) (string, error)
	SetMeta(key, value string) error
}
