package edge

// The profile dialect: POST /1.0/customer/create and /1.0/customer/update
// (customer-update-api.txt), plus GET /1.0/customer/:id to read one back.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

// profileEnvelope is `{"data", "message", "code"}` with code = HTTP status.
type profileEnvelope struct {
	Data    any    `json:"data"`
	Message string `json:"message"`
	Code    int    `json:"code"`
}

var profileDialect = &dialect{
	name: "profile",
	writeError: func(w http.ResponseWriter, err error) {
		status := HTTPStatus(ErrorCode(err))
		writeJSON(w, status, profileEnvelope{Data: nil, Message: ErrorMessage(err), Code: status})
	},
	replayOK: profileEnvelope{Message: "Thành công", Code: 200},
}

func (s *Server) routeProfile() {
	s.handle(http.MethodPost, "/1.0/customer/create", profileDialect, anyToken, s.profileCreate)
	s.handle(http.MethodPost, "/1.0/customer/update", profileDialect, anyToken, s.profileUpdate)
	s.handle(http.MethodGet, "/1.0/customer/:id", profileDialect, anyToken, s.profileGet)
}

// profileBody is every field of the seed's request, plus the fields the spec
// shares with the member dialect and the customer type.
type profileBody struct {
	ID                 string          `json:"_id"`
	Email              *string         `json:"email"`
	Phone              *string         `json:"phone"`
	FullName           *string         `json:"full_name"`
	Name               *string         `json:"name"`
	FirstName          *string         `json:"first_name"`
	LastName           *string         `json:"last_name"`
	Dob                *string         `json:"dob"`
	Gender             *string         `json:"gender"`
	Tags               *[]string       `json:"tags"`
	CustomFields       []customFieldIn `json:"custom_fields"`
	Country            *string         `json:"country"`
	City               *string         `json:"city"`
	District           *string         `json:"district"`
	Ward               *string         `json:"ward"`
	Address            *string         `json:"address"`
	Address2           *string         `json:"address_2"`
	Company            *string         `json:"company"`
	JobTitle           *string         `json:"job_title"`
	Lang               *string         `json:"lang"`
	PostalCode         text            `json:"postal_code"`
	Channels           *[]string       `json:"channels"`
	Source             *string         `json:"source"`
	ExternalCustomerID text            `json:"external_customer_id"`
	SubcribedAt        *string         `json:"subcribed_at"` // sic: the seed's spelling
	SubscribedAt       *string         `json:"subscribed_at"`
	Website            *string         `json:"website"`
	FacebookURL        *string         `json:"facebook_url"`
	TwitterURL         *string         `json:"twitter_url"`
	LinkedInURL        *string         `json:"linkedIn_url"`
	Score              text            `json:"score"`
	Zalo               *string         `json:"zalo"`
	Skype              *string         `json:"skype"`
	HomeTown           *string         `json:"home_town"`
	RelationshipStatus *string         `json:"relationship_status"`
	FbID               *string         `json:"fb_id"`
	TypeNo             text            `json:"type_no"`
	VbotID             text            `json:"vbot_id"`
	ProjectCode        text            `json:"project_code"`
}

// customFieldIn is exactly `{"name", "value"}`.
type customFieldIn struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

func (b *profileBody) patch() (CustomerPatch, error) {
	p := CustomerPatch{ID: b.ID, Attrs: map[string]string{}, Tags: b.Tags}
	switch {
	case b.FullName != nil:
		p.Name = trimmed(b.FullName)
	case b.Name != nil:
		p.Name = trimmed(b.Name)
	}
	if b.Phone != nil && strings.TrimSpace(*b.Phone) != "" {
		e164, err := NormalizePhone(*b.Phone)
		if err != nil {
			return p, err
		}
		p.Phones = []Phone{{Number: e164}}
	}
	p.Emails = emailPatch(b.Email)
	if b.Gender != nil {
		g := strings.ToLower(strings.TrimSpace(*b.Gender))
		p.Gender = &g
	}
	if b.Dob != nil {
		y, m, d, err := parseDob(*b.Dob)
		if err != nil {
			return p, err
		}
		p.BirthYear, p.BirthMonth, p.BirthDay = &y, &m, &d
	}
	for _, f := range b.CustomFields {
		p.CustomFields = append(p.CustomFields, CustomField{Name: strings.TrimSpace(f.Name), Value: f.Value})
	}
	subscribed := b.SubscribedAt
	if subscribed == nil {
		subscribed = b.SubcribedAt // the seed's spelling
	}
	if subscribed != nil {
		iso, err := parseSubscribedAt(*subscribed)
		if err != nil {
			return p, err
		}
		subscribed = &iso
	}
	for key, v := range map[string]*string{
		AttrFirstName: b.FirstName, AttrLastName: b.LastName, AttrCountry: b.Country, AttrCity: b.City,
		AttrDistrict: b.District, AttrWard: b.Ward, AttrAddress: b.Address, AttrAddress2: b.Address2,
		AttrCompany: b.Company, AttrJobTitle: b.JobTitle, AttrLang: b.Lang, AttrSource: b.Source,
		AttrSubscribedAt: subscribed, AttrWebsite: b.Website, AttrFacebook: b.FacebookURL,
		AttrTwitter: b.TwitterURL, AttrLinkedIn: b.LinkedInURL, AttrZalo: b.Zalo, AttrSkype: b.Skype,
		AttrHomeTown: b.HomeTown, AttrRelationshipStatus: b.RelationshipStatus, AttrFbID: b.FbID,
	} {
		if v != nil {
			p.Attrs[key] = strings.TrimSpace(*v)
		}
	}
	if b.PostalCode.set {
		p.Attrs[AttrPostalCode] = strings.TrimSpace(b.PostalCode.val)
	}
	if b.ExternalCustomerID.set {
		p.Attrs[AttrExternalID] = strings.TrimSpace(b.ExternalCustomerID.val)
	}
	if b.Score.set {
		p.Attrs[AttrScore] = strings.TrimSpace(b.Score.val)
	}
	if b.Channels != nil {
		ch, _ := json.Marshal(*b.Channels)
		p.Attrs[attrChannels] = string(ch)
	}
	p.Type = typeSelector(b.TypeNo, b.VbotID, b.ProjectCode)
	return p, nil
}

// attrChannels keeps the profile's channel list (JSON) among the attributes.
const attrChannels = "channels"

func trimmed(s *string) *string {
	v := strings.TrimSpace(*s)
	return &v
}

// parseDob reads "yyyy-mm-dd" (a full ISO time is accepted too); "" clears.
func parseDob(v string) (int, int, int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, 0, 0, nil
	}
	if len(v) > 10 && v[10] == 'T' {
		v = v[:10]
	}
	t, err := time.Parse("2006-01-02", v)
	if err != nil || t.Year() < 1000 {
		return 0, 0, 0, Invalid("dob", "dob must be a real date as yyyy-mm-dd")
	}
	return t.Year(), int(t.Month()), t.Day(), nil
}

// parseSubscribedAt reads `subscribed_at` (or the seed's `subcribed_at`) as
// "yyyy-mm-dd" or an RFC 3339 time and keeps it as the dialect's ISO-8601
// UTC; "" clears.
func parseSubscribedAt(v string) (string, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return "", nil
	}
	if t, err := time.Parse("2006-01-02", v); err == nil {
		return isoTime(t), nil
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return isoTime(t), nil
	}
	return "", Invalid("subscribed_at", "subscribed_at must be a date as yyyy-mm-dd or an ISO-8601 time")
}

func decodeProfile(r *http.Request) (profileBody, CustomerPatch, []byte, error) {
	var b profileBody
	body, err := decodeBody(r, &b)
	if err != nil {
		return b, CustomerPatch{}, nil, err
	}
	p, err := b.patch()
	return b, p, body, err
}

func (s *Server) profileCreate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	_, p, body, err := decodeProfile(r)
	if err != nil {
		return err
	}
	c, err := s.svc.CreateProfile(r.Context(), p, call(r, body))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusCreated, profileEnvelope{Data: profileView(c, true), Message: "Thành công", Code: http.StatusCreated})
	return nil
}

func (s *Server) profileUpdate(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	b, p, body, err := decodeProfile(r)
	if err != nil {
		return err
	}
	c, err := s.svc.UpdateProfile(r.Context(), strings.TrimSpace(b.ID), p, call(r, body))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, profileEnvelope{Data: profileView(c, false), Message: "Thành công", Code: http.StatusOK})
	return nil
}

func (s *Server) profileGet(w http.ResponseWriter, r *http.Request, ps httprouter.Params) error {
	c, err := s.svc.Customer(r.Context(), ps.ByName("id"))
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, profileEnvelope{Data: profileView(c, false), Message: "Thành công", Code: http.StatusOK})
	return nil
}

// profileJSON is the seed's `data` shape for a stored customer.
type profileJSON struct {
	Channels           []string           `json:"channels"`
	Tags               []string           `json:"tags"`
	Vouchers           []string           `json:"vouchers"`
	IsEmailVerified    bool               `json:"is_email_verified"`
	IsMerge            bool               `json:"is_merge"`
	IsDelete           bool               `json:"is_delete"`
	ID                 string             `json:"_id"`
	CustomerID         int64              `json:"customerId"`
	Email              *string            `json:"email"`
	Phone              *string            `json:"phone"`
	Phones             []contactEntryJSON `json:"phones"`
	Emails             []contactEntryJSON `json:"emails"`
	CustomFields       []CustomField      `json:"custom_fields"`
	Name               *string            `json:"name"`
	FullName           *string            `json:"full_name"`
	FirstName          string             `json:"first_name"`
	LastName           string             `json:"last_name"`
	Gender             *string            `json:"gender"`
	Dob                *string            `json:"dob"`
	DobYear            *int               `json:"dob_year"`
	DobMonth           *int               `json:"dob_month"`
	DobDay             *int               `json:"dob_day"`
	DobMonthDay        *string            `json:"dob_month_day"`
	Company            *string            `json:"company"`
	JobTitle           *string            `json:"job_title"`
	Country            *string            `json:"country"`
	City               *string            `json:"city"`
	District           *string            `json:"district"`
	Ward               *string            `json:"ward"`
	Address            *string            `json:"address"`
	Address2           *string            `json:"address_2"`
	PostalCode         any                `json:"postal_code"`
	Lang               *string            `json:"lang"`
	Website            *string            `json:"website"`
	FacebookURL        *string            `json:"facebook_url"`
	TwitterURL         *string            `json:"twitter_url"`
	LinkedInURL        *string            `json:"linkedIn_url"`
	Zalo               *string            `json:"zalo"`
	Skype              *string            `json:"skype"`
	HomeTown           *string            `json:"home_town"`
	RelationshipStatus *string            `json:"relationship_status"`
	FbID               *string            `json:"fb_id"`
	Status             string             `json:"status"`
	SubscribedAt       *string            `json:"subscribed_at"`
	ExternalCustomerID *string            `json:"external_customer_id"`
	Source             *string            `json:"source"`
	Score              any                `json:"score"`
	TypeNo             *string            `json:"type_no"`
	VbotID             *string            `json:"vbot_id"`
	ProjectCode        *string            `json:"project_code"`
	Types              []typeRefJSON      `json:"types"`
	CreatedAt          string             `json:"created_at"`
	UpdatedAt          string             `json:"updated_at"`
	IsNewSubscriber    bool               `json:"isNewSubscriber"`
}

func profileView(c *Customer, created bool) profileJSON {
	a := func(k string) *string { return nonEmpty(c.Attr(k)) }
	contact := contactView(c)
	v := profileJSON{
		Channels: []string{}, Tags: c.Tags, Vouchers: []string{},
		ID: c.ID, CustomerID: c.No, Email: nonEmpty(c.PrimaryEmail()), Phone: nonEmpty(DisplayPhone(c.PrimaryPhone())),
		Phones: contact.Phones, Emails: contact.Emails, CustomFields: c.CustomFields,
		Name: nonEmpty(c.Name), FullName: nonEmpty(c.Name), FirstName: c.Attr(AttrFirstName), LastName: c.Attr(AttrLastName),
		Company: a(AttrCompany), JobTitle: a(AttrJobTitle), Country: a(AttrCountry), City: a(AttrCity),
		District: a(AttrDistrict), Ward: a(AttrWard), Address: a(AttrAddress), Address2: a(AttrAddress2),
		PostalCode: numberOrText(c.Attr(AttrPostalCode)), Lang: a(AttrLang), Website: a(AttrWebsite),
		FacebookURL: a(AttrFacebook), TwitterURL: a(AttrTwitter), LinkedInURL: a(AttrLinkedIn),
		Zalo: a(AttrZalo), Skype: a(AttrSkype), HomeTown: a(AttrHomeTown),
		RelationshipStatus: a(AttrRelationshipStatus), FbID: a(AttrFbID), Status: "SUBSCRIBER",
		SubscribedAt: a(AttrSubscribedAt), ExternalCustomerID: a(AttrExternalID), Source: a(AttrSource),
		Score: numberOrText(c.Attr(AttrScore)), Types: typeRefs(c.Types),
		CreatedAt: isoTime(c.CreatedAt), UpdatedAt: isoTime(c.UpdatedAt), IsNewSubscriber: created,
	}
	if v.Tags == nil {
		v.Tags = []string{}
	}
	if v.CustomFields == nil {
		v.CustomFields = []CustomField{}
	}
	if ch := c.Attr(attrChannels); ch != "" {
		_ = json.Unmarshal([]byte(ch), &v.Channels)
	}
	if c.Gender != "" {
		v.Gender = &c.Gender
	}
	b := c.Birth
	if b.Year != 0 {
		v.DobYear = &b.Year
	}
	if b.HasMonthDay() {
		month0 := b.Month - 1 // 0-based, as in the seed (JavaScript's getMonth)
		v.DobMonth, v.DobDay = &month0, &b.Day
		v.DobMonthDay = ptr(twoDigits(month0) + twoDigits(b.Day))
		if b.Year != 0 {
			v.Dob = ptr(fmt.Sprintf("%04d-%02d-%02dT00:00:00.000Z", b.Year, b.Month, b.Day))
		}
	}
	if t := c.PrimaryType(); t != nil {
		v.TypeNo, v.VbotID, v.ProjectCode = &t.TypeNo, &t.VbotID, &t.ProjectCode
	}
	return v
}

// numberOrText shows a stored value as a JSON number when it is written as
// one (the seed's postal_code 100000 and score 14), else as text ("01000"
// keeps its leading zero), or null.
func numberOrText(v string) any {
	if v == "" {
		return nil
	}
	if isJSONNumber(v) {
		return json.Number(v)
	}
	return v
}
