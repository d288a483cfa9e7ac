package edge

import (
	"context"
	"fmt"
	"slices"
)

// MemberWrite is a create or update through the member dialect: the phone is
// the member's identity at a location.
type MemberWrite struct {
	PosID string
	Phone string // E.164
	Patch CustomerPatch
}

// FindMember returns the customer with this phone; with a posID, only if it is
// a member there. A phone unknown locally is asked of the central CRM when it is
// reachable, and the answer cached (read-through).
func (s *Service) FindMember(ctx context.Context, phone, posID string) (*Customer, error) {
	e164, err := NormalizePhone(phone)
	if err != nil {
		return nil, err
	}
	if posID != "" {
		if err := checkPos(ctx, posID); err != nil {
			return nil, err
		}
	}
	c, err := s.localMember(ctx, e164, posID)
	if err != nil || c != nil {
		return c, err
	}
	if posID != "" && s.upstream != nil {
		c, err = s.readThroughMember(ctx, e164, posID)
		if err != nil || c != nil {
			return c, err
		}
	}
	return nil, Errorf(ENOTFOUND, "Customer not found")
}

func (s *Service) localMember(ctx context.Context, e164, posID string) (*Customer, error) {
	var found *Customer
	err := s.store.Read(ctx, func(tx Tx) error {
		if posID != "" {
			var err error
			found, err = tx.MemberByPhone(e164, posID)
			return err
		}
		id, err := tx.CustomerIDByPhone(e164)
		if err != nil || id == "" {
			return err
		}
		if p := PrincipalFrom(ctx); p.Scoped() {
			if ok, err := tx.CustomerSeenAt(id, p.PosIDs); err != nil || !ok {
				return err
			}
		}
		found, err = tx.Customer(id)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("find member: %w", err)
	}
	return found, nil
}

// CreateMember adds a member at a location. A phone already a member there is
// a conflict; a phone known from elsewhere joins this location with the given
// fields applied.
func (s *Service) CreateMember(ctx context.Context, in MemberWrite, call Call) (*Customer, error) {
	if err := s.checkMemberWrite(ctx, &in); err != nil {
		return nil, err
	}
	var out *Customer
	err := s.write(ctx, func(tx Tx) error {
		id, err := tx.CustomerIDByPhone(in.Phone)
		if err != nil {
			return err
		}
		var c *Customer
		if id != "" {
			member, err := tx.IsMember(in.PosID, id)
			if err != nil {
				return err
			}
			if member {
				return &Error{Code: ECONFLICT, Reason: "member_exists", Field: "phone", Message: "This phone is already a member at this location"}
			}
			if c, err = tx.Customer(id); err != nil {
				return err
			}
			if err := s.patchCustomer(tx, c, &in.Patch); err != nil {
				return err
			}
		} else {
			if c, err = s.newCustomer(tx, &in.Patch); err != nil {
				return err
			}
		}
		if err := tx.AddMembership(in.PosID, c.ID, c.UpdatedAt); err != nil {
			return err
		}
		out = c
		call.Body = stampBody(call.Body, map[string]any{"_id": c.ID}, "", nil)
		return s.queue(tx, KindMemberCreate, c.ID, call, "")
	})
	if err != nil {
		return nil, fmt.Errorf("create member: %w", err)
	}
	return out, nil
}

// UpdateMember changes the member with in.Phone; only the fields present
// change. The customer becomes a member of in.PosID if it was not yet.
func (s *Service) UpdateMember(ctx context.Context, in MemberWrite, call Call) (*Customer, error) {
	if err := s.checkMemberWrite(ctx, &in); err != nil {
		return nil, err
	}
	var out *Customer
	err := s.write(ctx, func(tx Tx) error {
		id, err := tx.CustomerIDByPhone(in.Phone)
		if err != nil {
			return err
		}
		if id == "" {
			return Errorf(ENOTFOUND, "Customer not found")
		}
		c, err := tx.Customer(id)
		if err != nil {
			return err
		}
		if err := s.patchCustomer(tx, c, &in.Patch); err != nil {
			return err
		}
		if err := tx.AddMembership(in.PosID, c.ID, c.UpdatedAt); err != nil {
			return err
		}
		out = c
		call.Body = stampBody(call.Body, map[string]any{"_id": c.ID}, "", nil)
		return s.queue(tx, KindMemberUpdate, c.ID, call, "")
	})
	if err != nil {
		return nil, fmt.Errorf("update member: %w", err)
	}
	return out, nil
}

func (s *Service) checkMemberWrite(ctx context.Context, in *MemberWrite) error {
	if in.PosID == "" {
		return Invalid("pos_id", "pos_id is required")
	}
	if err := checkText("pos_id", in.PosID); err != nil {
		return err
	}
	if err := checkPos(ctx, in.PosID); err != nil {
		return err
	}
	// The member's phone is its identity: it leads the phone list.
	in.Patch.Phones = append([]Phone{{Number: in.Phone}}, in.Patch.Phones...)
	in.Patch.PrimaryFirst = true
	return in.Patch.Validate()
}

// newCustomer creates a customer from a patch, keeping a wanted `_id` when it
// is valid and unused (ids minted at a downstream edge stay the same here).
func (s *Service) newCustomer(tx Tx, p *CustomerPatch) (*Customer, error) {
	now := s.nowMs()
	c := &Customer{ID: s.newID(), CreatedAt: now, UpdatedAt: now}
	if ValidID(p.ID) {
		existing, err := tx.Customer(p.ID)
		if err != nil {
			return nil, err
		}
		if existing == nil {
			c.ID = p.ID
		}
	}
	if err := s.applyPatch(tx, c, p); err != nil {
		return nil, err
	}
	if err := tx.InsertCustomer(c); err != nil {
		return nil, err
	}
	return c, nil
}

// patchCustomer changes the stored customer c by p (applyPatch) and writes it
// back, updated now.
func (s *Service) patchCustomer(tx Tx, c *Customer, p *CustomerPatch) error {
	if err := s.applyPatch(tx, c, p); err != nil {
		return err
	}
	c.UpdatedAt = s.nowMs()
	return tx.UpdateCustomer(c)
}

// applyPatch merges p into c after checking that p's phones and emails are not
// another customer's and resolving its customer type.
func (s *Service) applyPatch(tx Tx, c *Customer, p *CustomerPatch) error {
	for _, ph := range p.Phones {
		owner, err := tx.CustomerIDByPhone(ph.Number)
		if err != nil {
			return err
		}
		if owner != "" && owner != c.ID {
			return &Error{Code: ECONFLICT, Reason: "phone_taken", Field: "phone", Message: "This phone belongs to another customer"}
		}
	}
	for _, em := range p.Emails {
		owner, err := tx.CustomerIDByEmail(em.Address)
		if err != nil {
			return err
		}
		if owner != "" && owner != c.ID {
			return &Error{Code: ECONFLICT, Reason: "email_taken", Field: "email", Message: "This email belongs to another customer"}
		}
	}
	if p.Type != nil && p.Type.TypeNo != "" {
		t, err := s.resolveType(tx, *p.Type)
		if err != nil {
			return err
		}
		c.setType(t.Ref())
	}
	return p.apply(c, s.newID)
}

// customerByContact finds the customer owning any of the contact's phones,
// then emails, in that order. It returns nil when none does.
func customerByContact(tx Tx, ct Contact) (*Customer, error) {
	id, err := customerIDByContact(tx, ct)
	if err != nil || id == "" {
		return nil, err
	}
	return tx.Customer(id)
}

// customerIDByContact is the id of the customer customerByContact finds, or "".
func customerIDByContact(tx Tx, ct Contact) (string, error) {
	for _, ph := range ct.Phones {
		id, err := tx.CustomerIDByPhone(ph)
		if err != nil || id != "" {
			return id, err
		}
	}
	for _, em := range ct.Emails {
		id, err := tx.CustomerIDByEmail(em)
		if err != nil || id != "" {
			return id, err
		}
	}
	return "", nil
}

// readThroughMember asks the central CRM for a member this edge does not know
// and caches it (customer and membership, no outbox event) so it is found
// offline later. Its central history is imported once.
func (s *Service) readThroughMember(ctx context.Context, e164, posID string) (*Customer, error) {
	if !s.upstreamReachable() {
		return nil, nil // known to be offline: answer from local data at once
	}
	remote, err := s.upstream.FetchMember(ctx, e164, posID)
	if err != nil || remote == nil {
		return nil, nil //nolint:nilerr // unreachable central: not found locally is the answer
	}
	// The central answered for this phone: it is the customer's, whatever
	// form (or none) its answer shows.
	if !slices.ContainsFunc(remote.Phones, func(p Phone) bool { return p.Number == e164 }) {
		remote.Phones = append([]Phone{{Number: e164}}, remote.Phones...)
	}
	var cached *Customer
	err = s.store.Write(ctx, func(tx Tx) error {
		c, err := s.cacheRemoteCustomer(tx, remote)
		if err != nil {
			return err
		}
		cached = c
		return tx.AddMembership(posID, c.ID, s.nowMs())
	})
	if err != nil {
		return nil, fmt.Errorf("cache member from upstream: %w", err)
	}
	s.importHistoryOnce(ctx, cached)
	return cached, nil
}

// cacheRemoteCustomer stores a customer the central CRM returned. When a local
// customer already owns its phone, the local record is kept and its unknown
// fields filled in; otherwise the central's record (and `_id`) is copied.
func (s *Service) cacheRemoteCustomer(tx Tx, remote *Customer) (*Customer, error) {
	local, err := customerByContact(tx, contactOf(remote.Phones, nil))
	if err != nil {
		return nil, err
	}
	if local == nil {
		c := *remote
		if !ValidID(c.ID) {
			c.ID = s.newID()
		} else if other, err := tx.Customer(c.ID); err != nil {
			return nil, err
		} else if other != nil {
			c.ID = s.newID()
		}
		c.No = 0
		c.Types = nil // types are scoped per central; not cached from a member view
		var keep []Email
		for _, em := range c.Emails {
			owner, err := tx.CustomerIDByEmail(em.Address)
			if err != nil {
				return nil, err
			}
			if owner == "" {
				keep = append(keep, em)
			}
		}
		c.Emails = keep
		for i := range c.Phones {
			if c.Phones[i].ID == "" {
				c.Phones[i].ID = s.newID()
			}
		}
		for i := range c.Emails {
			if c.Emails[i].ID == "" {
				c.Emails[i].ID = s.newID()
			}
		}
		if c.CreatedAt.IsZero() {
			c.CreatedAt = s.nowMs()
		}
		if c.UpdatedAt.IsZero() {
			c.UpdatedAt = c.CreatedAt
		}
		if err := tx.InsertCustomer(&c); err != nil {
			return nil, err
		}
		return &c, nil
	}
	if local.Name == "" {
		local.Name = remote.Name
	}
	if local.Gender == "" {
		local.Gender = remote.Gender
	}
	if local.Birth == (Birthday{}) {
		local.Birth = remote.Birth
	}
	for k, v := range remote.Attrs {
		if local.Attrs == nil {
			local.Attrs = map[string]string{}
		}
		if local.Attrs[k] == "" {
			local.Attrs[k] = v
		}
	}
	if err := tx.UpdateCustomer(local); err != nil {
		return nil, err
	}
	return local, nil
}

// importHistoryOnce copies a customer's central ledger the first time the
// customer is fetched through read-through. Failures are not the caller's
// problem: the member was found; the history import is retried next time.
func (s *Service) importHistoryOnce(ctx context.Context, c *Customer) {
	var done bool
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		done, err = tx.HistoryImported(c.ID)
		return err
	})
	if err != nil || done {
		return
	}
	_ = s.importHistory(ctx, c)
}

// importHistory fetches the central's ledger for c and inserts the entries this
// edge does not have yet (matched by entry id).
func (s *Service) importHistory(ctx context.Context, c *Customer) error {
	entries, err := s.upstream.FetchHistory(ctx, contactOf(c.Phones, c.Emails))
	if err != nil {
		return fmt.Errorf("fetch upstream history: %w", err)
	}
	return s.store.Write(ctx, func(tx Tx) error {
		for i := range entries {
			e := entries[i]
			if !ValidID(e.ID) {
				continue
			}
			e.CustomerID = c.ID
			e.Origin = OriginUpstream
			e.Confirmed = true
			if _, err := tx.ImportLedgerEntry(&e); err != nil {
				return err
			}
		}
		return tx.MarkHistoryImported(c.ID, s.nowMs())
	})
}
