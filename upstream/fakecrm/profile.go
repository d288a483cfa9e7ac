package fakecrm

import (
	"net/http"
	"time"
)

// profileEnvelope is the profile dialect's envelope; Code equals the HTTP status.
type profileEnvelope struct {
	Data    any    `json:"data"`
	Message string `json:"message"`
	Code    int    `json:"code"`
}

const isoMillis = "2006-01-02T15:04:05.000Z"

// customField is one item of a profile's custom_fields, upserted by name.
type customField struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

func (s *store) createProfile(cl *call) (int, any, *apiError) {
	body, ct, aerr := decodeProfile(cl)
	if aerr != nil {
		return 0, nil, aerr
	}
	if s.customers[ct.id] != nil {
		return 0, nil, errorf(http.StatusConflict, "customer_exists", "customer %s already exists", ct.id)
	}
	// A phone or email the central knows already names that customer: the
	// create merges into it (keeping the new _id as an alias) rather than failing.
	c, err := s.findOrCreate(ct)
	if err != nil {
		return 0, nil, invalidContact(err)
	}
	if aerr := s.applyProfile(c, body); aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusCreated, profileEnvelope{Data: profileView(c), Message: "Thành công", Code: http.StatusCreated}, nil
}

func (s *store) updateProfile(cl *call) (int, any, *apiError) {
	body, ct, aerr := decodeProfile(cl)
	if aerr != nil {
		return 0, nil, aerr
	}
	if ct.id == "" {
		return 0, nil, errorf(http.StatusBadRequest, "invalid_id", "_id is required")
	}
	if s.customers[ct.id] == nil {
		return 0, nil, errorf(http.StatusNotFound, "not_found", "Không tìm thấy khách hàng")
	}
	c, err := s.findOrCreate(ct) // finds by _id first, then adds the phone/email
	if err != nil {
		return 0, nil, invalidContact(err)
	}
	if aerr := s.applyProfile(c, body); aerr != nil {
		return 0, nil, aerr
	}
	return http.StatusOK, profileEnvelope{Data: profileView(c), Message: "Thành công", Code: http.StatusOK}, nil
}

// decodeProfile decodes a profile body; email or phone is required (SPEC §5).
func decodeProfile(cl *call) (map[string]any, contact, *apiError) {
	var body map[string]any
	if aerr := cl.decode(&body); aerr != nil {
		return nil, contact{}, aerr
	}
	id, _ := body["_id"].(string)
	phone, _ := body["phone"].(string)
	email, _ := body["email"].(string)
	ct, aerr := contactOf(id, phone, email)
	return body, ct, aerr
}

// applyProfile stores profile fields under their canonical names (see customer.fields).
func (s *store) applyProfile(c *customer, body map[string]any) *apiError {
	for k, v := range body {
		switch k {
		case "_id", "phone", "email":
			// identity: handled by findOrCreate
		case "full_name":
			c.fields["name"] = v
		case "gender":
			c.fields["gender"] = genderToMember(v)
		case "dob":
			birthday, year, ok := splitDOB(v)
			if !ok {
				return errorf(http.StatusBadRequest, "invalid_dob", "dob must be yyyy-mm-dd")
			}
			c.fields["birthday"], c.fields["year_birthday"] = birthday, year
		case "facebook_url":
			c.fields["facebook"] = v
		case "twitter_url":
			c.fields["twitter"] = v
		case "custom_fields":
			c.fields[k] = upsertCustomFields(c.fields[k], v)
		default:
			c.fields[k] = v
		}
	}
	c.updatedAt = s.now()
	return nil
}

func genderToMember(v any) any {
	switch v {
	case "male":
		return "1"
	case "female":
		return "2"
	}
	return v
}

func genderToProfile(v any) any {
	switch v {
	case "1":
		return "male"
	case "2":
		return "female"
	}
	return v
}

// splitDOB turns a profile dob (yyyy-mm-dd, or an ISO time) into the member
// dialect's birthday (mm-dd) and year_birthday (yyyy); null clears both.
func splitDOB(v any) (birthday, year any, ok bool) {
	if v == nil {
		return nil, nil, true
	}
	s, isString := v.(string)
	if !isString || len(s) < 10 {
		return nil, nil, false
	}
	t, err := time.Parse("2006-01-02", s[:10])
	if err != nil {
		return nil, nil, false
	}
	return t.Format("01-02"), t.Format("2006"), true
}

func upsertCustomFields(old, items any) []customField {
	fields, _ := old.([]customField)
	list, _ := items.([]any)
	for _, it := range list {
		m, _ := it.(map[string]any)
		name, _ := m["name"].(string)
		if name == "" {
			continue
		}
		f := customField{Name: name, Value: m["value"]}
		if i := indexField(fields, name); i >= 0 {
			fields[i] = f
		} else {
			fields = append(fields, f)
		}
	}
	return fields
}

func indexField(fields []customField, name string) int {
	for i, f := range fields {
		if f.Name == name {
			return i
		}
	}
	return -1
}

// profileView renders a customer in the profile dialect: every stored field
// under its profile name, plus identity, dob parts and ISO times.
func profileView(c *customer) map[string]any {
	v := map[string]any{
		"_id":           c.id,
		"email":         nilIfEmpty(c.primaryEmail()),
		"phone":         nilIfEmpty(c.primaryPhone()),
		"tags":          []any{},
		"custom_fields": []customField{},
		"created_at":    c.createdAt.UTC().Format(isoMillis),
		"updated_at":    c.updatedAt.UTC().Format(isoMillis),
	}
	for k, val := range c.fields {
		switch k {
		case "name":
			v["name"], v["full_name"] = val, val
		case "gender":
			v["gender"] = genderToProfile(val)
		case "birthday", "year_birthday":
			// shown as dob below
		case "facebook":
			v["facebook_url"] = val
		case "twitter":
			v["twitter_url"] = val
		default:
			v[k] = val
		}
	}
	birthday, _ := c.fields["birthday"].(string)
	year, _ := c.fields["year_birthday"].(string)
	if dob, err := time.Parse("2006-01-02", year+"-"+birthday); err == nil {
		v["dob"] = dob.Format(isoMillis)
		v["dob_year"], v["dob_month"], v["dob_day"] = dob.Year(), int(dob.Month())-1, dob.Day()
	}
	return v
}
