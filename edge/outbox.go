package edge

import (
	"encoding/json"
	"time"
)

// Outbox event states.
const (
	EventPending   = 0
	EventDelivered = 1
	EventDead      = 2
)

// Call is a dialect request as it is replayed to the central CRM.
type Call struct {
	Method string
	Path   string
	Query  string // raw query string
	Body   []byte // JSON
	// Key is the Idempotency-Key of a synchronous call (the accumulate
	// pass-through); the forwarder sends the event id instead. Not stored.
	Key string
}

// Event is one accepted write waiting to be (or already) forwarded upstream.
// Its ID is sent as the Idempotency-Key.
type Event struct {
	Seq        int64
	ID         string
	Stream     string // ordering key: events of one stream are delivered in Seq order
	Kind       string // e.g. "member.create", "accumulate"
	Call       Call
	LedgerID   string // the ledger entry a rejection must turn to status 0
	State      int
	Attempts   int
	NextTry    time.Time
	LastStatus int
	LastError  string
	LastBody   string
	CreatedAt  time.Time
	DoneAt     time.Time // delivered or dead-lettered
}

// Event kinds.
const (
	KindMemberCreate  = "member.create"
	KindMemberUpdate  = "member.update"
	KindAccumulate    = "accumulate"
	KindRedeem        = "redeem"
	KindProfileCreate = "profile.create"
	KindProfileUpdate = "profile.update"
	KindTypeCreate    = "type.create"
	KindTypeUpdate    = "type.update"
	KindTypeDelete    = "type.delete"
	KindTypeUpdateNo  = "type.updateNo"
)

// OutboxFilter selects events for listing.
type OutboxFilter struct {
	State int // EventPending, EventDelivered, EventDead; -1 for all
	Limit int
}

// SyncCounts summarises the outbox for the sync status.
type SyncCounts struct {
	Pending       int64
	Dead          int64
	OldestPending time.Time // zero when none
	LastDelivered time.Time // when the central last accepted an event still kept; zero when none
}

// stampBody sets top-level (and one nested) fields of a JSON object body, so a
// forwarded create carries the ids this edge minted. A body that is not an
// object is returned unchanged. The body comes out as encoding/json writes a
// map[string]json.RawMessage (stampBodySlow); stampFast writes the same bytes.
func stampBody(body []byte, fields map[string]any, nested string, nestedFields map[string]any) []byte {
	if out, ok := stampFast(body, fields, nested, nestedFields); ok {
		return out
	}
	return stampBodySlow(body, fields, nested, nestedFields)
}

func stampBodySlow(body []byte, fields map[string]any, nested string, nestedFields map[string]any) []byte {
	var obj map[string]json.RawMessage
	if err := json.Unmarshal(body, &obj); err != nil || obj == nil {
		return body
	}
	for k, v := range fields {
		b, _ := json.Marshal(v)
		obj[k] = b
	}
	if nested != "" && len(nestedFields) > 0 {
		var inner map[string]json.RawMessage
		if err := json.Unmarshal(obj[nested], &inner); err == nil && inner != nil {
			for k, v := range nestedFields {
				b, _ := json.Marshal(v)
				inner[k] = b
			}
			obj[nested], _ = json.Marshal(inner)
		}
	}
	out, err := json.Marshal(obj)
	if err != nil {
		return body
	}
	return out
}
