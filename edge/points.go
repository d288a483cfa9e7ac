package edge

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
)

// AccumulateRequest spends an accumulation code for a customer found (or
// created) by any of its phones and emails.
type AccumulateRequest struct {
	Code       string
	Name       string
	Contact    *ContactInput // the body's `data` phones and emails; nil: no `data`
	PosID      string
	EntryID    string // ledger id minted by a downstream edge, kept when valid and unused
	CustomerID string // `_id` for a customer this request creates, same rule

	phones []Phone // read from Contact by validate: E.164
	emails []Email
}

// RedeemRequest spends points on a gift.
type RedeemRequest struct {
	Code    string
	Contact *ContactInput // the body's `data` phone and email; nil: no `data`
	PosID   string
	EntryID string
}

// PointsResult is what an accumulate or redeem did.
type PointsResult struct {
	Entry      LedgerEntry
	CustomerID string
	Balance    Balance
	Ignored    []IgnoredPhone // phones of the request that did not parse
}

// Loyalty error reasons, shown as `error` in the loyalty envelope.
const (
	ReasonCodeNotFound       = "code_not_found"
	ReasonCodeUsed           = "code_used"
	ReasonGiftNotFound       = "gift_not_found"
	ReasonCustomerNotFound   = "customer_not_found"
	ReasonInsufficientPoints = "insufficient_points"
	ReasonContactRequired    = "contact_required"
	// ReasonUpstreamUnavailable: the central CRM failed while judging a code
	// this edge does not know (5xx, 429, or our credentials refused); retry.
	ReasonUpstreamUnavailable = "upstream_unavailable"
)

// validate checks the request and reads its contact (ContactInput.read),
// returning the phones that were ignored.
func (r *AccumulateRequest) validate() ([]IgnoredPhone, error) {
	r.Code, r.Name = strings.TrimSpace(r.Code), strings.TrimSpace(r.Name)
	if r.Code == "" {
		return nil, Invalid("code", "code is required")
	}
	if r.Contact == nil {
		return nil, (&Error{Code: EINVALID, Field: "data", Message: "data is required, with phones or emails"}).WithReason(ReasonContactRequired)
	}
	phones, emails, ignored, err := r.Contact.read()
	if err != nil {
		return nil, err
	}
	r.phones, r.emails = phones, emails
	if err := checkText("code", r.Code); err != nil {
		return nil, err
	}
	if err := checkText("name", r.Name); err != nil {
		return nil, err
	}
	if len(r.phones) > MaxListLen || len(r.emails) > MaxListLen {
		return nil, Invalid("data", "too many phones or emails (at most %d)", MaxListLen)
	}
	return ignored, nil
}

// Accumulate spends an accumulation code and credits the product's points. A
// code the local catalog does not know is passed through to the central CRM
// when it is reachable.
//
// Everything that needs no lock is done before the write, so that the single
// writer, which every write of the edge waits for, does less: the entry id is
// minted and the outbox body stamped with it (the customer's id, which only
// the write knows, is copied in there).
func (s *Service) Accumulate(ctx context.Context, req AccumulateRequest, call Call) (*PointsResult, error) {
	ignored, err := req.validate()
	if err != nil {
		return nil, err
	}
	if err := s.checkLoyaltyPos(ctx, &req.PosID); err != nil {
		return nil, err
	}
	entryID := plannedEntryID(req.EntryID, s.newID)
	stamp := s.newPointsStamp(call.Body, entryID)
	res := PointsResult{Ignored: ignored}
	err = s.write(ctx, func(tx Tx) error {
		code, err := tx.AccumulationCode(req.Code)
		if err != nil {
			return err
		}
		if code == nil {
			return errUnknownCode // rolled back; asked of the central CRM below
		}
		if code.UsedBy != "" {
			return (&Error{Code: ECONFLICT, Message: "This code has already been used"}).WithReason(ReasonCodeUsed)
		}
		product, err := tx.Product(code.ProductCode)
		if err != nil {
			return err
		}
		if product == nil {
			return (&Error{Code: ENOTFOUND, Message: fmt.Sprintf("The product %s of this code is not in the catalog", code.ProductCode)}).WithReason(ReasonCodeNotFound)
		}
		customerID, _, err := s.contactCustomer(tx, &req)
		if err != nil {
			return err
		}
		entry := LedgerEntry{
			ID: s.entryIDIn(tx, req.EntryID, entryID), CustomerID: customerID, Type: EntryAccumulate, Score: product.Score,
			Status: StatusLive, Confirmed: s.upstream == nil,
			ItemCode: product.Code, ItemName: product.Name, ItemID: product.ID,
			Code: code.Code, Serial: code.Serial,
			Org: s.org, PosID: req.PosID, TokenName: PrincipalFrom(ctx).TokenName,
			Origin: OriginLocal, CreatedAt: s.nowMs(),
		}
		if err := tx.InsertLedgerEntry(&entry); err != nil {
			return err
		}
		if err := tx.SpendCode(code.Code, entry.ID); err != nil {
			return err
		}
		if res.Balance, err = tx.Balance(customerID); err != nil {
			return err
		}
		res.Entry, res.CustomerID = entry, customerID
		call.Body = stamp.body(call.Body, entryID, entry.ID, customerID)
		return s.queue(tx, KindAccumulate, customerID, call, entry.ID)
	})
	if errors.Is(err, errUnknownCode) {
		up, err := s.accumulateUpstream(ctx, req, call)
		if err != nil {
			return nil, err
		}
		up.Ignored = ignored
		return up, nil
	}
	if err != nil {
		return nil, fmt.Errorf("accumulate %s: %w", req.Code, err)
	}
	return &res, nil
}

// errUnknownCode ends an accumulate's write when the local catalog does not
// know the code: the code is then passed through to the central CRM, outside
// the transaction (no network I/O inside a write).
var errUnknownCode = errors.New("code not in the local catalog")

// plannedEntryID is the ledger id a points write will most likely use, known
// before the write: the wanted one when valid, else a fresh one.
func plannedEntryID(want string, newID func() string) string {
	if ValidID(want) {
		return want
	}
	return newID()
}

// entryIDIn is the ledger id a points write uses: want when it is valid and
// not yet a ledger entry here (wantedID), else planned, minted before the write.
func (s *Service) entryIDIn(tx Tx, want, planned string) string {
	if !ValidID(want) {
		return planned
	}
	return s.wantedID(tx, want)
}

// wantedID keeps an id minted downstream when it is valid and not yet a
// ledger entry here; otherwise it mints one.
func (s *Service) wantedID(tx Tx, want string) string {
	if ValidID(want) {
		if e, err := tx.LedgerEntry(want); err == nil && e == nil {
			return want
		}
	}
	return s.newID()
}

// pointsStamp is an accumulate's or redeem's outbox body stamped before the
// write (stampBody: `id` the entry's, `data._id` the customer's) with the
// planned entry id and a placeholder for the customer's id, which only the
// write knows and copies in: re-encoding JSON inside the single writer would
// hold up every write of the edge.
type pointsStamp struct {
	off     bool // standalone: nothing is queued, nothing to stamp
	stamped []byte
	at      int // offset of the placeholder in stamped; -1: none
}

// customerPlaceholder holds a customer id's place in a pointsStamp: an id's
// length and alphabet, so that copying the id in leaves the JSON exactly as
// stampBody would have written it.
const customerPlaceholder = "ffffffffffffffffffffffff"

func (s *Service) newPointsStamp(body []byte, entryID string) pointsStamp {
	if s.upstream == nil {
		return pointsStamp{off: true, at: -1}
	}
	b := stampBody(body, map[string]any{"id": entryID}, "data", map[string]any{"_id": customerPlaceholder})
	at := bytes.Index(b, []byte(customerPlaceholder))
	if at < 0 || bytes.LastIndex(b, []byte(customerPlaceholder)) != at {
		at = -1 // not an object, or the placeholder also occurs in the body itself
	}
	return pointsStamp{stamped: b, at: at}
}

// body is the outbox body stamped with the ids the write used: the stamp with
// the customer's id copied in, or, when the entry id is not the planned one,
// a fresh stampBody of the request's body.
func (st pointsStamp) body(body []byte, plannedEntry, entryID, customerID string) []byte {
	if st.off {
		return body
	}
	if st.at >= 0 && entryID == plannedEntry && ValidID(customerID) {
		copy(st.stamped[st.at:], customerID)
		return st.stamped
	}
	return stampBody(body, map[string]any{"id": entryID}, "data", map[string]any{"_id": customerID})
}

// contactCustomer finds the customer by the request's contact, adding the
// phones and emails it does not have yet (skipping any another customer owns),
// or creates one. It returns the customer's id, and the customer when it was
// read (nil when it was not: a returning customer with nothing new costs no
// write, and no reading beyond its contacts' owners and its name).
func (s *Service) contactCustomer(tx Tx, req *AccumulateRequest) (string, *Customer, error) {
	// Each contact's owner is looked up once: the customer is the owner of
	// the first phone, else of the first email, that has one (as
	// customerIDByContact finds it); a contact the customer already has is
	// one it owns; one that another customer owns is skipped; an unowned one
	// is added.
	var id string
	patch := CustomerPatch{ID: req.CustomerID}
	for _, ph := range req.phones {
		owner, err := tx.CustomerIDByPhone(ph.Number)
		if err != nil {
			return "", nil, err
		}
		if owner == "" {
			patch.Phones = append(patch.Phones, ph)
		} else if id == "" {
			id = owner
		}
	}
	for _, em := range req.emails {
		owner, err := tx.CustomerIDByEmail(em.Address)
		if err != nil {
			return "", nil, err
		}
		if owner == "" {
			patch.Emails = append(patch.Emails, em)
		} else if id == "" {
			id = owner
		}
	}
	if id == "" {
		if req.Name != "" {
			patch.Name = &req.Name
		}
		c, err := s.newCustomer(tx, &patch)
		if err != nil {
			return "", nil, err
		}
		return c.ID, c, nil
	}
	if req.Name != "" {
		name, _, err := tx.CustomerName(id)
		if err != nil {
			return "", nil, err
		}
		if name == "" {
			patch.Name = &req.Name
		}
	}
	if patch.Name == nil && len(patch.Phones) == 0 && len(patch.Emails) == 0 {
		return id, nil, nil
	}
	c, err := tx.Customer(id)
	if err != nil {
		return "", nil, err
	}
	if c == nil {
		return "", nil, fmt.Errorf("customer %s owns a contact but is missing", id)
	}
	if err := s.patchCustomer(tx, c, &patch); err != nil {
		return "", nil, err
	}
	return id, c, nil
}

// errOfflineCode is the answer for a code the local catalog does not know
// while the central CRM cannot be asked.
var errOfflineCode = (&Error{Code: ENOTFOUND, Message: "Code not found in the local catalog, and the central CRM is unreachable (the edge is offline)"}).WithReason(ReasonCodeNotFound)

// accumulateUpstream handles a code the local catalog does not know: the
// central CRM is asked synchronously and, on success, the customer's central
// history is imported so the entry shows with the central's score. Nothing is
// queued: the call itself carried the write upstream. The customer is stored
// here only once the central accepted, so a refused or unreachable call leaves
// no customer the central never heard of.
func (s *Service) accumulateUpstream(ctx context.Context, req AccumulateRequest, call Call) (*PointsResult, error) {
	if !s.upstreamReachable() {
		if s.upstream == nil {
			return nil, (&Error{Code: ENOTFOUND, Message: "Code not found"}).WithReason(ReasonCodeNotFound)
		}
		return nil, errOfflineCode
	}
	// The ids the central is asked to keep: the customer's (existing here, or
	// minted now) and the ledger entry's.
	customerID := req.CustomerID
	err := s.store.Read(ctx, func(tx Tx) error {
		c, err := customerByContact(tx, contactOf(req.phones, req.emails))
		if c != nil {
			customerID = c.ID
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("accumulate %s upstream: %w", req.Code, err)
	}
	if !ValidID(customerID) {
		customerID = s.newID()
	}
	entryID := req.EntryID
	if !ValidID(entryID) {
		entryID = s.newID()
	}
	call.Body = stampBody(call.Body, map[string]any{"id": entryID}, "data", map[string]any{"_id": customerID})
	call.Key = entryID
	status, body, err := s.upstream.Accumulate(ctx, call)
	if err != nil {
		return nil, errOfflineCode
	}
	if status < 200 || status > 299 {
		return nil, upstreamLoyaltyError(status, body)
	}
	var c *Customer
	req.CustomerID = customerID
	err = s.store.Write(ctx, func(tx Tx) error {
		id, read, err := s.contactCustomer(tx, &req)
		if err != nil || read != nil {
			c = read
			return err
		}
		if c, err = tx.Customer(id); err == nil && c == nil {
			err = fmt.Errorf("customer %s is missing", id)
		}
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("accumulate %s upstream: %w", req.Code, err)
	}
	// The central's history has the entry with its score; if it cannot be
	// read now, the central's answer is recorded instead (the full history
	// is imported on a later pass-through).
	importErr := s.importHistory(ctx, c)
	var answer struct {
		Score int64  `json:"score"`
		ID    string `json:"id"`
	}
	_ = json.Unmarshal(body, &answer)
	if ValidID(answer.ID) {
		entryID = answer.ID
	}
	var res PointsResult
	err = s.store.Write(ctx, func(tx Tx) error {
		e, err := tx.LedgerEntry(entryID)
		if err != nil {
			return err
		}
		if e == nil && importErr == nil {
			entries, err := tx.History(HistoryFilter{CustomerID: c.ID, Type: EntryAccumulate, Limit: HistoryPageSize})
			if err != nil {
				return err
			}
			for i := range entries {
				if entries[i].Code == req.Code {
					e = &entries[i]
					break
				}
			}
		}
		if e == nil {
			e = &LedgerEntry{ID: entryID, CustomerID: c.ID, Type: EntryAccumulate, Score: answer.Score,
				Status: StatusLive, Confirmed: true, ItemCode: req.Code, Code: req.Code,
				Org: s.org, PosID: req.PosID, TokenName: PrincipalFrom(ctx).TokenName,
				Origin: OriginUpstream, CreatedAt: s.nowMs()}
			if _, err := tx.ImportLedgerEntry(e); err != nil {
				return err
			}
		}
		res.Entry, res.CustomerID = *e, c.ID
		res.Balance, err = tx.Balance(c.ID)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("accumulate %s upstream: %w", req.Code, err)
	}
	return &res, nil
}

// upstreamLoyaltyError turns the central's refusal into the same domain error
// a local refusal would be, keeping its message and machine code.
func upstreamLoyaltyError(status int, body []byte) error {
	var env struct {
		Message string `json:"message"`
		Error   string `json:"error"`
	}
	_ = json.Unmarshal(body, &env)
	code := ENOTFOUND
	switch {
	case status == 409:
		code = ECONFLICT
	case status == 400 || status == 422:
		code = EINVALID
	case status == 401 || status == 403:
		code = EUNAVAILABLE // our credentials upstream are wrong: not the cashier's fault
	case status >= 500 || status == 429 || status == 408:
		code = EUNAVAILABLE
	}
	msg := env.Message
	if msg == "" || code == EUNAVAILABLE {
		msg = fmt.Sprintf("The central CRM refused the code (HTTP %d)", status)
	}
	reason := env.Error
	switch {
	case code == EUNAVAILABLE:
		reason = ReasonUpstreamUnavailable
	case reason == "":
		reason = ReasonCodeNotFound
	}
	return &Error{Code: code, Reason: reason, Message: msg}
}

// Redeem spends a gift's price from the customer's balance. The single writer
// runs the balance check and the debit in one transaction, so concurrent
// redeems can never overdraw.
func (s *Service) Redeem(ctx context.Context, req RedeemRequest, call Call) (*PointsResult, error) {
	req.Code = strings.TrimSpace(req.Code)
	if req.Code == "" {
		return nil, Invalid("code", "code is required")
	}
	if req.Contact == nil {
		return nil, (&Error{Code: EINVALID, Field: "data", Message: "data is required, with a phone or an email"}).WithReason(ReasonContactRequired)
	}
	phones, emails, ignored, err := req.Contact.read()
	if err != nil {
		return nil, err
	}
	contact := contactOf(phones, emails)
	if err := checkText("code", req.Code); err != nil {
		return nil, err
	}
	if err := s.checkLoyaltyPos(ctx, &req.PosID); err != nil {
		return nil, err
	}
	// As Accumulate: the entry id minted, and the body stamped, before the write.
	entryID := plannedEntryID(req.EntryID, s.newID)
	stamp := s.newPointsStamp(call.Body, entryID)
	res := PointsResult{Ignored: ignored}
	err = s.write(ctx, func(tx Tx) error {
		gift, err := tx.Gift(req.Code)
		if err != nil {
			return err
		}
		if gift == nil {
			return (&Error{Code: ENOTFOUND, Message: "Gift not found"}).WithReason(ReasonGiftNotFound)
		}
		customerID, err := customerIDByContact(tx, contact)
		if err != nil {
			return err
		}
		if customerID == "" {
			return (&Error{Code: ENOTFOUND, Message: "Customer not found"}).WithReason(ReasonCustomerNotFound)
		}
		if err := s.checkCustomerVisible(ctx, tx, customerID); err != nil {
			return err
		}
		bal, err := tx.Balance(customerID)
		if err != nil {
			return err
		}
		if bal.Points < gift.Score {
			return (&Error{Code: ECONFLICT, Message: fmt.Sprintf("Not enough points: the gift costs %d, the balance is %d", gift.Score, bal.Points)}).WithReason(ReasonInsufficientPoints)
		}
		entry := LedgerEntry{
			ID: s.entryIDIn(tx, req.EntryID, entryID), CustomerID: customerID, Type: EntryRedeem, Score: gift.Score,
			Status: StatusLive, Confirmed: s.upstream == nil,
			ItemCode: gift.Code, ItemName: gift.Name, ItemID: gift.ID, ItemScore: gift.Score,
			Org: s.org, PosID: req.PosID, TokenName: PrincipalFrom(ctx).TokenName,
			Origin: OriginLocal, CreatedAt: s.nowMs(),
		}
		if err := tx.InsertLedgerEntry(&entry); err != nil {
			return err
		}
		if res.Balance, err = tx.Balance(customerID); err != nil {
			return err
		}
		res.Entry, res.CustomerID = entry, customerID
		call.Body = stamp.body(call.Body, entryID, entry.ID, customerID)
		return s.queue(tx, KindRedeem, customerID, call, entry.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("redeem %s: %w", req.Code, err)
	}
	return &res, nil
}

// checkLoyaltyPos settles the location a loyalty call acts at: the pos_id
// given, or a scoped token's only location.
func (s *Service) checkLoyaltyPos(ctx context.Context, posID *string) error {
	p := PrincipalFrom(ctx)
	if *posID == "" && len(p.PosIDs) == 1 {
		*posID = p.PosIDs[0]
	}
	if *posID == "" {
		return nil
	}
	if err := checkText("pos_id", *posID); err != nil {
		return err
	}
	return checkPos(ctx, *posID)
}

// checkCustomerVisible keeps a location-scoped token to its own customers:
// members of its locations, or customers with ledger entries there.
func (s *Service) checkCustomerVisible(ctx context.Context, tx Tx, customerID string) error {
	p := PrincipalFrom(ctx)
	if !p.Scoped() {
		return nil
	}
	ok, err := tx.CustomerSeenAt(customerID, p.PosIDs)
	if err != nil || ok {
		return err
	}
	return Errorf(EFORBIDDEN, "This token may not see customers of other locations")
}

// Balance returns the points of the customer the contact names. An unknown
// customer has none.
func (s *Service) Balance(ctx context.Context, in ContactInput) (Balance, error) {
	phones, emails, _, err := in.read()
	if err != nil {
		return Balance{}, err
	}
	var bal Balance
	err = s.store.Read(ctx, func(tx Tx) error {
		c, err := customerByContact(tx, contactOf(phones, emails))
		if err != nil || c == nil {
			return err
		}
		if err := s.checkCustomerVisible(ctx, tx, c.ID); err != nil {
			return err
		}
		bal, err = tx.Balance(c.ID)
		return err
	})
	if err != nil {
		return Balance{}, fmt.Errorf("balance: %w", err)
	}
	return bal, nil
}

// HistoryQuery is a page of a customer's ledger.
type HistoryQuery struct {
	Contact  ContactInput
	Type     int       // 0: both
	From, To time.Time // inclusive, zero: open
	Page     int       // from 1
}

// History returns a page of entries, newest first, and the customer they
// belong to (nil, with no entries, when the contact is unknown).
func (s *Service) History(ctx context.Context, q HistoryQuery) ([]LedgerEntry, *Customer, error) {
	phones, emails, _, err := q.Contact.read()
	if err != nil {
		return nil, nil, err
	}
	if q.Page < 1 {
		return nil, nil, Invalid("page", "page must be 1 or more")
	}
	if q.Page > 1_000_000 {
		return nil, nil, Invalid("page", "page is too large")
	}
	if !q.From.IsZero() && !q.To.IsZero() && q.From.After(q.To) {
		return nil, nil, Invalid("createdAtRangeFrom", "createdAtRangeFrom is after createdAtRangeTo")
	}
	var entries []LedgerEntry
	var c *Customer
	err = s.store.Read(ctx, func(tx Tx) error {
		var err error
		if c, err = customerByContact(tx, contactOf(phones, emails)); err != nil || c == nil {
			return err
		}
		if err := s.checkCustomerVisible(ctx, tx, c.ID); err != nil {
			return err
		}
		entries, err = tx.History(HistoryFilter{
			CustomerID: c.ID, Type: q.Type, From: q.From, To: q.To,
			Limit: HistoryPageSize, Offset: (q.Page - 1) * HistoryPageSize,
		})
		return err
	})
	if err != nil {
		return nil, nil, fmt.Errorf("history: %w", err)
	}
	return entries, c, nil
}
