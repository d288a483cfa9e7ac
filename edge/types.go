package edge

// The customer-type dialect: POST /api/crm/type/{create,update,delete,updateNo}
// and GET /api/crm/type/list (customer-type-api.txt).

import (
	"context"
	"net/http"
	"strings"
	"time"

	"github.com/julienschmidt/httprouter"
)

// typesEnvelope is `{"status": 1|0, "error": <int>, "message", "data"}`.
type typesEnvelope struct {
	Status  int    `json:"status"`
	Error   int    `json:"error"`
	Message string `json:"message"`
	Data    any    `json:"data"`
}

// typesErrorNumber maps a domain error code to the dialect's error numbers:
// 1 validation, 2 not found, 3 conflict, 4 unauthorized, 5 internal.
func typesErrorNumber(code string) int {
	switch code {
	case EINVALID, ETOOLARGE:
		return 1
	case ENOTFOUND:
		return 2
	case ECONFLICT:
		return 3
	case EUNAUTHORIZED, EFORBIDDEN:
		return 4
	default:
		return 5
	}
}

var typesDialect = &dialect{
	name: "types",
	writeError: func(w http.ResponseWriter, err error) {
		code := ErrorCode(err)
		writeJSON(w, HTTPStatus(code), typesEnvelope{Status: 0, Error: typesErrorNumber(code), Message: ErrorMessage(err)})
	},
	replayOK: typesEnvelope{Status: 1, Message: "Success", Data: true},
}

func (s *Server) routeTypes() {
	s.handle(http.MethodPost, "/api/crm/type/create", typesDialect, anyToken, s.typeWrite(s.svc.CreateCustomerType, "Customer type created"))
	s.handle(http.MethodPost, "/api/crm/type/update", typesDialect, anyToken, s.typeWrite(s.svc.UpdateCustomerType, "Customer type updated"))
	s.handle(http.MethodPost, "/api/crm/type/delete", typesDialect, anyToken, s.typeDelete)
	s.handle(http.MethodPost, "/api/crm/type/updateNo", typesDialect, anyToken, s.typeWrite(s.svc.RenumberCustomerType, "Customer type code changed"))
	s.handle(http.MethodGet, "/api/crm/type/list", typesDialect, anyToken, s.typeList)
}

// typeBody is the body of every /api/crm/type/* write. The seed shows
// strings; a number (type_no 10) is read as its text.
type typeBody struct {
	VbotID      text `json:"vbot_id"`
	ProjectCode text `json:"project_code"`
	TypeName    text `json:"type_name"`
	TypeNo      text `json:"type_no"`
	NewTypeNo   text `json:"new_type_no"`
}

func decodeTypeWrite(r *http.Request) (TypeWrite, []byte, error) {
	var b typeBody
	body, err := decodeBody(r, &b)
	t := func(v text) string { return strings.TrimSpace(v.val) }
	return TypeWrite{Scope: TypeScope{VbotID: t(b.VbotID), ProjectCode: t(b.ProjectCode)}, TypeNo: t(b.TypeNo),
		TypeName: t(b.TypeName), NewTypeNo: t(b.NewTypeNo)}, body, err
}

func typeOK(w http.ResponseWriter, msg string, data any) {
	writeJSON(w, http.StatusOK, typesEnvelope{Status: 1, Error: 0, Message: msg, Data: data})
}

// typeWrite is the create, update or updateNo handler: write is the
// service's method, msg the success message; data is the type's id.
func (s *Server) typeWrite(write func(context.Context, TypeWrite, Call) (*CustomerType, error), msg string) apiHandler {
	return func(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
		in, body, err := decodeTypeWrite(r)
		if err != nil {
			return err
		}
		t, err := write(r.Context(), in, call(r, body))
		if err != nil {
			return err
		}
		typeOK(w, msg, t.ID)
		return nil
	}
}

func (s *Server) typeDelete(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	in, body, err := decodeTypeWrite(r)
	if err != nil {
		return err
	}
	if err := s.svc.DeleteCustomerType(r.Context(), in, call(r, body)); err != nil {
		return err
	}
	typeOK(w, "Customer type deleted", true)
	return nil
}

type customerTypeJSON struct {
	ID          string `json:"id"`
	VbotID      string `json:"vbot_id"`
	ProjectCode string `json:"project_code"`
	TypeNo      string `json:"type_no"`
	TypeName    string `json:"type_name"`
	CreatedAt   string `json:"created_at"`
	UpdatedAt   string `json:"updated_at"`
}

func (s *Server) typeList(w http.ResponseWriter, r *http.Request, _ httprouter.Params) error {
	vbot, err := queryText(r, "vbot_id")
	if err != nil {
		return err
	}
	project, err := queryText(r, "project_code")
	if err != nil {
		return err
	}
	ts, err := s.svc.CustomerTypes(r.Context(), TypeScope{VbotID: vbot, ProjectCode: project})
	if err != nil {
		return err
	}
	out := make([]customerTypeJSON, 0, len(ts))
	for _, t := range ts {
		out = append(out, customerTypeJSON{ID: t.ID, VbotID: t.VbotID, ProjectCode: t.ProjectCode, TypeNo: t.TypeNo,
			TypeName: t.TypeName, CreatedAt: isoTime(t.CreatedAt), UpdatedAt: isoTime(t.UpdatedAt)})
	}
	typeOK(w, "Customer types", out)
	return nil
}

// isoTime is the profile dialect's ISO-8601 UTC with milliseconds.
func isoTime(t time.Time) string { return t.UTC().Format("2006-01-02T15:04:05.000Z") }
