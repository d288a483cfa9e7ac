package edge

import "time"

// Ledger entry types, as in the loyalty seed.
const (
	EntryAccumulate = 1 // points earned
	EntryRedeem     = 2 // points spent on a gift
)

// Ledger entry statuses: live, or rejected by the central CRM (and so no longer
// counted in the balance).
const (
	StatusRejected = 0
	StatusLive     = 1
)

// Ledger entry origins.
const (
	OriginLocal    = "local"    // written at this edge
	OriginUpstream = "upstream" // imported from the central CRM's history
)

// LedgerEntry is one accumulate or redeem: the source of truth for balances.
type LedgerEntry struct {
	Seq        int64 // local insertion order; breaks ties between entries of one millisecond
	ID         string
	CustomerID string
	Type       int
	Score      int64
	Status     int
	Confirmed  bool   // acknowledged by the central CRM (or nothing to confirm with)
	ItemCode   string // product code (type 1) or gift code (type 2)
	ItemName   string
	ItemID     string
	ItemScore  int64  // the gift's price, for type 2
	Code       string // accumulation code (type 1)
	Serial     string
	Org        string
	PosID      string
	TokenName  string
	Origin     string
	CreatedAt  time.Time
}

// Balance is a customer's points: live earned minus live spent, and how much of
// what was earned the central CRM has not confirmed yet.
type Balance struct {
	Points  int64
	Pending int64
}

// HistoryFilter selects ledger entries of one customer.
type HistoryFilter struct {
	CustomerID string
	Type       int       // 0 for both
	From, To   time.Time // inclusive; zero means open
	Limit      int
	Offset     int
}

// HistoryPageSize is the seed's page size.
const HistoryPageSize = 20
