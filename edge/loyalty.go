package edge

// The loyalty dialect: POST /accumulate, POST /redeem, GET /history-point and
// GET /balance (points-redeem-api.txt).

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
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
	Code string `json:"code"`
	ID   string `json:"id"`
	Data *struct {
		ID     string        `json:"_id"`
		Name   string        `json:"name"`
		Phones []contactItem `json:"phones"`
		Emails []contactItem `json:"emails"`
	} `json:"data"`
}

type redeemBody struct {
	Code string `json:"code"`
	ID   string `json:"id"`
	Data *struct {
		Phone string `json:"phone"`
		Email string `json:"email"`
	} `json:"data"`
}

func contactValues(items []contactItem) []ContactValue {
	out := make([]ContactValue, 0, len(items))
	for _, it := range items {
		out = append(out, ContactValue{Type: it.Type, Value: it.Value})
	}
	return out
}

// pointsReply is the success answer to accumulate and redeem: the seed's
// `{"success": 1}` plus what a till wants to print (SPEC §3's extra fields).
type pointsReply struct {
	Success int    `json:"success"`
	Score   int64  `json:"score"`
	Balance int64  `json:"balance"`
	ID      string `json:"id,omitempty"`
}

// writePoints answers an accumulate or redeem. The phones it ignored go to the
// request log, masked, not to the till.
func writePoints(w http.ResponseWriter, r *http.Request, res *PointsResult) {
	info := infoOf(r.Context())
	for _, p := range res.Ignored {
		info.warnings = append(info.warnings, p.Field+" is not a valid phone number and was ignored ("+maskPhone(p.Value)+")")
	}
	writeJSON(w, http.StatusOK, pointsReply{Success: 1, Score: res.Entry.Score, Balance: res.Balance.Points, ID: res.Entry.ID})
}

func (s *Server) accumulate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var b accumulateBody
	body, err := decodeBody(r, &b)
	if err != nil {
		return err
	}
	posID, err := queryText(r, "pos_id")
	if err != nil {
		return err
	}
	req := AccumulateRequest{Code: b.Code, PosID: posID, EntryID: b.ID}
	if d := b.Data; d != nil {
		req.Name, req.CustomerID = d.Name, d.ID
		req.Contact = ptr(ContactLists("data", contactValues(d.Phones), contactValues(d.Emails)))
	}
	res, err := s.svc.Accumulate(r.Context(), req, call(r, body))
	if err != nil {
		return err
	}
	writePoints(w, r, res)
	return nil
}

func (s *Server) redeem(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	var b redeemBody
	body, err := decodeBody(r, &b)
	if err != nil {
		return err
	}
	posID, err := queryText(r, "pos_id")
	if err != nil {
		return err
	}
	req := RedeemRequest{Code: b.Code, PosID: posID, EntryID: b.ID}
	if d := b.Data; d != nil {
		req.Contact = ptr(ContactPair("data", d.Phone, d.Email))
	}
	res, err := s.svc.Redeem(r.Context(), req, call(r, body))
	if err != nil {
		return err
	}
	writePoints(w, r, res)
	return nil
}

func (s *Server) balance(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	ct, err := queryContact(r)
	if err != nil {
		return err
	}
	bal, err := s.svc.Balance(r.Context(), ct)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, balanceReply{Success: 1, Balance: bal.Points, Pending: bal.Pending})
	return nil
}

// balanceReply is SPEC §3's `{"success":1,"balance":N,"pending":M}`.
type balanceReply struct {
	Success int   `json:"success"`
	Balance int64 `json:"balance"`
	Pending int64 `json:"pending"`
}

// queryContact reads the `phone` and `email` query parameters.
func queryContact(r *http.Request) (ContactInput, error) {
	phone, err := queryText(r, "phone")
	if err != nil {
		return ContactInput{}, err
	}
	email, err := queryText(r, "email")
	if err != nil {
		return ContactInput{}, err
	}
	return ContactPair("", phone, email), nil
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
