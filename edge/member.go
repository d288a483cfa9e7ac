package edge

// The member dialect: GET/POST/PUT /customers_location (member-api.txt).

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

var memberDialect = &dialect{
	name: "member",
	writeError: func(w http.ResponseWriter, err error) {
		status := HTTPStatus(ErrorCode(err))
		writeJSON(w, status, memberEnvelope{Status: status, Message: ErrorMessage(err)})
	},
	replayOK: memberEnvelope{Status: 200, StatusCode: 200, Message: "Success!"},
}

// memberEnvelope is the seed's `{"status", "message", "data"}`; writes add
// `status_code`.
type memberEnvelope struct {
	Status     int    `json:"status"`
	StatusCode int    `json:"status_code,omitempty"`
	Message    string `json:"message"`
	Data       any    `json:"data"`
}

func (s *Server) routeMember() {
	s.handle(http.MethodGet, "/customers_location", memberDialect, anyToken, s.getMember)
	s.handle(http.MethodPost, "/customers_location", memberDialect, anyToken, s.memberWrite(s.svc.CreateMember))
	s.handle(http.MethodPut, "/customers_location", memberDialect, anyToken, s.memberWrite(s.svc.UpdateMember))
}

func (s *Server) getMember(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	phone, err := queryText(r, "phone")
	if err != nil {
		return err
	}
	posID, err := queryText(r, "pos_id")
	if err != nil {
		return err
	}
	c, err := s.svc.FindMember(r.Context(), phone, posID)
	if err != nil {
		return err
	}
	writeJSON(w, http.StatusOK, memberEnvelope{Status: 200, Message: "Customer info", Data: memberView(c)})
	return nil
}

// memberWrite is the POST (create) or PUT (update) handler: write is the
// service's CreateMember or UpdateMember.
func (s *Server) memberWrite(write func(context.Context, MemberWrite, Call) (*Customer, error)) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
		in, body, err := decodeMemberWrite(r)
		if err != nil {
			return err
		}
		c, err := write(r.Context(), in, call(r, body))
		if err != nil {
			return err
		}
		writeJSON(w, http.StatusOK, memberEnvelope{Status: 200, StatusCode: 200, Message: "Success!", Data: map[string]any{"_id": c.ID, "customerId": c.No}})
		return nil
	}
}

// memberBody is the member dialect's request body (seed field set, plus the
// customer type and `_id` a downstream edge sends with a forwarded create).
type memberBody struct {
	ID                 string  `json:"_id"`
	Name               *string `json:"name"`
	Phone              string  `json:"phone"`
	Email              *string `json:"email"`
	Gender             text    `json:"gender"`
	RelationshipStatus *string `json:"relationship_status"`
	Birthday           *string `json:"birthday"`
	YearBirthday       text    `json:"year_birthday"`
	HomeTown           *string `json:"home_town"`
	Address            *string `json:"address"`
	FbID               *string `json:"fb_id"`
	Facebook           *string `json:"facebook"`
	Twitter            *string `json:"twitter"`
	AgeRange           *string `json:"age_range"`
	TypeNo             text    `json:"type_no"`
	VbotID             text    `json:"vbot_id"`
	ProjectCode        text    `json:"project_code"`
}

// typeSelector is the customer type a member or profile write names by its
// `type_no`, `vbot_id` and `project_code`; nil when type_no is absent or
// blank. (The three fields are not an embedded struct of both bodies: since
// Go 1.24 a decoding error would name them "typeFields.type_no".)
func typeSelector(typeNo, vbotID, projectCode text) *TypeSelector {
	no := strings.TrimSpace(typeNo.val)
	if no == "" {
		return nil
	}
	return &TypeSelector{TypeNo: no, VbotID: strings.TrimSpace(vbotID.val), ProjectCode: strings.TrimSpace(projectCode.val)}
}

// emailPatch is the one email a member or profile write gives; nil when it
// is absent or blank (an email is added, never cleared).
func emailPatch(email *string) []Email {
	if email == nil || strings.TrimSpace(*email) == "" {
		return nil
	}
	return []Email{{Address: strings.TrimSpace(*email)}}
}

func decodeMemberWrite(r *http.Request) (MemberWrite, []byte, error) {
	var in MemberWrite
	posID, err := queryText(r, "pos_id")
	if err != nil {
		return in, nil, err
	}
	var b memberBody
	body, err := decodeBody(r, &b)
	if err != nil {
		return in, nil, err
	}
	if in.Phone, err = NormalizePhone(b.Phone); err != nil { // "" is "phone is required"
		return in, nil, err
	}
	in.PosID = posID
	in.Patch, err = b.patch()
	return in, body, err
}

// patch maps the member fields onto the customer model.
func (b *memberBody) patch() (CustomerPatch, error) {
	p := CustomerPatch{ID: b.ID, Name: b.Name, Attrs: map[string]string{}}
	if b.Gender.set {
		g, err := genderFromMember(b.Gender.val)
		if err != nil {
			return p, err
		}
		p.Gender = &g
	}
	if b.Birthday != nil {
		m, d, err := parseMonthDay(*b.Birthday)
		if err != nil {
			return p, err
		}
		p.BirthMonth, p.BirthDay = &m, &d
	}
	if b.YearBirthday.set {
		y, err := parseYear(b.YearBirthday.val)
		if err != nil {
			return p, err
		}
		p.BirthYear = &y
	}
	p.Emails = emailPatch(b.Email)
	for key, v := range map[string]*string{
		AttrRelationshipStatus: b.RelationshipStatus, AttrHomeTown: b.HomeTown, AttrAddress: b.Address,
		AttrFbID: b.FbID, AttrFacebook: b.Facebook, AttrTwitter: b.Twitter, AttrAgeRange: b.AgeRange,
	} {
		if v != nil {
			p.Attrs[key] = strings.TrimSpace(*v)
		}
	}
	p.Type = typeSelector(b.TypeNo, b.VbotID, b.ProjectCode)
	return p, nil
}

func genderFromMember(v string) (string, error) {
	switch strings.TrimSpace(v) {
	case "1":
		return GenderMale, nil
	case "2":
		return GenderFemale, nil
	case "":
		return "", nil
	}
	return "", Invalid("gender", `gender must be "1" (male) or "2" (female)`)
}

func genderToMember(g string) *string {
	switch g {
	case GenderMale:
		return ptr("1")
	case GenderFemale:
		return ptr("2")
	}
	return nil
}

// parseMonthDay reads the member dialect's birthday, "mm-dd"; "" clears it.
func parseMonthDay(v string) (int, int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, 0, nil
	}
	bad := Invalid("birthday", "birthday must be a real date as mm-dd, e.g. 05-30")
	ms, ds, ok := strings.Cut(v, "-")
	if !ok || len(ms) != 2 || len(ds) != 2 {
		return 0, 0, bad
	}
	m, err1 := strconv.Atoi(ms)
	d, err2 := strconv.Atoi(ds)
	if err1 != nil || err2 != nil || !validMonthDay(m, d, 0) {
		return 0, 0, bad
	}
	return m, d, nil
}

// parseYear reads year_birthday, "yyyy"; "" clears it.
func parseYear(v string) (int, error) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, nil
	}
	y, err := strconv.Atoi(v)
	if err != nil || len(v) != 4 || y < 1000 {
		return 0, Invalid("year_birthday", "year_birthday must be a 4-digit year, e.g. 1996")
	}
	return y, nil
}

// memberJSON is the seed's GET data, in the seed's field order, with the
// customer's type and number added.
type memberJSON struct {
	ID                 string        `json:"_id"`
	AgeRange           *string       `json:"age_range"`
	YearBirthday       *string       `json:"year_birthday"`
	HomeTown           *string       `json:"home_town"`
	Twitter            *string       `json:"twitter"`
	Gender             *string       `json:"gender"`
	CreatedAt          string        `json:"created_at"`
	FbID               *string       `json:"fb_id"`
	Phone              *string       `json:"phone"`
	Birthday           *string       `json:"birthday"`
	Facebook           *string       `json:"facebook"`
	Address            *string       `json:"address"`
	RelationshipStatus *string       `json:"relationship_status"`
	ClientMac          []string      `json:"client_mac"`
	Email              *string       `json:"email"`
	Name               *string       `json:"name"`
	UpdatedAt          string        `json:"updated_at"`
	CustomerID         int64         `json:"customerId"`
	TypeNo             *string       `json:"type_no"`
	VbotID             *string       `json:"vbot_id"`
	ProjectCode        *string       `json:"project_code"`
	Types              []typeRefJSON `json:"types"`
}

type typeRefJSON struct {
	TypeNo      string `json:"type_no"`
	TypeName    string `json:"type_name"`
	VbotID      string `json:"vbot_id"`
	ProjectCode string `json:"project_code"`
}

func memberView(c *Customer) memberJSON {
	v := memberJSON{
		ID:                 c.ID,
		AgeRange:           nonEmpty(c.Attr(AttrAgeRange)),
		HomeTown:           nonEmpty(c.Attr(AttrHomeTown)),
		Twitter:            nonEmpty(c.Attr(AttrTwitter)),
		Gender:             genderToMember(c.Gender),
		CreatedAt:          memberDate(c.CreatedAt),
		FbID:               nonEmpty(c.Attr(AttrFbID)),
		Phone:              nonEmpty(DisplayPhone(c.PrimaryPhone())),
		Facebook:           nonEmpty(c.Attr(AttrFacebook)),
		Address:            nonEmpty(c.Attr(AttrAddress)),
		RelationshipStatus: nonEmpty(c.Attr(AttrRelationshipStatus)),
		ClientMac:          []string{},
		Email:              nonEmpty(c.PrimaryEmail()),
		Name:               nonEmpty(c.Name),
		UpdatedAt:          memberDate(c.UpdatedAt),
		CustomerID:         c.No,
		Types:              typeRefs(c.Types),
	}
	if c.Birth.Year != 0 {
		v.YearBirthday = ptr(strconv.Itoa(c.Birth.Year))
	}
	if c.Birth.HasMonthDay() {
		v.Birthday = ptr(twoDigits(c.Birth.Month) + "-" + twoDigits(c.Birth.Day))
	}
	if t := c.PrimaryType(); t != nil {
		v.TypeNo, v.VbotID, v.ProjectCode = &t.TypeNo, &t.VbotID, &t.ProjectCode
	}
	return v
}

func typeRefs(refs []TypeRef) []typeRefJSON {
	out := make([]typeRefJSON, 0, len(refs))
	for _, t := range refs {
		out = append(out, typeRefJSON{TypeNo: t.TypeNo, TypeName: t.TypeName, VbotID: t.VbotID, ProjectCode: t.ProjectCode})
	}
	return out
}

// memberDate is the seed's dd-mm-yyyy, in the machine's local time zone (the
// shop's).
func memberDate(t time.Time) string { return t.Local().Format("02-01-2006") }

func twoDigits(n int) string {
	if n < 10 {
		return "0" + strconv.Itoa(n)
	}
	return strconv.Itoa(n)
}

func nonEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func ptr[T any](v T) *T { return &v }

// DecodeMember reads a central CRM's `GET /customers_location` answer (the
// member envelope, or its bare `data` object) into a Customer: the mapping of
// memberView, backwards. It is lenient, as read-through must be: a field that
// does not fit (a gender that is not 1/2, a birthday that is no date, text over
// the length cap, an unparseable phone or email) is left out, not fatal. An
// envelope whose data is null decodes to nil, nil.
func DecodeMember(body []byte) (*Customer, error) {
	var env map[string]json.RawMessage
	if err := json.Unmarshal(body, &env); err != nil {
		return nil, fmt.Errorf("decode member: %w", err)
	}
	obj := env
	if data, ok := env["data"]; ok {
		if string(bytes.TrimSpace(data)) == "null" {
			return nil, nil
		}
		obj = nil
		if err := json.Unmarshal(data, &obj); err != nil {
			return nil, fmt.Errorf("decode member data: %w", err)
		}
	}
	str := func(key string) string {
		v := looseString(obj[key])
		if checkText(key, v) != nil {
			return ""
		}
		return v
	}
	c := &Customer{ID: looseString(obj["_id"]), Name: str("name")}
	if !ValidID(c.ID) {
		c.ID = ""
	}
	if n, err := strconv.ParseInt(looseString(obj["customerId"]), 10, 64); err == nil {
		c.No = n
	}
	if g, err := genderFromMember(str("gender")); err == nil {
		c.Gender = g
	}
	if m, d, err := parseMonthDay(str("birthday")); err == nil {
		c.Birth.Month, c.Birth.Day = m, d
	}
	if y, err := parseYear(str("year_birthday")); err == nil {
		c.Birth.Year = y
	}
	if c.Birth.Year != 0 && c.Birth.HasMonthDay() && !validMonthDay(c.Birth.Month, c.Birth.Day, c.Birth.Year) {
		c.Birth.Month, c.Birth.Day = 0, 0
	}
	if e164, err := NormalizePhone(str("phone")); err == nil {
		c.Phones = []Phone{{Number: e164}}
	}
	if em := strings.TrimSpace(str("email")); em != "" && CheckEmail(em) == nil {
		c.Emails = []Email{{Address: em}}
	}
	for _, key := range []string{AttrRelationshipStatus, AttrHomeTown, AttrAddress, AttrFbID, AttrFacebook, AttrTwitter, AttrAgeRange} {
		if v := strings.TrimSpace(str(key)); v != "" {
			if c.Attrs == nil {
				c.Attrs = map[string]string{}
			}
			c.Attrs[key] = v
		}
	}
	c.CreatedAt = parseMemberDate(str("created_at"))
	c.UpdatedAt = parseMemberDate(str("updated_at"))
	return c, nil
}

// looseString reads a JSON string or number as text; anything else is "".
func looseString(raw json.RawMessage) string {
	raw = bytes.TrimSpace(raw)
	if len(raw) == 0 {
		return ""
	}
	switch c := raw[0]; {
	case c == '"':
		var s string
		if json.Unmarshal(raw, &s) == nil {
			return strings.TrimSpace(s)
		}
	case c == '-' || c >= '0' && c <= '9':
		return string(raw)
	}
	return ""
}

// parseMemberDate reads dd-mm-yyyy in the local time zone; zero when it is not.
func parseMemberDate(v string) time.Time {
	t, err := time.ParseInLocation("02-01-2006", v, time.Local)
	if err != nil {
		return time.Time{}
	}
	return t
}
