package edge

import (
	"fmt"
	"net/mail"
	"strings"
	"time"
	"unicode/utf8"
)

// Customer is the one customer record every dialect is a view of.
type Customer struct {
	ID           string // 24-hex `_id`
	No           int64  // small integer `customerId`
	Name         string // full name (`name` / `full_name`)
	Gender       string // GenderMale, GenderFemale or "" when unknown
	Birth        Birthday
	Phones       []Phone // the first is the primary phone
	Emails       []Email // the first is the primary email
	Attrs        map[string]string
	Tags         []string
	CustomFields []CustomField
	Types        []TypeRef // at most one per (vbot_id, project_code) scope
	CreatedAt    time.Time
	UpdatedAt    time.Time
}

// Genders as stored; the member dialect shows them as "1" and "2".
const (
	GenderMale   = "male"
	GenderFemale = "female"
)

// Birthday is a date whose parts may each be unknown (zero): the member dialect
// sets month-day and year separately.
type Birthday struct {
	Year, Month, Day int
}

// HasMonthDay reports whether month and day are known.
func (b Birthday) HasMonthDay() bool { return b.Month != 0 && b.Day != 0 }

// Phone is one of a customer's phone numbers, held in E.164.
type Phone struct {
	ID     string
	Type   string
	Number string
}

// Email is one of a customer's addresses; matched case-insensitively.
type Email struct {
	ID      string
	Type    string
	Address string
}

// CustomField is a named value set through the profile dialect.
type CustomField struct {
	Name  string `json:"name"`
	Value any    `json:"value"`
}

// TypeRef is the customer type a customer holds in one scope.
type TypeRef struct {
	TypeID      string
	VbotID      string
	ProjectCode string
	TypeNo      string
	TypeName    string
}

// Free-text profile attributes. The typed fields above are the ones a rule or
// a mapping touches; these are stored and returned as given. Dialect field names
// that differ are mapped in the dialect files (facebook_url → facebook, …).
const (
	AttrAgeRange           = "age_range"
	AttrHomeTown           = "home_town"
	AttrAddress            = "address"
	AttrAddress2           = "address_2"
	AttrRelationshipStatus = "relationship_status"
	AttrFbID               = "fb_id"
	AttrFacebook           = "facebook"
	AttrTwitter            = "twitter"
	AttrLinkedIn           = "linkedin"
	AttrWebsite            = "website"
	AttrZalo               = "zalo"
	AttrSkype              = "skype"
	AttrFirstName          = "first_name"
	AttrLastName           = "last_name"
	AttrCompany            = "company"
	AttrJobTitle           = "job_title"
	AttrCity               = "city"
	AttrDistrict           = "district"
	AttrWard               = "ward"
	AttrCountry            = "country"
	AttrPostalCode         = "postal_code"
	AttrLang               = "lang"
	AttrScore              = "score"
	AttrSource             = "source"
	AttrExternalID         = "external_customer_id"
	AttrSubscribedAt       = "subscribed_at"
)

// MaxTextLen caps every text field a client can set (in characters).
const MaxTextLen = 256

// MaxListLen caps phones, emails, tags and custom fields per customer.
const MaxListLen = 50

// CustomerPatch is a change to a customer: nil or absent means "leave as is".
type CustomerPatch struct {
	ID           string  // wanted `_id` on create (kept when valid and unused)
	Name         *string // "" clears
	Gender       *string // GenderMale, GenderFemale or "" to clear
	BirthYear    *int    // 0 clears
	BirthMonth   *int    // with BirthDay; 0 clears both
	BirthDay     *int
	Phones       []Phone // E.164; each not yet on the customer is added
	Emails       []Email // each not yet on the customer is added
	PrimaryFirst bool    // the first of Phones/Emails becomes the primary one
	Attrs        map[string]string
	Tags         *[]string
	CustomFields []CustomField // upserted by name
	Type         *TypeSelector
}

// TypeSelector names a customer type by its code, and its scope when the code
// is used in more than one.
type TypeSelector struct {
	TypeNo      string
	VbotID      string
	ProjectCode string
}

// Validate checks the parts of a patch that need no stored data.
func (p *CustomerPatch) Validate() error {
	if p.Gender != nil && *p.Gender != "" && *p.Gender != GenderMale && *p.Gender != GenderFemale {
		return Invalid("gender", "gender must be male or female")
	}
	if v := p.Attrs[AttrScore]; v != "" && !isJSONNumber(v) {
		return Invalid("score", "score must be a number")
	}
	if p.Name != nil {
		if err := checkText("name", *p.Name); err != nil {
			return err
		}
	}
	if p.BirthYear != nil && *p.BirthYear != 0 && (*p.BirthYear < 1000 || *p.BirthYear > 9999) {
		return Invalid("year_birthday", "year_birthday must be a 4-digit year")
	}
	if (p.BirthMonth == nil) != (p.BirthDay == nil) {
		return Invalid("birthday", "birthday needs both month and day")
	}
	if p.BirthMonth != nil && (*p.BirthMonth != 0 || *p.BirthDay != 0) {
		if !validMonthDay(*p.BirthMonth, *p.BirthDay, 0) {
			return Invalid("birthday", "birthday must be a real date as mm-dd")
		}
	}
	if len(p.Phones) > MaxListLen || len(p.Emails) > MaxListLen || len(p.CustomFields) > MaxListLen {
		return Invalid("phones", "too many phones, emails or custom fields (at most %d)", MaxListLen)
	}
	for _, e := range p.Emails {
		if err := CheckEmail(e.Address); err != nil {
			return err
		}
	}
	for k, v := range p.Attrs {
		if err := checkText(k, v); err != nil {
			return err
		}
	}
	if p.Tags != nil {
		if len(*p.Tags) > MaxListLen {
			return Invalid("tags", "too many tags (at most %d)", MaxListLen)
		}
		for _, t := range *p.Tags {
			if err := checkText("tags", t); err != nil {
				return err
			}
		}
	}
	for _, f := range p.CustomFields {
		if strings.TrimSpace(f.Name) == "" {
			return Invalid("custom_fields", "custom_fields items need a name")
		}
		if err := checkText("custom_fields", f.Name); err != nil {
			return err
		}
		if s, ok := f.Value.(string); ok {
			if err := checkText("custom_fields", s); err != nil {
				return err
			}
		}
	}
	return nil
}

// isJSONNumber reports whether v is a number in JSON's grammar:
// -?(0|[1-9][0-9]*)(.[0-9]+)?([eE][+-]?[0-9]+)?
func isJSONNumber(v string) bool {
	i, n := 0, len(v)
	digits := func() int {
		start := i
		for i < n && v[i] >= '0' && v[i] <= '9' {
			i++
		}
		return i - start
	}
	if i < n && v[i] == '-' {
		i++
	}
	switch {
	case i < n && v[i] == '0':
		i++
	case digits() == 0:
		return false
	}
	if i < n && v[i] == '.' {
		i++
		if digits() == 0 {
			return false
		}
	}
	if i < n && (v[i] == 'e' || v[i] == 'E') {
		i++
		if i < n && (v[i] == '+' || v[i] == '-') {
			i++
		}
		if digits() == 0 {
			return false
		}
	}
	return i == n
}

// checkText enforces the length cap and rejects control characters that have
// no business in a name or an address.
func checkText(field, s string) error {
	if !utf8.ValidString(s) {
		return Invalid(field, "%s is not valid UTF-8 text", field)
	}
	if utf8.RuneCountInString(s) > MaxTextLen {
		return Invalid(field, "%s is longer than %d characters", field, MaxTextLen)
	}
	if strings.ContainsRune(s, 0) {
		return Invalid(field, "%s contains a NUL character", field)
	}
	return nil
}

// CheckEmail validates an address the way a signup form would.
func CheckEmail(addr string) error {
	if err := checkText("email", addr); err != nil {
		return err
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Address != addr || !strings.Contains(addr[strings.LastIndexByte(addr, '@'):], ".") {
		return Invalid("email", "email is not a valid address")
	}
	return nil
}

// NormalizeEmail is the form emails are matched on.
func NormalizeEmail(addr string) string { return strings.ToLower(strings.TrimSpace(addr)) }

func validMonthDay(month, day, year int) bool {
	if month < 1 || month > 12 || day < 1 {
		return false
	}
	if year == 0 {
		year = 2000 // a leap year: 02-29 is a real birthday when the year is unknown
	}
	t := time.Date(year, time.Month(month), day, 0, 0, 0, 0, time.UTC)
	return t.Month() == time.Month(month) && t.Day() == day
}

// apply changes c by p. Ownership of phones and emails is checked by the
// caller, which can see the store; apply only merges.
func (p *CustomerPatch) apply(c *Customer, newID func() string) error {
	if p.Name != nil {
		c.Name = *p.Name
	}
	if p.Gender != nil {
		c.Gender = *p.Gender
	}
	if p.BirthYear != nil {
		c.Birth.Year = *p.BirthYear
	}
	if p.BirthMonth != nil {
		c.Birth.Month, c.Birth.Day = *p.BirthMonth, *p.BirthDay
	}
	if c.Birth.Year != 0 && c.Birth.HasMonthDay() && !validMonthDay(c.Birth.Month, c.Birth.Day, c.Birth.Year) {
		return Invalid("birthday", "birthday %02d-%02d does not exist in %d", c.Birth.Month, c.Birth.Day, c.Birth.Year)
	}
	for i, ph := range p.Phones {
		c.Phones = mergePhone(c.Phones, ph, p.PrimaryFirst && i == 0, newID)
	}
	for i, em := range p.Emails {
		c.Emails = mergeEmail(c.Emails, em, p.PrimaryFirst && i == 0, newID)
	}
	if len(c.Phones) > MaxListLen || len(c.Emails) > MaxListLen {
		return Invalid("phones", "a customer has at most %d phones and %d emails", MaxListLen, MaxListLen)
	}
	if len(p.Attrs) > 0 && c.Attrs == nil {
		c.Attrs = make(map[string]string, len(p.Attrs))
	}
	for k, v := range p.Attrs {
		if v == "" {
			delete(c.Attrs, k)
		} else {
			c.Attrs[k] = v
		}
	}
	if p.Tags != nil {
		c.Tags = append([]string(nil), (*p.Tags)...)
	}
	for _, f := range p.CustomFields {
		c.CustomFields = upsertCustomField(c.CustomFields, f)
	}
	if len(c.CustomFields) > MaxListLen {
		return Invalid("custom_fields", "a customer has at most %d custom fields", MaxListLen)
	}
	return nil
}

func mergePhone(list []Phone, ph Phone, primary bool, newID func() string) []Phone {
	for i, have := range list {
		if have.Number == ph.Number {
			if ph.Type != "" {
				list[i].Type = ph.Type
			}
			if primary && i > 0 {
				moved := list[i]
				list = append(list[:i:i], list[i+1:]...)
				list = append([]Phone{moved}, list...)
			}
			return list
		}
	}
	if ph.ID == "" {
		ph.ID = newID()
	}
	if primary {
		return append([]Phone{ph}, list...)
	}
	return append(list, ph)
}

func mergeEmail(list []Email, em Email, primary bool, newID func() string) []Email {
	norm := NormalizeEmail(em.Address)
	for i, have := range list {
		if NormalizeEmail(have.Address) == norm {
			list[i].Address = em.Address
			if em.Type != "" {
				list[i].Type = em.Type
			}
			if primary && i > 0 {
				moved := list[i]
				list = append(list[:i:i], list[i+1:]...)
				list = append([]Email{moved}, list...)
			}
			return list
		}
	}
	if em.ID == "" {
		em.ID = newID()
	}
	if primary {
		return append([]Email{em}, list...)
	}
	return append(list, em)
}

func upsertCustomField(list []CustomField, f CustomField) []CustomField {
	for i := range list {
		if list[i].Name == f.Name {
			list[i].Value = f.Value
			return list
		}
	}
	return append(list, f)
}

// PrimaryPhone returns the first phone's E.164 number, or "".
func (c *Customer) PrimaryPhone() string {
	if len(c.Phones) == 0 {
		return ""
	}
	return c.Phones[0].Number
}

// PrimaryEmail returns the first email, or "".
func (c *Customer) PrimaryEmail() string {
	if len(c.Emails) == 0 {
		return ""
	}
	return c.Emails[0].Address
}

// PrimaryType is the type the member and profile views show as `type_no`
// (with its scope): the first the customer holds, or nil.
func (c *Customer) PrimaryType() *TypeRef {
	if len(c.Types) == 0 {
		return nil
	}
	return &c.Types[0]
}

// Attr returns a free-text attribute, or "".
func (c *Customer) Attr(key string) string { return c.Attrs[key] }

// setType gives the customer t, replacing any type it held in t's scope.
func (c *Customer) setType(t TypeRef) {
	for i := range c.Types {
		if c.Types[i].VbotID == t.VbotID && c.Types[i].ProjectCode == t.ProjectCode {
			c.Types[i] = t
			return
		}
	}
	c.Types = append(c.Types, t)
}

// Contact identifies a customer by any one of their phones or emails.
type Contact struct {
	Phones []string // E.164
	Emails []string // as given
}

// Empty reports whether the contact names nothing.
func (ct Contact) Empty() bool { return len(ct.Phones) == 0 && len(ct.Emails) == 0 }

func (ct Contact) String() string {
	return fmt.Sprintf("%d phones, %d emails", len(ct.Phones), len(ct.Emails))
}
