package edge

import "time"

// CustomerType is a category customers are sorted into, scoped by
// (VbotID, ProjectCode); TypeNo is unique within its scope.
type CustomerType struct {
	ID          string
	VbotID      string
	ProjectCode string
	TypeNo      string
	TypeName    string
	CreatedAt   time.Time
	UpdatedAt   time.Time
}

// Ref is the reference a customer holding this type carries.
func (t *CustomerType) Ref() TypeRef {
	return TypeRef{TypeID: t.ID, VbotID: t.VbotID, ProjectCode: t.ProjectCode, TypeNo: t.TypeNo, TypeName: t.TypeName}
}

// TypeScope names the scope of a customer type.
type TypeScope struct {
	VbotID      string
	ProjectCode string
}

// stream is the outbox ordering key for writes to one scope's types.
func (s TypeScope) stream() string { return "type:" + s.VbotID + "\x1f" + s.ProjectCode }
