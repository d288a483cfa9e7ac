package fakecrm

import (
	"net/http"
)

// memberEnvelope is the member dialect's envelope; HTTP status equals Status.
type memberEnvelope struct {
	Status     int    `json:"status"`
	StatusCode int    `json:"status_code,omitempty"` // only on POST/PUT success, as in the seed
	Message    string `json:"message"`
	Data       any    `json:"data"`
}

// memberFields are the keys of a member in GET /customers_location, in the
// seed's set. Keys not stored are shown as null.
var memberFields = []string{
	"age_range", "year_birthday", "home_town", "twitter", "gender", "fb_id",
	"birthday", "facebook", "address", "relationship_status", "name",
}

const memberDate = "02-01-2006" // dd-mm-yyyy, as in the seed

func (s *store) getMember(cl *call) (int, any, *apiError) {
	phone, ok := normalizePhone(cl.query.Get("phone"))
	if !ok {
		return 0, nil, errorf(http.StatusBadRequest, "invalid_phone", "phone is missing or invalid")
	}
	c := s.byPhone[phone]
	pos := cl.query.Get("pos_id")
	if c == nil || (pos != "" && !c.pos[pos]) {
		return 0, nil, errorf(http.StatusNotFound, "not_found", "Customer not found")
	}
	return http.StatusOK, memberEnvelope{Status: http.StatusOK, Message: "Customer info", Data: memberView(c)}, nil
}

func memberView(c *customer) map[string]any {
	v := map[string]any{
		"_id":        c.id,
		"phone":      c.primaryPhone(),
		"email":      nilIfEmpty(c.primaryEmail()),
		"client_mac": []any{},
		"created_at": c.createdAt.Format(memberDate),
		"updated_at": c.updatedAt.Format(memberDate),
	}
	for _, k := range memberFields {
		v[k] = c.fields[k] // nil when never set
	}
	if mac, ok := c.fields["client_mac"]; ok && mac != nil {
		v["client_mac"] = mac
	}
	return v
}

func nilIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func (s *store) postMember(cl *call) (int, any, *apiError) {
	return s.writeMember(cl, memberCreate)
}

func (s *store) putMember(cl *call) (int, any, *apiError) {
	return s.writeMember(cl, memberUpdate)
}

func (s *store) writeMember(cl *call, mode memberMode) (int, any, *apiError) {
	pos := cl.query.Get("pos_id")
	if pos == "" {
		return 0, nil, errorf(http.StatusBadRequest, "invalid_pos_id", "pos_id is required")
	}
	var body map[string]any
	if err := cl.decode(&body); err != nil {
		return 0, nil, err
	}
	c, err := s.upsertMember(pos, body, mode)
	if err != nil {
		return 0, nil, err
	}
	return http.StatusOK, memberEnvelope{
		Status: http.StatusOK, StatusCode: http.StatusOK, Message: "Success!",
		Data: map[string]string{"_id": c.id},
	}, nil
}

// memberMode says what upsertMember may do with an existing or missing member.
type memberMode int

const (
	memberSeed   memberMode = iota // create or update, no questions asked (AddMember)
	memberCreate                   // POST: 409 if already a member at this location
	memberUpdate                   // PUT: 404 if the phone is unknown
)

// upsertMember applies member-dialect fields to the customer with the body's
// phone and makes it a member of pos. A phone known from elsewhere joins pos.
func (s *store) upsertMember(pos string, body map[string]any, mode memberMode) (*customer, *apiError) {
	raw, _ := body["phone"].(string)
	phone, ok := normalizePhone(raw)
	if !ok {
		return nil, errorf(http.StatusBadRequest, "invalid_phone", "phone is missing or invalid")
	}
	ct := contact{phones: []contactValue{{Value: phone}}}
	if email, _ := body["email"].(string); email != "" {
		e, ok := normalizeEmail(email)
		if !ok {
			return nil, errorf(http.StatusBadRequest, "invalid_email", "email is not an address")
		}
		ct.emails = []contactValue{{Value: e}}
	}
	existing := s.byPhone[phone]
	switch {
	case mode == memberCreate && existing != nil && existing.pos[pos]:
		return nil, errorf(http.StatusConflict, "member_exists", "Customer already exists at this location")
	case mode == memberUpdate && existing == nil:
		return nil, errorf(http.StatusNotFound, "not_found", "Customer not found")
	}
	// The edge's _id is kept for a new customer and becomes an alias of an
	// existing one, so the edge's later profile updates by _id find it.
	ct.id, _ = body["_id"].(string)
	c, err := s.findOrCreate(ct)
	if err != nil {
		return nil, invalidContact(err)
	}
	for k, v := range body {
		switch k {
		case "_id", "phone", "email", "pos_id":
		default:
			c.fields[k] = v
		}
	}
	c.pos[pos] = true
	c.updatedAt = s.now()
	return c, nil
}
