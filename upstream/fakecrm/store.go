package fakecrm

import (
	"cmp"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"strings"
	"time"
)

// store is the central CRM's data: one customer record that all four dialects
// view, the loyalty catalog and ledger, and the customer types. It has no lock
// of its own: every access happens under CRM.mu, which is also what makes
// "check the idempotency key, apply, remember the answer" one atomic step.
type store struct {
	org          string
	defaultScore int
	acceptAny    bool // Options.AcceptUnknownCodes
	now          func() time.Time
	ids          *idGen

	// customers maps every _id a customer is known by to it. A customer has one
	// canonical id, but a create that names a fresh _id for a phone the central
	// already knows adds that _id as an alias, so later updates the edge sends
	// with its own id still find the record.
	customers      map[string]*customer
	byPhone        map[string]*customer // normalised phone
	byEmail        map[string]*customer // lower-cased email
	nextCustomerID int

	products  map[string]Product
	codes     map[string]AccumulationCode
	gifts     map[string]Gift
	usedCodes map[string]bool
	defaultPr Product // the product an unknown code earns when AcceptUnknownCodes is set

	ledger   []*ledgerEntry
	entryIDs map[string]bool

	types map[typeKey]*customerType
}

func newStore(opts Options, now func() time.Time) *store {
	ids := newIDGen(now)
	s := &store{
		org:            opts.Org,
		defaultScore:   opts.DefaultScore,
		acceptAny:      opts.AcceptUnknownCodes,
		now:            now,
		ids:            ids,
		customers:      map[string]*customer{},
		byPhone:        map[string]*customer{},
		byEmail:        map[string]*customer{},
		nextCustomerID: 1,
		products:       map[string]Product{},
		codes:          map[string]AccumulationCode{},
		gifts:          map[string]Gift{},
		usedCodes:      map[string]bool{},
		entryIDs:       map[string]bool{},
		types:          map[typeKey]*customerType{},
	}
	if s.org == "" {
		s.org = ids.next()
	}
	if s.defaultScore == 0 {
		s.defaultScore = 100
	}
	s.defaultPr = Product{ID: ids.next(), Code: "DEFAULT", Name: "Default product", Score: s.defaultScore}
	return s
}

// Product is a catalog product: each accumulation code of it earns Score points.
type Product struct {
	ID    string `json:"id,omitempty"` // minted by AddProduct when empty
	Code  string `json:"code"`
	Name  string `json:"name"`
	Score int    `json:"score"`
}

// AccumulationCode is a single-use code printed on a product.
type AccumulationCode struct {
	Code        string `json:"code"`
	ProductCode string `json:"product_code"`
	Serial      string `json:"serial"`
}

// Gift is a catalog gift costing Score points.
type Gift struct {
	ID    string `json:"id,omitempty"` // minted by AddGift when empty
	Code  string `json:"code"`
	Name  string `json:"name"`
	Score int    `json:"score"`
}

// Entry is a ledger entry, as seeded with AddHistory. Its JSON is the
// /history-point item shape minus the contact and org, which the fake fills in.
type Entry struct {
	ID           string   `json:"id,omitempty"` // minted when empty or not 24-hex
	Type         int      `json:"type"`         // 1 points earned, 2 gift redeemed
	Score        int      `json:"score"`
	Rejected     bool     `json:"rejected,omitempty"` // shown as status 0 instead of 1
	Product      *Product `json:"product,omitempty"`  // for type 1
	Gift         *Gift    `json:"gift,omitempty"`     // for type 2
	Code         string   `json:"code,omitempty"`
	SerialNumber string   `json:"serialNumber,omitempty"`
	CreatedAt    int64    `json:"createdAt,omitempty"` // epoch ms, as on the wire; 0 means now
}

type ledgerEntry struct {
	Entry
	seq      int // insertion order, to order entries of the same millisecond
	customer *customer
}

// contactValue is one phone or email of a customer, in the loyalty dialect's shape.
type contactValue struct {
	Type  string `json:"type"`
	ID    string `json:"_id"`
	Value string `json:"value"`
}

type customer struct {
	id         string
	customerID int
	phones     []contactValue // normalised values; phones[0] is the primary phone
	emails     []contactValue // lower-cased values
	// fields holds every other attribute under one canonical name: the member
	// dialect's name for fields the dialects share (name, gender "1"/"2",
	// birthday mm-dd, year_birthday, facebook, twitter, ...), the profile
	// dialect's name for the rest. Dialects translate on the way in and out.
	fields    map[string]any
	pos       map[string]bool // locations it is a member of
	createdAt time.Time
	updatedAt time.Time
}

func (c *customer) primaryPhone() string {
	if len(c.phones) == 0 {
		return ""
	}
	return c.phones[0].Value
}

func (c *customer) primaryEmail() string {
	if len(c.emails) == 0 {
		return ""
	}
	return c.emails[0].Value
}

func (c *customer) name() string {
	n, _ := c.fields["name"].(string)
	return n
}

// contact is what the caller knows of a customer: used to find it, or to create it.
type contact struct {
	id     string // a wished-for _id, kept when it is 24-hex and unused
	name   string
	phones []contactValue // already normalised
	emails []contactValue // already normalised
}

// find returns the customer owning any of the contact's _id, phones or emails.
func (s *store) find(ct contact) *customer {
	if c := s.customers[ct.id]; c != nil {
		return c
	}
	for _, p := range ct.phones {
		if c := s.byPhone[p.Value]; c != nil {
			return c
		}
	}
	for _, e := range ct.emails {
		if c := s.byEmail[e.Value]; c != nil {
			return c
		}
	}
	return nil
}

// findOrCreate returns the customer matching ct, creating it when none does,
// and attaches to it any of ct's phones and emails it did not have yet.
func (s *store) findOrCreate(ct contact) (*customer, error) {
	c := s.find(ct)
	if c == nil {
		c = s.create(ct.id)
	} else if validID(ct.id) && s.customers[ct.id] == nil {
		s.customers[ct.id] = c
	}
	if ct.name != "" && c.name() == "" {
		c.fields["name"] = ct.name
	}
	for _, p := range ct.phones {
		if err := s.addPhone(c, p.Type, p.Value); err != nil {
			return nil, err
		}
	}
	for _, e := range ct.emails {
		if err := s.addEmail(c, e.Type, e.Value); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// create makes an empty customer, keeping id when it is a valid unused _id.
func (s *store) create(id string) *customer {
	if !validID(id) || s.customers[id] != nil {
		id = s.ids.next()
	}
	now := s.now()
	c := &customer{
		id:         id,
		customerID: s.nextCustomerID,
		fields:     map[string]any{},
		pos:        map[string]bool{},
		createdAt:  now,
		updatedAt:  now,
	}
	s.nextCustomerID++
	s.customers[id] = c
	return c
}

// errContactTaken is returned when a phone or email being attached to one
// customer already belongs to another.
type errContactTaken string

func (e errContactTaken) Error() string { return string(e) + " belongs to another customer" }

func (s *store) addPhone(c *customer, typ, phone string) error {
	switch owner := s.byPhone[phone]; {
	case owner == c:
		return nil
	case owner != nil:
		return errContactTaken("phone " + phone)
	}
	if typ == "" {
		typ = "Work"
	}
	c.phones = append(c.phones, contactValue{Type: typ, ID: s.ids.next(), Value: phone})
	s.byPhone[phone] = c
	return nil
}

func (s *store) addEmail(c *customer, typ, email string) error {
	switch owner := s.byEmail[email]; {
	case owner == c:
		return nil
	case owner != nil:
		return errContactTaken("email " + email)
	}
	if typ == "" {
		typ = "Work"
	}
	c.emails = append(c.emails, contactValue{Type: typ, ID: s.ids.next(), Value: email})
	s.byEmail[email] = c
	return nil
}

// addEntry appends e to c's ledger, minting what e leaves empty.
func (s *store) addEntry(c *customer, e Entry) *ledgerEntry {
	if !validID(e.ID) || s.entryIDs[e.ID] {
		e.ID = s.ids.next()
	}
	if e.CreatedAt == 0 {
		e.CreatedAt = s.now().UnixMilli()
	}
	if e.Type == 0 { // seeded entries may leave the type to be inferred
		e.Type = 1
		if e.Gift != nil {
			e.Type = 2
		}
	}
	// Seeded entries may name a product or gift by code only: take the
	// catalog's id, or mint one so history items always carry an id.
	if p := e.Product; p != nil && p.ID == "" {
		cp := *p
		cp.ID = cmp.Or(s.products[p.Code].ID, s.ids.next())
		e.Product = &cp
	}
	if g := e.Gift; g != nil && g.ID == "" {
		cg := *g
		cg.ID = cmp.Or(s.gifts[g.Code].ID, s.ids.next())
		e.Gift = &cg
	}
	s.entryIDs[e.ID] = true
	le := &ledgerEntry{Entry: e, seq: len(s.ledger), customer: c}
	s.ledger = append(s.ledger, le)
	return le
}

// normalizePhone reduces the spellings of one Vietnamese number to its
// national form: spaces, dots, dashes and brackets go, and a +84, 0084 or 84
// country prefix becomes 0. It is deliberately simpler than the edge's
// libphonenumber parsing; a fake only needs to agree on the common spellings.
func normalizePhone(s string) (string, bool) {
	s = strings.Map(func(r rune) rune {
		switch r {
		case ' ', '.', '-', '(', ')':
			return -1
		}
		return r
	}, s)
	switch {
	case strings.HasPrefix(s, "+84"):
		s = "0" + s[3:]
	case strings.HasPrefix(s, "0084"):
		s = "0" + s[4:]
	case strings.HasPrefix(s, "84") && len(s) >= 11:
		s = "0" + s[2:]
	}
	digits := strings.TrimPrefix(s, "+")
	if len(digits) < 8 || len(digits) > 15 {
		return "", false
	}
	for _, r := range digits {
		if r < '0' || r > '9' {
			return "", false
		}
	}
	return s, true
}

func normalizeEmail(s string) (string, bool) {
	s = strings.ToLower(strings.TrimSpace(s))
	at := strings.IndexByte(s, '@')
	return s, at > 0 && at < len(s)-1
}

// idGen mints 24-hex ids shaped like MongoDB ObjectIDs (seconds, 5 random
// bytes, counter), like the real central's and the edge's.
//
// idGen and validID repeat edge.NewIDGenerator and edge.ValidID on purpose:
// the fake stands for the central and judges the ids the edge sends (a
// customer's _id), so it does not share the edge's code (nor import edge).
type idGen struct {
	now     func() time.Time
	machine [5]byte
	counter uint32
}

func newIDGen(now func() time.Time) *idGen {
	g := &idGen{now: now}
	var seed [4]byte
	_, _ = rand.Read(g.machine[:])
	_, _ = rand.Read(seed[:])
	g.counter = binary.BigEndian.Uint32(seed[:])
	return g
}

// next is called under CRM.mu, so the counter needs no atomics.
func (g *idGen) next() string {
	var b [12]byte
	binary.BigEndian.PutUint32(b[0:4], uint32(g.now().Unix()))
	copy(b[4:9], g.machine[:])
	g.counter++
	b[9], b[10], b[11] = byte(g.counter>>16), byte(g.counter>>8), byte(g.counter)
	return hex.EncodeToString(b[:])
}

// validID reports whether s is a 24-hex-digit id.
func validID(s string) bool {
	if len(s) != 24 {
		return false
	}
	_, err := hex.DecodeString(s)
	return err == nil
}

// ---- Go seeding API ----

// AddProduct adds or replaces a catalog product.
func (c *CRM) AddProduct(p Product) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store.addProduct(p)
}

// AddCode adds an accumulation code (unused).
func (c *CRM) AddCode(code AccumulationCode) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store.addCode(code)
}

// AddGift adds or replaces a catalog gift. Once any gift was added, /redeem
// answers 404 gift_not_found for codes that are not gifts.
func (c *CRM) AddGift(g Gift) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.store.addGift(g)
}

func (s *store) addProduct(p Product) {
	if p.ID == "" {
		p.ID = s.ids.next()
	}
	s.products[p.Code] = p
}

func (s *store) addCode(code AccumulationCode) {
	s.codes[code.Code] = code
}

func (s *store) addGift(g Gift) {
	if g.ID == "" {
		g.ID = s.ids.next()
	}
	s.gifts[g.Code] = g
}

// AddMember seeds a member of location posID, as if created through
// POST /customers_location: member holds member-dialect fields and must have a
// phone; an `_id` that is 24-hex is kept. It returns the customer's _id.
func (c *CRM) AddMember(posID string, member map[string]any) (string, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	cu, err := c.store.upsertMember(posID, member, memberSeed)
	if err != nil {
		return "", fmt.Errorf("fakecrm: add member: %w", err)
	}
	return cu.id, nil
}

// AddHistory seeds ledger entries for the customer with this phone, creating
// the customer (with no membership) if the central does not know it yet.
// Entries without an id or a time get fresh ones.
func (c *CRM) AddHistory(phone string, entries ...Entry) error {
	p, ok := normalizePhone(phone)
	if !ok {
		return fmt.Errorf("fakecrm: add history: invalid phone %q", phone)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	cu, err := c.store.findOrCreate(contact{phones: []contactValue{{Value: p}}})
	if err != nil {
		return fmt.Errorf("fakecrm: add history: %w", err)
	}
	for _, e := range entries {
		c.store.addEntry(cu, e)
	}
	return nil
}
