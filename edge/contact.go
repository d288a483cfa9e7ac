package edge

import (
	"fmt"
	"strings"
)

// ContactValue is one phone or email as a client typed it, with its `type`
// ("Work", "Home", …) when the dialect has one.
type ContactValue struct {
	Type  string
	Value string
}

// ContactInput is how a loyalty call names its customer: phones and emails as
// typed, not yet read by the contact rule (read). It has one of two shapes,
// which the rule's messages name: the seed's `phones`/`emails` lists
// (ContactLists: accumulate), or one phone and one email (ContactPair:
// redeem, balance and history).
type ContactInput struct {
	field  string // where the contact sits: "data" in a body, "" in a query
	list   bool
	phones []ContactValue
	emails []ContactValue
}

// ContactLists is accumulate's contact: the `phones` and `emails` lists of
// the body's field object.
func ContactLists(field string, phones, emails []ContactValue) ContactInput {
	return ContactInput{field: field, list: true, phones: phones, emails: emails}
}

// ContactPair is a contact of one phone and one email: redeem's `data.phone`
// and `data.email` (field "data"), the `phone` and `email` query parameters of
// balance and history (field "").
func ContactPair(field, phone, email string) ContactInput {
	return ContactInput{field: field, phones: []ContactValue{{Value: phone}}, emails: []ContactValue{{Value: email}}}
}

// IgnoredPhone is a phone the contact rule ignored because it does not parse.
type IgnoredPhone struct {
	Field string // the request field, e.g. "data.phones[0]"
	Value string // as typed: a log shows it masked (maskPhone), never whole
}

// read applies the contact rule every loyalty call shares, and returns the
// phones (E.164) and emails to find the customer by:
//
//   - blank values are skipped; a `type` is text like any other field;
//   - an email that is not an address is refused;
//   - a phone that does not parse is ignored and returned in ignored (the
//     seed's own examples carry placeholder phones such as "023232" beside a
//     real email), unless nothing is left to find the customer by: then it is
//     refused;
//   - a contact that names nothing is refused (ReasonContactRequired).
//
// The messages are the ones each shape has always had.
func (in ContactInput) read() (phones []Phone, emails []Email, ignored []IgnoredPhone, err error) {
	for i, p := range in.phones {
		if err := checkText(in.name("phone", i)+".type", p.Type); err != nil {
			return nil, nil, nil, err
		}
	}
	for i, e := range in.emails {
		name := in.name("email", i)
		if err := checkText(name+".type", e.Type); err != nil {
			return nil, nil, nil, err
		}
		addr := strings.TrimSpace(e.Value)
		if addr == "" {
			continue
		}
		if CheckEmail(addr) != nil {
			if in.list {
				return nil, nil, nil, Invalid(name, "%s is not a valid email address", name)
			}
			return nil, nil, nil, Invalid(name, "%s is not a valid address", name)
		}
		emails = append(emails, Email{Type: e.Type, Address: addr})
	}
	for i, p := range in.phones {
		if strings.TrimSpace(p.Value) == "" {
			continue
		}
		e164, err := NormalizePhone(p.Value)
		if err != nil {
			ignored = append(ignored, IgnoredPhone{Field: in.name("phone", i), Value: p.Value})
			continue
		}
		phones = append(phones, Phone{Type: p.Type, Number: e164})
	}
	if len(phones) > 0 || len(emails) > 0 {
		return phones, emails, ignored, nil
	}
	prefix := in.prefix()
	switch {
	case len(ignored) > 0 && in.list:
		return nil, nil, nil, Invalid(prefix+"phones", "%sphones holds no valid phone number, and there is no email", prefix)
	case len(ignored) > 0:
		return nil, nil, nil, Invalid(prefix+"phone", "%sphone is not a valid phone number", prefix)
	case in.list:
		return nil, nil, nil, (&Error{Code: EINVALID, Field: in.field, Message: in.field + " needs at least one phone or email"}).WithReason(ReasonContactRequired)
	default:
		return nil, nil, nil, (&Error{Code: EINVALID, Field: prefix + "phone", Message: prefix + "phone or " + prefix + "email is required"}).WithReason(ReasonContactRequired)
	}
}

func (in ContactInput) prefix() string {
	if in.field == "" {
		return ""
	}
	return in.field + "."
}

// name is the request field of the i-th phone or email: "data.phones[0]" in
// the lists, "data.phone" or "phone" in a pair.
func (in ContactInput) name(kind string, i int) string {
	if in.list {
		return fmt.Sprintf("%s%ss[%d]", in.prefix(), kind, i)
	}
	return in.prefix() + kind
}

// contactOf is the contact that finds a customer by these phones and emails.
func contactOf(phones []Phone, emails []Email) Contact {
	var ct Contact
	for _, p := range phones {
		ct.Phones = append(ct.Phones, p.Number)
	}
	for _, e := range emails {
		ct.Emails = append(ct.Emails, e.Address)
	}
	return ct
}
