package edge

import (
	"context"
	"fmt"
	"strings"
)

// TypeWrite is a create, update, delete or renumbering of a customer type.
type TypeWrite struct {
	Scope     TypeScope
	TypeNo    string
	TypeName  string // create, update
	NewTypeNo string // updateNo
}

// check validates a write and its caller: customer types are shared by every
// location, so a token limited to some pos_id may list them but not change them.
func (w *TypeWrite) check(ctx context.Context, needName, needNew bool) error {
	if PrincipalFrom(ctx).Scoped() {
		return Errorf(EFORBIDDEN, "This token is limited to some pos_id and may not change customer types")
	}
	for _, f := range []struct{ name, val string }{
		{"vbot_id", w.Scope.VbotID}, {"project_code", w.Scope.ProjectCode}, {"type_no", w.TypeNo},
	} {
		if strings.TrimSpace(f.val) == "" {
			return Invalid(f.name, "%s is required", f.name)
		}
		if err := checkText(f.name, f.val); err != nil {
			return err
		}
	}
	if needName {
		if strings.TrimSpace(w.TypeName) == "" {
			return Invalid("type_name", "type_name is required")
		}
		if err := checkText("type_name", w.TypeName); err != nil {
			return err
		}
	}
	if needNew {
		if strings.TrimSpace(w.NewTypeNo) == "" {
			return Invalid("new_type_no", "new_type_no is required")
		}
		if err := checkText("new_type_no", w.NewTypeNo); err != nil {
			return err
		}
	}
	return nil
}

func typeNotFound(no string) error {
	return &Error{Code: ENOTFOUND, Reason: "type_not_found", Message: fmt.Sprintf("Customer type %q not found in this vbot_id/project_code", no)}
}

func typeExists(no string) error {
	return &Error{Code: ECONFLICT, Reason: "type_exists", Message: fmt.Sprintf("Customer type %q already exists in this vbot_id/project_code", no)}
}

// CreateCustomerType adds a type to a scope.
func (s *Service) CreateCustomerType(ctx context.Context, w TypeWrite, call Call) (*CustomerType, error) {
	if err := w.check(ctx, true, false); err != nil {
		return nil, err
	}
	var out *CustomerType
	err := s.write(ctx, func(tx Tx) error {
		have, err := tx.CustomerType(w.Scope, w.TypeNo)
		if err != nil {
			return err
		}
		if have != nil {
			return typeExists(w.TypeNo)
		}
		now := s.nowMs()
		out = &CustomerType{ID: s.newID(), VbotID: w.Scope.VbotID, ProjectCode: w.Scope.ProjectCode,
			TypeNo: w.TypeNo, TypeName: w.TypeName, CreatedAt: now, UpdatedAt: now}
		if err := tx.InsertCustomerType(out); err != nil {
			return err
		}
		return s.queue(tx, KindTypeCreate, w.Scope.stream(), call, "")
	})
	if err != nil {
		return nil, fmt.Errorf("create customer type: %w", err)
	}
	return out, nil
}

// UpdateCustomerType renames a type; customers holding it see the new name.
func (s *Service) UpdateCustomerType(ctx context.Context, w TypeWrite, call Call) (*CustomerType, error) {
	if err := w.check(ctx, true, false); err != nil {
		return nil, err
	}
	return s.changeType(ctx, w, KindTypeUpdate, call, func(tx Tx, t *CustomerType) error {
		t.TypeName = w.TypeName
		return tx.UpdateCustomerType(t)
	})
}

// RenumberCustomerType changes a type's code; customers keep the type.
func (s *Service) RenumberCustomerType(ctx context.Context, w TypeWrite, call Call) (*CustomerType, error) {
	if err := w.check(ctx, false, true); err != nil {
		return nil, err
	}
	return s.changeType(ctx, w, KindTypeUpdateNo, call, func(tx Tx, t *CustomerType) error {
		if w.NewTypeNo == t.TypeNo {
			return nil
		}
		clash, err := tx.CustomerType(w.Scope, w.NewTypeNo)
		if err != nil {
			return err
		}
		if clash != nil {
			return typeExists(w.NewTypeNo)
		}
		t.TypeNo = w.NewTypeNo
		return tx.UpdateCustomerType(t)
	})
}

// DeleteCustomerType removes a type no customer holds.
func (s *Service) DeleteCustomerType(ctx context.Context, w TypeWrite, call Call) error {
	if err := w.check(ctx, false, false); err != nil {
		return err
	}
	_, err := s.changeType(ctx, w, KindTypeDelete, call, func(tx Tx, t *CustomerType) error {
		n, err := tx.CustomerTypeHolders(t.ID)
		if err != nil {
			return err
		}
		if n > 0 {
			who := "1 customer"
			if n != 1 {
				who = fmt.Sprintf("%d customers", n)
			}
			return &Error{Code: ECONFLICT, Reason: "type_in_use",
				Message: fmt.Sprintf("Customer type %q is still held by %s: give them another type first", t.TypeNo, who)}
		}
		return tx.DeleteCustomerType(t.ID)
	})
	return err
}

func (s *Service) changeType(ctx context.Context, w TypeWrite, kind string, call Call, change func(Tx, *CustomerType) error) (*CustomerType, error) {
	var out *CustomerType
	err := s.write(ctx, func(tx Tx) error {
		t, err := tx.CustomerType(w.Scope, w.TypeNo)
		if err != nil {
			return err
		}
		if t == nil {
			return typeNotFound(w.TypeNo)
		}
		t.UpdatedAt = s.nowMs() // before change, which stores t
		if err := change(tx, t); err != nil {
			return err
		}
		out = t
		return s.queue(tx, kind, w.Scope.stream(), call, "")
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", kind, err)
	}
	return out, nil
}

// CustomerTypes lists a scope's types.
func (s *Service) CustomerTypes(ctx context.Context, scope TypeScope) ([]CustomerType, error) {
	if strings.TrimSpace(scope.VbotID) == "" {
		return nil, Invalid("vbot_id", "vbot_id is required")
	}
	if strings.TrimSpace(scope.ProjectCode) == "" {
		return nil, Invalid("project_code", "project_code is required")
	}
	var out []CustomerType
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		out, err = tx.CustomerTypes(scope)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list customer types: %w", err)
	}
	return out, nil
}

// resolveType finds the type a member or profile write names by `type_no`
// (and its scope, needed when the code is used in more than one).
func (s *Service) resolveType(tx Tx, sel TypeSelector) (*CustomerType, error) {
	if sel.VbotID != "" || sel.ProjectCode != "" {
		t, err := tx.CustomerType(TypeScope{sel.VbotID, sel.ProjectCode}, sel.TypeNo)
		if err != nil {
			return nil, err
		}
		if t == nil {
			return nil, Invalid("type_no", "type_no %q is not a customer type of this vbot_id/project_code", sel.TypeNo)
		}
		return t, nil
	}
	ts, err := tx.CustomerTypesByNo(sel.TypeNo)
	if err != nil {
		return nil, err
	}
	switch len(ts) {
	case 0:
		return nil, Invalid("type_no", "type_no %q is not a known customer type", sel.TypeNo)
	case 1:
		return &ts[0], nil
	default:
		return nil, Invalid("type_no", "type_no %q exists in %d scopes: give vbot_id and project_code", sel.TypeNo, len(ts))
	}
}
