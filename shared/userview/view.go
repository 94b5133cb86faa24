// Package userview shapes Clerk users for this API's responses, so /me and
// /admin/users show a user the same way.
package userview

import (
	"encoding/json"
	"time"

	"github.com/clerk/clerk-sdk-go/v2"
)

// UserView is a Clerk user as the routes show it: what a front end needs to
// display someone, with times in RFC 3339. Private and unsafe metadata, and
// everything else the Backend API knows about the user, stay out. Absent
// values are null; public_metadata is always an object.
type UserView struct {
	ID             string          `json:"id"`
	EmailAddress   *string         `json:"email_address"`
	FirstName      *string         `json:"first_name"`
	LastName       *string         `json:"last_name"`
	Username       *string         `json:"username"`
	ImageURL       *string         `json:"image_url"`
	CreatedAt      time.Time       `json:"created_at"`
	LastSignInAt   *time.Time      `json:"last_sign_in_at"`
	PublicMetadata json.RawMessage `json:"public_metadata"`
}

// View shapes u. The email address is the primary one, or the first when no
// address is marked primary. Clerk's Unix milliseconds become UTC times.
// u must not be nil.
func View(u *clerk.User) UserView {
	v := UserView{
		ID:             u.ID,
		EmailAddress:   primaryEmail(u),
		FirstName:      nonEmpty(u.FirstName),
		LastName:       nonEmpty(u.LastName),
		Username:       nonEmpty(u.Username),
		ImageURL:       nonEmpty(u.ImageURL),
		CreatedAt:      time.UnixMilli(u.CreatedAt).UTC(),
		PublicMetadata: metadata(u.PublicMetadata),
	}
	if u.LastSignInAt != nil {
		t := time.UnixMilli(*u.LastSignInAt).UTC()
		v.LastSignInAt = &t
	}
	return v
}

// Views shapes a page of users, leaving out null entries. It never returns
// nil, so an empty page encodes as [].
func Views(users []*clerk.User) []UserView {
	out := make([]UserView, 0, len(users))
	for _, u := range users {
		if u != nil {
			out = append(out, View(u))
		}
	}
	return out
}

// primaryEmail is the address whose id is the user's primary email address
// id, else the first address, else nil.
func primaryEmail(u *clerk.User) *string {
	var chosen *clerk.EmailAddress
	for _, e := range u.EmailAddresses {
		if e == nil {
			continue
		}
		if u.PrimaryEmailAddressID != nil && e.ID == *u.PrimaryEmailAddressID {
			chosen = e
			break
		}
		if chosen == nil {
			chosen = e
		}
	}
	if chosen == nil {
		return nil
	}
	return nonEmpty(&chosen.EmailAddress)
}

// nonEmpty copies s, turning "" into nil so it encodes as null.
func nonEmpty(s *string) *string {
	if s == nil || *s == "" {
		return nil
	}
	v := *s
	return &v
}

var emptyObject = json.RawMessage(`{}`)

// metadata passes public metadata through, as {} when Clerk sent none or null.
func metadata(raw json.RawMessage) json.RawMessage {
	if len(raw) == 0 || string(raw) == "null" {
		return emptyObject
	}
	return raw
}
