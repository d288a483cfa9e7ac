package fakecrm

import (
	"cmp"
	"encoding/json"
	"net/http"
	"slices"
	"strings"
)

// typeEnvelope is the customer-type dialect's envelope.
type typeEnvelope struct {
	Status  int    `json:"status"` // 1 success, 0 failure
	Error   int    `json:"error"`  // 0 ok, 1 validation, 2 not found, 3 conflict, 4 auth, 5 internal
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// typeErrorNumber maps an HTTP status onto the dialect's error numbers (SPEC §4).
func typeErrorNumber(status int) int {
	switch status {
	case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnprocessableEntity:
		return 1
	case http.StatusNotFound:
		return 2
	case http.StatusConflict:
		return 3
	case http.StatusUnauthorized, http.StatusForbidden:
		return 4
	}
	return 5
}

func typeOK(data any) typeEnvelope {
	return typeEnvelope{Status: 1, Error: 0, Message: "Thành công", Data: data}
}

// typeKey names a customer type: type_no is unique within a (vbot_id, project_code) scope.
type typeKey struct {
	vbotID, projectCode, typeNo string
}

type customerType struct {
	id   string
	name string
}

// typeBody is the body of every /api/crm/type/* call. The seed shows strings,
// but a client may well send type_no as a number; both are accepted.
type typeBody struct {
	VbotID      flexString `json:"vbot_id"`
	ProjectCode flexString `json:"project_code"`
	TypeName    flexString `json:"type_name"`
	TypeNo      flexString `json:"type_no"`
	NewTypeNo   flexString `json:"new_type_no"`
}

// flexString accepts a JSON string or number.
type flexString string

func (f *flexString) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] != '"' {
		var n json.Number
		if err := json.Unmarshal(b, &n); err != nil {
			return err
		}
		*f = flexString(n)
		return nil
	}
	var s string
	err := json.Unmarshal(b, &s)
	*f = flexString(s)
	return err
}

// decodeType decodes the body and checks that the named fields are present.
func decodeType(cl *call, required ...string) (typeBody, *apiError) {
	var b typeBody
	if err := cl.decode(&b); err != nil {
		return b, err
	}
	values := map[string]flexString{
		"vbot_id": b.VbotID, "project_code": b.ProjectCode, "type_name": b.TypeName,
		"type_no": b.TypeNo, "new_type_no": b.NewTypeNo,
	}
	for _, f := range required {
		if strings.TrimSpace(string(values[f])) == "" {
			return b, errorf(http.StatusBadRequest, "invalid_"+f, "%s is required", f)
		}
	}
	return b, nil
}

func (b typeBody) key() typeKey {
	return typeKey{string(b.VbotID), string(b.ProjectCode), string(b.TypeNo)}
}

func (s *store) createType(cl *call) (int, any, *apiError) {
	b, aerr := decodeType(cl, "vbot_id", "project_code", "type_name", "type_no")
	if aerr != nil {
		return 0, nil, aerr
	}
	if s.types[b.key()] != nil {
		return 0, nil, errorf(http.StatusConflict, "type_exists", "customer type %s already exists", b.TypeNo)
	}
	t := &customerType{id: s.ids.next(), name: string(b.TypeName)}
	s.types[b.key()] = t
	return http.StatusOK, typeOK(t.id), nil
}

func (s *store) updateType(cl *call) (int, any, *apiError) {
	b, aerr := decodeType(cl, "vbot_id", "project_code", "type_name", "type_no")
	if aerr != nil {
		return 0, nil, aerr
	}
	t := s.types[b.key()]
	if t == nil {
		return 0, nil, errTypeNotFound(b.TypeNo)
	}
	t.name = string(b.TypeName)
	return http.StatusOK, typeOK(t.id), nil
}

func (s *store) deleteType(cl *call) (int, any, *apiError) {
	b, aerr := decodeType(cl, "vbot_id", "project_code", "type_no")
	if aerr != nil {
		return 0, nil, aerr
	}
	if s.types[b.key()] == nil {
		return 0, nil, errTypeNotFound(b.TypeNo)
	}
	delete(s.types, b.key())
	return http.StatusOK, typeOK(true), nil
}

func (s *store) updateTypeNo(cl *call) (int, any, *apiError) {
	b, aerr := decodeType(cl, "vbot_id", "project_code", "type_no", "new_type_no")
	if aerr != nil {
		return 0, nil, aerr
	}
	t := s.types[b.key()]
	if t == nil {
		return 0, nil, errTypeNotFound(b.TypeNo)
	}
	to := typeKey{string(b.VbotID), string(b.ProjectCode), string(b.NewTypeNo)}
	if to != b.key() && s.types[to] != nil {
		return 0, nil, errorf(http.StatusConflict, "type_exists", "customer type %s already exists", b.NewTypeNo)
	}
	delete(s.types, b.key())
	s.types[to] = t
	return http.StatusOK, typeOK(t.id), nil
}

type typeView struct {
	ID       string `json:"id"`
	TypeNo   string `json:"type_no"`
	TypeName string `json:"type_name"`
}

func (s *store) listTypes(cl *call) (int, any, *apiError) {
	vbot, project := cl.query.Get("vbot_id"), cl.query.Get("project_code")
	list := []typeView{}
	for k, t := range s.types {
		if k.vbotID == vbot && k.projectCode == project {
			list = append(list, typeView{ID: t.id, TypeNo: k.typeNo, TypeName: t.name})
		}
	}
	slices.SortFunc(list, func(a, b typeView) int { return cmp.Compare(a.TypeNo, b.TypeNo) })
	return http.StatusOK, typeOK(list), nil
}

func errTypeNotFound(no flexString) *apiError {
	return errorf(http.StatusNotFound, "type_not_found", "customer type %s not found", no)
}
