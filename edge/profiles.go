package edge

import (
	"context"
	"fmt"
)

// CreateProfile creates a customer through the profile dialect. A phone or
// email that already belongs to a customer is a conflict naming that
// customer's `_id`, so a marketing tool can switch to update; so is a wanted
// `_id` already in use. The profile dialect names no location, so a token
// limited to some locations may not create through it (its customer would
// belong nowhere it may see).
func (s *Service) CreateProfile(ctx context.Context, p CustomerPatch, call Call) (*Customer, error) {
	if PrincipalFrom(ctx).Scoped() {
		return nil, Errorf(EFORBIDDEN, "This token is limited to some pos_id: create customers with POST /customers_location?pos_id=")
	}
	if err := checkProfile(&p); err != nil {
		return nil, err
	}
	var out *Customer
	err := s.write(ctx, func(tx Tx) error {
		if ValidID(p.ID) {
			taken, err := tx.Customer(p.ID)
			if err != nil {
				return err
			}
			if taken != nil {
				return &Error{Code: ECONFLICT, Reason: "customer_exists", Field: "_id",
					Message: fmt.Sprintf("A customer with _id %s already exists: use /1.0/customer/update", p.ID)}
			}
		}
		existing, err := customerByContact(tx, contactOf(p.Phones, p.Emails))
		if err != nil {
			return err
		}
		if existing != nil {
			// Only unscoped tokens get here (see above), so naming the id
			// shows nothing the caller could not read anyway.
			return &Error{Code: ECONFLICT, Reason: "customer_exists", Field: "email",
				Message: fmt.Sprintf("A customer with this phone or email already exists (_id %s): use /1.0/customer/update", existing.ID)}
		}
		c, err := s.newCustomer(tx, &p)
		if err != nil {
			return err
		}
		out = c
		call.Body = stampBody(call.Body, map[string]any{"_id": c.ID}, "", nil)
		return s.queue(tx, KindProfileCreate, c.ID, call, "")
	})
	if err != nil {
		return nil, fmt.Errorf("create profile: %w", err)
	}
	return out, nil
}

// UpdateProfile changes the customer with this `_id`. A phone or email of
// another customer is a conflict, never a silent merge.
func (s *Service) UpdateProfile(ctx context.Context, id string, p CustomerPatch, call Call) (*Customer, error) {
	if id == "" {
		return nil, Invalid("_id", "_id is required")
	}
	if !ValidID(id) {
		return nil, Invalid("_id", "_id must be a 24-hex-digit id")
	}
	if err := checkProfile(&p); err != nil {
		return nil, err
	}
	var out *Customer
	err := s.write(ctx, func(tx Tx) error {
		c, err := tx.Customer(id)
		if err != nil {
			return err
		}
		if c == nil {
			return Errorf(ENOTFOUND, "Customer not found")
		}
		if err := s.checkCustomerVisible(ctx, tx, c.ID); err != nil {
			return err
		}
		if err := s.patchCustomer(tx, c, &p); err != nil {
			return err
		}
		out = c
		return s.queue(tx, KindProfileUpdate, c.ID, call, "")
	})
	if err != nil {
		return nil, fmt.Errorf("update profile: %w", err)
	}
	return out, nil
}

// Customer returns a customer by `_id`.
func (s *Service) Customer(ctx context.Context, id string) (*Customer, error) {
	if !ValidID(id) {
		return nil, Invalid("_id", "_id must be a 24-hex-digit id")
	}
	var c *Customer
	err := s.store.Read(ctx, func(tx Tx) error {
		var err error
		if c, err = tx.Customer(id); err != nil || c == nil {
			return err
		}
		return s.checkCustomerVisible(ctx, tx, c.ID)
	})
	if err != nil {
		return nil, fmt.Errorf("customer %s: %w", id, err)
	}
	if c == nil {
		return nil, Errorf(ENOTFOUND, "Customer not found")
	}
	return c, nil
}

func checkProfile(p *CustomerPatch) error {
	if len(p.Phones) == 0 && len(p.Emails) == 0 {
		return Invalid("email", "email or phone is required")
	}
	p.PrimaryFirst = true
	return p.Validate()
}
