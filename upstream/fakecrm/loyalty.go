package fakecrm

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
)

// loyaltyError is the loyalty dialect's failure body.
type loyaltyError struct {
	Success int    `json:"success"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

// loyaltyOK is the loyalty dialect's success body for /accumulate and /redeem.
type loyaltyOK struct {
	Success int    `json:"success"`
	Score   int    `json:"score"`
	ID      string `json:"id"`
}

// redeemScore is what a gift costs when no gift was ever added to the catalog.
const redeemScore = 10

const historyPageSize = 20

type accumulateBody struct {
	Code string `json:"code"`
	ID   string `json:"id"`
	Data struct {
		ID     string         `json:"_id"`
		Name   string         `json:"name"`
		Phones []contactValue `json:"phones"`
		Emails []contactValue `json:"emails"`
	} `json:"data"`
}

func (s *store) accumulate(cl *call) (int, any, *apiError) {
	var b accumulateBody
	if err := cl.decode(&b); err != nil {
		return 0, nil, err
	}
	if b.Code == "" {
		return 0, nil, errorf(http.StatusBadRequest, "invalid_code", "code is required")
	}
	ct := contact{id: b.Data.ID, name: b.Data.Name}
	for _, p := range b.Data.Phones {
		phone, ok := normalizePhone(p.Value)
		if !ok {
			return 0, nil, errorf(http.StatusBadRequest, "invalid_phone", "phone %q is invalid", p.Value)
		}
		ct.phones = append(ct.phones, contactValue{Type: p.Type, Value: phone})
	}
	for _, e := range b.Data.Emails {
		email, ok := normalizeEmail(e.Value)
		if !ok {
			return 0, nil, errorf(http.StatusBadRequest, "invalid_email", "email %q is not an address", e.Value)
		}
		ct.emails = append(ct.emails, contactValue{Type: e.Type, Value: email})
	}
	if len(ct.phones) == 0 && len(ct.emails) == 0 {
		return 0, nil, errorf(http.StatusBadRequest, "contact_required", "a phone or an email is required")
	}

	if s.usedCodes[b.Code] {
		return 0, nil, errorf(http.StatusConflict, "code_used", "code %s has already been used", b.Code)
	}
	code, known := s.codes[b.Code]
	var product Product
	switch {
	case known:
		p, ok := s.products[code.ProductCode]
		if !ok {
			// A code whose product was never loaded still earns something.
			p = Product{Code: code.ProductCode, Name: code.ProductCode, Score: s.defaultScore}
		}
		product = p
	case s.acceptAny:
		product = s.defaultPr
	default:
		return 0, nil, errorf(http.StatusNotFound, "code_not_found", "code %s does not exist", b.Code)
	}

	c, err := s.findOrCreate(ct)
	if err != nil {
		return 0, nil, invalidContact(err)
	}
	s.usedCodes[b.Code] = true
	e := s.addEntry(c, Entry{
		ID: b.ID, Type: 1, Score: product.Score, Product: &product,
		Code: b.Code, SerialNumber: code.Serial,
	})
	return http.StatusOK, loyaltyOK{Success: 1, Score: e.Score, ID: e.ID}, nil
}

type redeemBody struct {
	Code string `json:"code"`
	ID   string `json:"id"`
	Data struct {
		ID    string `json:"_id"`
		Phone string `json:"phone"`
		Email string `json:"email"`
	} `json:"data"`
}

// redeem spends a gift. Unlike the edge, the fake does not check balances: it
// is the central, and the edge has already decided.
func (s *store) redeem(cl *call) (int, any, *apiError) {
	var b redeemBody
	if err := cl.decode(&b); err != nil {
		return 0, nil, err
	}
	if b.Code == "" {
		return 0, nil, errorf(http.StatusBadRequest, "invalid_code", "code is required")
	}
	ct, aerr := contactOf(b.Data.ID, b.Data.Phone, b.Data.Email)
	if aerr != nil {
		return 0, nil, aerr
	}
	gift, ok := s.gifts[b.Code]
	switch {
	case !ok && len(s.gifts) > 0:
		return 0, nil, errorf(http.StatusNotFound, "gift_not_found", "gift %s does not exist", b.Code)
	case !ok:
		gift = Gift{ID: s.ids.next(), Code: b.Code, Name: b.Code, Score: redeemScore}
	}
	c, err := s.findOrCreate(ct)
	if err != nil {
		return 0, nil, invalidContact(err)
	}
	e := s.addEntry(c, Entry{ID: b.ID, Type: 2, Score: gift.Score, Gift: &gift})
	return http.StatusOK, loyaltyOK{Success: 1, Score: e.Score, ID: e.ID}, nil
}

// contactOf builds a lookup contact from a single phone and email, at least
// one of which is required.
func contactOf(id, rawPhone, rawEmail string) (contact, *apiError) {
	ct := contact{id: id}
	if rawPhone != "" {
		phone, ok := normalizePhone(rawPhone)
		if !ok {
			return ct, errorf(http.StatusBadRequest, "invalid_phone", "phone is invalid")
		}
		ct.phones = []contactValue{{Value: phone}}
	}
	if rawEmail != "" {
		email, ok := normalizeEmail(rawEmail)
		if !ok {
			return ct, errorf(http.StatusBadRequest, "invalid_email", "email is not an address")
		}
		ct.emails = []contactValue{{Value: email}}
	}
	if len(ct.phones) == 0 && len(ct.emails) == 0 {
		return ct, errorf(http.StatusBadRequest, "contact_required", "a phone or an email is required")
	}
	return ct, nil
}

// historyItem is one /history-point item, in the seed's shape.
type historyItem struct {
	Type         int         `json:"type"`
	Score        int         `json:"score"`
	Status       int         `json:"status"`
	Product      *productRef `json:"product,omitempty"`
	Gift         *giftRef    `json:"gift,omitempty"`
	Contact      contactView `json:"contact"`
	Org          string      `json:"org"`
	Code         string      `json:"code,omitempty"`
	SerialNumber string      `json:"serialNumber,omitempty"`
	CreatedAt    int64       `json:"createdAt"`
	ID           string      `json:"id"`
}

type productRef struct {
	Code string `json:"code"`
	Name string `json:"name"`
	ID   string `json:"id"`
}

type giftRef struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Score int    `json:"score"`
	ID    string `json:"id"`
}

type contactView struct {
	Phones     []contactValue `json:"phones"`
	Emails     []contactValue `json:"emails"`
	Name       string         `json:"name"`
	Lastname   string         `json:"lastname"`
	CustomerID int            `json:"customerId"`
	ID         string         `json:"id"`
}

func (s *store) history(cl *call) (int, any, *apiError) {
	q := cl.query
	ct, aerr := contactOf("", q.Get("phone"), q.Get("email"))
	if aerr != nil {
		return 0, nil, aerr
	}
	var wantType int
	switch q.Get("type") {
	case "":
	case "point", "1":
		wantType = 1
	case "gift", "2":
		wantType = 2
	default:
		return 0, nil, errorf(http.StatusBadRequest, "invalid_type", "type must be point or gift")
	}
	page, aerr := intParam(q.Get("page"), 1)
	if aerr != nil || page < 1 {
		return 0, nil, errorf(http.StatusBadRequest, "invalid_page", "page must be a number from 1")
	}
	from, aerr := intParam(q.Get("createdAtRangeFrom"), 0)
	if aerr != nil {
		return 0, nil, aerr
	}
	to, aerr := intParam(q.Get("createdAtRangeTo"), 0)
	if aerr != nil {
		return 0, nil, aerr
	}

	items := []historyItem{}
	c := s.find(ct)
	if c == nil {
		return http.StatusOK, items, nil
	}
	var entries []*ledgerEntry
	for _, e := range s.ledger {
		if e.customer != c || (wantType != 0 && e.Type != wantType) ||
			(from != 0 && e.CreatedAt < from) || (to != 0 && e.CreatedAt > to) {
			continue
		}
		entries = append(entries, e)
	}
	// Newest first; of one millisecond, the later-recorded first.
	slices.SortFunc(entries, func(a, b *ledgerEntry) int {
		return cmp.Or(cmp.Compare(b.CreatedAt, a.CreatedAt), cmp.Compare(b.seq, a.seq))
	})
	start := (page - 1) * historyPageSize
	if start >= int64(len(entries)) {
		return http.StatusOK, items, nil
	}
	entries = entries[start:min(start+historyPageSize, int64(len(entries)))]
	view := s.contactView(c)
	for _, e := range entries {
		items = append(items, s.historyItem(e, view))
	}
	return http.StatusOK, items, nil
}

func (s *store) historyItem(e *ledgerEntry, view contactView) historyItem {
	it := historyItem{
		Type: e.Type, Score: e.Score, Status: 1, Contact: view, Org: s.org,
		Code: e.Code, SerialNumber: e.SerialNumber, CreatedAt: e.CreatedAt, ID: e.ID,
	}
	if e.Rejected {
		it.Status = 0
	}
	if p := e.Product; p != nil {
		it.Product = &productRef{Code: p.Code, Name: p.Name, ID: p.ID}
	}
	if g := e.Gift; g != nil {
		it.Gift = &giftRef{Code: g.Code, Name: g.Name, Score: g.Score, ID: g.ID}
	}
	return it
}

func (s *store) contactView(c *customer) contactView {
	last, _ := c.fields["last_name"].(string)
	return contactView{
		Phones:     append([]contactValue{}, c.phones...),
		Emails:     append([]contactValue{}, c.emails...),
		Name:       c.name(),
		Lastname:   last,
		CustomerID: c.customerID,
		ID:         c.id,
	}
}

// intParam parses an optional integer query parameter.
func intParam(v string, def int64) (int64, *apiError) {
	if v == "" {
		return def, nil
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, errorf(http.StatusBadRequest, "invalid_parameter", "%q is not a number", v)
	}
	return n, nil
}
