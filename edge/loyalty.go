package edge

// The loyalty dialect: POST /accumulate, POST /redeem, GET /history-point and
// GET /balance (points-redeem-api.txt).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

var loyaltyDialect = &dialect{
	name: "loyalty",
	writeError: func(w http.ResponseWriter, err error) {
		writeJSON(w, HTTPStatus(ErrorCode(err)), loyaltyError{Success: 0, Message: ErrorMessage(err), Error: ErrorReason(err)})
	},
	replayOK: map[string]any{"success": 1},
}

type loyaltyError struct {
	Success int    `json:"success"`
	Message string `json:"message"`
	Error   string `json:"error"`
}

func (s *Server) routeLoyalty() {
	s.handle(http.MethodPost, "/accumulate", loyaltyDialect, anyToken, s.accumulate)
	s.handle(http.MethodPost, "/redeem", loyaltyDialect, anyToken, s.redeem)
	s.handle(http.MethodGet, "/history-point", loyaltyDialect, anyToken, s.historyPoint)
	s.handle(http.MethodGet, "/balance", loyaltyDialect, anyToken, s.balance)
}

// contactItem is one `{type, value}` of the seed's phones and emails lists.
type contactItem struct {
	Type  string `json:"type"`
	Value string `json:"value"`
}

type accumulateBody struct {
	Code *string `json:"code"`
	ID   string  `json:"id"`
	Data *struct {
		ID     string        `json:"_id"`
		Name   string        `json:"name"`
		Phones []contactItem `json:"phones"`
		Emails []contactItem `json:"emails"`
	} `json:"data"`
}

type redeemBody struct {
	Code *string `json:"code"`
	ID   string  `json:"id"`
	Data *struct {
		Phone string `json:"phone"`
		Email string `json:"email"`
	} `json:"data"`
}

// pointsReply is the success answer to accumulate and redeem: the seed's
// `{"success": 1}` plus what a till wants to print.
type pointsReply struct {
	Success  int      `json:"success"`
	Score    int64    `json:"score"`
	Balance  int64    `json:"balance"`
	Pending  int64    `json:"pending"`
	ID       string   `json:"id,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

func (s *Server) accumulate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var b accumulateBody
	body, err := decodeBody(r, &b)
	if err != nil {
		return err
	}
	if b.Code == nil {
		return Invalid("code", "code is required")
	}
	if b.Data == nil {
		return (&Error{Code: EINVALID, Field: "data", Message: "data is required, with phones or emails"}).WithReason(ReasonContactRequired)
	}
	posID, err := queryText(r, "pos_id")
	if err != nil {
		return err
	}
	req := AccumulateRequest{Code: *b.Code, Name: strings.TrimSpace(b.Data.Name), PosID: posID, EntryID: b.ID, CustomerID: b.Data.ID}
	var warnings []string
	for i, p := range b.Data.Phones {
		if err := checkText(fmt.Sprintf("data.phones[%d].type", i), p.Type); err != nil {
			return err
		}
		if strings.TrimSpace(p.Value) == "" {
			continue
		}
		e164, err := NormalizePhone(p.Value)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("data.phones[%d] is not a valid phone number and was ignored", i))
			continue
		}
		req.Phones = append(req.Phones, Phone{Type: p.Type, Number: e164})
	}
	for i, e := range b.Data.Emails {
		if err := checkText(fmt.Sprintf("data.emails[%d].type", i), e.Type); err != nil {
			return err
		}
		addr := strings.TrimSpace(e.Value)
		if addr == "" {
			continue
		}
		if err := CheckEmail(addr); err != nil {
			return Invalid(fmt.Sprintf("data.emails[%d]", i), "data.emails[%d] is not a valid email address", i)
		}
		req.Emails = append(req.Emails, Email{Type: e.Type, Address: addr})
	}
	if len(req.Phones) == 0 && len(req.Emails) == 0 && len(warnings) > 0 {
		return Invalid("data.phones", "data.phones holds no valid phone number, and there is no email")
	}
	res, err := s.svc.Accumulate(r.Context(), req, call(r, body))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pointsReply{Success: 1, Score: res.Entry.Score, Balance: res.Balance.Points,
		Pending: res.Balance.Pending, ID: res.Entry.ID, Warnings: warnings})
	return nil
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var b redeemBody
	body, err := decodeBody(r, &b)
	if err != nil {
		return err
	}
	if b.Code == nil {
		return Invalid("code", "code is required")
	}
	if b.Data == nil {
		return (&Error{Code: EINVALID, Field: "data", Message: "data is required, with a phone or an email"}).WithReason(ReasonContactRequired)
	}
	posID, err := queryText(r, "pos_id")
	if err != nil {
		return err
	}
	ct, warnings, err := loyaltyContact(b.Data.Phone, b.Data.Email, "data.")
	if err != nil {
		return err
	}
	res, err := s.svc.Redeem(r.Context(), RedeemRequest{Code: *b.Code, Contact: ct, PosID: posID, EntryID: b.ID}, call(r, body))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, pointsReply{Success: 1, Score: res.Entry.Score, Balance: res.Balance.Points,
		Pending: res.Balance.Pending, ID: res.Entry.ID, Warnings: warnings})
	return nil
}

// loyaltyContact reads a phone and an email. The seed's own examples carry
// placeholder phones ("023232"): a phone that does not parse is ignored, with
// a warning, when a valid email is there to find the customer by.
func loyaltyContact(phone, email, prefix string) (Contact, []string, error) {
	var ct Contact
	var warnings []string
	phone, email = strings.TrimSpace(phone), strings.TrimSpace(email)
	if email != "" {
		if err := CheckEmail(email); err != nil {
			return ct, nil, Invalid(prefix+"email", "%semail is not a valid address", prefix)
		}
		ct.Emails = []string{email}
	}
	if phone != "" {
		e164, err := NormalizePhone(phone)
		switch {
		case err == nil:
			ct.Phones = []string{e164}
		case email == "":
			return ct, nil, Invalid(prefix+"phone", "%sphone is not a valid phone number", prefix)
		default:
			warnings = append(warnings, prefix+"phone is not a valid phone number and was ignored")
		}
	}
	if ct.Empty() {
		return ct, nil, (&Error{Code: EINVALID, Field: prefix + "phone", Message: prefix + "phone or " + prefix + "email is required"}).WithReason(ReasonContactRequired)
	}
	return ct, warnings, nil
}

func (s *Server) balance(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ct, err := queryContact(r)
	if err != nil {
		return err
	}
	bal, c, err := s.svc.Balance(r.Context(), ct)
	if err != nil {
		return err
	}
	out := balanceReply{Success: 1, Balance: bal.Points, Pending: bal.Pending}
	if c != nil {
		out.CustomerID, out.ID = &c.No, &c.ID
	}
	writeJSON(w, http.StatusOK, out)
	return nil
}

// balanceReply is SPEC §3's `{"success":1,"balance":N,"pending":M}`, plus the
// customer it is about (null for an unknown one, whose balance is 0).
type balanceReply struct {
	Success    int     `json:"success"`
	Balance    int64   `json:"balance"`
	Pending    int64   `json:"pending"`
	CustomerID *int64  `json:"customerId"`
	ID         *string `json:"id"`
}

func queryContact(r *http.Request) (Contact, error) {
	phone, err := queryText(r, "phone")
	if err != nil {
		return Contact{}, err
	}
	email, err := queryText(r, "email")
	if err != nil {
		return Contact{}, err
	}
	ct, _, err := loyaltyContact(phone, email, "")
	return ct, err
}

func (s *Server) historyPoint(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ct, err := queryContact(r)
	if err != nil {
		return err
	}
	q := HistoryQuery{Contact: ct, Page: 1}
	typ, err := queryText(r, "type")
	if err != nil {
		return err
	}
	switch typ {
	case "", "none", "all":
	case "point":
		q.Type = EntryAccumulate
	case "gift":
		q.Type = EntryRedeem
	default:
		return Invalid("type", `type must be "point", "gift" or "none" (both)`)
	}
	if q.From, err = queryMillis(r, "createdAtRangeFrom"); err != nil {
		return err
	}
	if q.To, err = queryMillis(r, "createdAtRangeTo"); err != nil {
		return err
	}
	if page, err := queryText(r, "page"); err != nil {
		return err
	} else if page != "" {
		if q.Page, err = strconv.Atoi(page); err != nil {
			return Invalid("page", "page must be a whole number from 1")
		}
	}
	entries, c, err := s.svc.History(r.Context(), q)
	if err != nil {
		return err
	}
	if c == nil {
		writeRawJSON(w, http.StatusOK, []byte(`[]`))
		return nil
	}
	// Every item shows the same contact: encoded once.
	contact, err := json.Marshal(contactView(c))
	if err != nil {
		return fmt.Errorf("history contact: %w", err)
	}
	writeRawJSON(w, http.StatusOK, appendHistoryPage(make([]byte, 0, 256*len(entries)+len(contact)*len(entries)), entries, contact))
	return nil
}

func queryMillis(r *http.Request, name string) (time.Time, error) {
	v, err := queryText(r, name)
	if err != nil || v == "" {
		return time.Time{}, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil || n < 0 || n > 1e15 {
		return time.Time{}, Invalid(name, "%s must be a time in epoch milliseconds", name)
	}
	return time.UnixMilli(n), nil
}

// historyItem is the seed's history item: `product` for type 1, `gift` for 2.
type historyItem struct {
	Type         int             `json:"type"`
	Score        int64           `json:"score"`
	Status       int             `json:"status"`
	Product      *productJSON    `json:"product,omitempty"`
	Gift         *giftJSON       `json:"gift,omitempty"`
	Contact      json.RawMessage `json:"contact"` // DecodeHistory does not read a central's
	Org          string          `json:"org"`
	Code         string          `json:"code,omitempty"`
	SerialNumber string          `json:"serialNumber,omitempty"`
	CreatedAt    int64           `json:"createdAt"`
	ID           string          `json:"id"`
}

type productJSON struct {
	Code string `json:"code"`
	Name string `json:"name"`
	ID   string `json:"id"`
}

type giftJSON struct {
	Code  string `json:"code"`
	Name  string `json:"name"`
	Score int64  `json:"score"`
	ID    string `json:"id"`
}

type contactJSON struct {
	Phones     []contactEntryJSON `json:"phones"`
	Name       string             `json:"name"`
	Emails     []contactEntryJSON `json:"emails"`
	Lastname   string             `json:"lastname"`
	CustomerID int64              `json:"customerId"`
	ID         string             `json:"id"`
}

type contactEntryJSON struct {
	Type  string `json:"type"`
	ID    string `json:"_id"`
	Value string `json:"value"`
}

func contactView(c *Customer) *contactJSON {
	v := &contactJSON{Name: c.Name, Lastname: c.Attr(AttrLastName), CustomerID: c.No, ID: c.ID,
		Phones: make([]contactEntryJSON, 0, len(c.Phones)), Emails: make([]contactEntryJSON, 0, len(c.Emails))}
	for _, p := range c.Phones {
		v.Phones = append(v.Phones, contactEntryJSON{Type: p.Type, ID: p.ID, Value: DisplayPhone(p.Number)})
	}
	for _, e := range c.Emails {
		v.Emails = append(v.Emails, contactEntryJSON{Type: e.Type, ID: e.ID, Value: e.Address})
	}
	return v
}

// DecodeHistory reads a central CRM's /history-point answer into ledger
// entries (without CustomerID): the read-through import uses it.
func DecodeHistory(body []byte) ([]LedgerEntry, error) {
	var items []historyItem
	if err := json.Unmarshal(body, &items); err != nil {
		return nil, fmt.Errorf("decode history: %w", err)
	}
	out := make([]LedgerEntry, 0, len(items))
	for _, it := range items {
		e := LedgerEntry{ID: it.ID, Type: it.Type, Score: it.Score, Status: it.Status, Org: it.Org,
			Code: it.Code, Serial: it.SerialNumber, CreatedAt: time.UnixMilli(it.CreatedAt)}
		switch {
		case it.Type == EntryAccumulate && it.Product != nil:
			e.ItemCode, e.ItemName, e.ItemID = it.Product.Code, it.Product.Name, it.Product.ID
		case it.Type == EntryRedeem && it.Gift != nil:
			e.ItemCode, e.ItemName, e.ItemID, e.ItemScore = it.Gift.Code, it.Gift.Name, it.Gift.ID, it.Gift.Score
		case it.Type != EntryAccumulate && it.Type != EntryRedeem:
			continue
		}
		if e.ItemCode == "" {
			e.ItemCode = it.Code
		}
		if e.Status != StatusLive {
			e.Status = StatusRejected
		}
		out = append(out, e)
	}
	return out, nil
}
