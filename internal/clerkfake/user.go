package clerkfake

import (
	"encoding/json"
	"maps"
	"time"
)

// User is a Clerk user as the stand-in stores it. Empty strings and zero
// times are served as JSON null, as Clerk serves absent values; the JSON form
// (MarshalJSON) carries every property the specification's User schema
// requires.
type User struct {
	ID         string // "" = "user_" + random
	ExternalID string
	Username   string
	FirstName  string
	LastName   string
	ImageURL   string // "" = a default avatar URL, with HasImage false
	HasImage   bool
	// PrimaryEmailAddressID "" = the first email address's id.
	PrimaryEmailAddressID string
	EmailAddresses        []EmailAddress

	PublicMetadata  map[string]any
	PrivateMetadata map[string]any
	UnsafeMetadata  map[string]any

	PasswordEnabled  bool
	TwoFactorEnabled bool
	Banned           bool
	Locked           bool

	CreatedAt    time.Time // zero = Config.Now(), kept after the newest user so default creation order is strict
	UpdatedAt    time.Time // zero = CreatedAt
	LastSignInAt time.Time // zero = never (null)
	LastActiveAt time.Time // zero = never (null)
}

// EmailAddress is one of a user's email addresses.
type EmailAddress struct {
	ID           string // "" = "idn_" + random
	EmailAddress string
	// Verification is the verification status: "verified" (the default when
	// empty) or "unverified".
	Verification string
}

// defaultImageURL stands in for the avatar Clerk serves for users without an
// uploaded image. It is only data: nothing fetches it.
const defaultImageURL = "https://img.clerk.com/default-avatar"

// normalize fills what is empty and rounds times to milliseconds, Clerk's
// precision, so the stored user equals what its JSON decodes to. It also
// copies the slices and maps, so the caller's later changes do not leak in.
func (u User) normalize(created time.Time) User {
	if u.ID == "" {
		u.ID = newID("user_")
	}
	if u.CreatedAt.IsZero() {
		u.CreatedAt = created
	}
	u.CreatedAt = toMillis(u.CreatedAt)
	if u.UpdatedAt.IsZero() {
		u.UpdatedAt = u.CreatedAt
	}
	u.UpdatedAt = toMillis(u.UpdatedAt)
	u.LastSignInAt = toMillis(u.LastSignInAt)
	u.LastActiveAt = toMillis(u.LastActiveAt)
	if u.ImageURL == "" {
		u.ImageURL = defaultImageURL
	}
	u.EmailAddresses = append([]EmailAddress(nil), u.EmailAddresses...)
	for i := range u.EmailAddresses {
		e := &u.EmailAddresses[i]
		if e.ID == "" {
			e.ID = newID("idn_")
		}
		if e.Verification == "" {
			e.Verification = "verified"
		}
	}
	if u.PrimaryEmailAddressID == "" && len(u.EmailAddresses) > 0 {
		u.PrimaryEmailAddressID = u.EmailAddresses[0].ID
	}
	u.PublicMetadata = cloneMetadata(u.PublicMetadata)
	u.PrivateMetadata = cloneMetadata(u.PrivateMetadata)
	u.UnsafeMetadata = cloneMetadata(u.UnsafeMetadata)
	return u
}

// clone returns a copy that shares nothing mutable with u.
func (u User) clone() User {
	u.EmailAddresses = append([]EmailAddress(nil), u.EmailAddresses...)
	u.PublicMetadata = cloneMetadata(u.PublicMetadata)
	u.PrivateMetadata = cloneMetadata(u.PrivateMetadata)
	u.UnsafeMetadata = cloneMetadata(u.UnsafeMetadata)
	return u
}

// cloneMetadata deep-copies metadata through JSON, which is also what
// metadata is: values that JSON cannot carry are dropped.
func cloneMetadata(m map[string]any) map[string]any {
	if len(m) == 0 {
		return nil
	}
	raw, err := json.Marshal(m)
	if err != nil {
		return maps.Clone(m)
	}
	var out map[string]any
	if err := json.Unmarshal(raw, &out); err != nil {
		return maps.Clone(m)
	}
	return out
}

func toMillis(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return time.UnixMilli(t.UnixMilli()).UTC()
}

// primaryEmail is the primary email address, or "" when there is none.
func (u User) primaryEmail() string {
	for _, e := range u.EmailAddresses {
		if e.ID == u.PrimaryEmailAddressID {
			return e.EmailAddress
		}
	}
	return ""
}

// wireUser is the User object of the Backend API specification. Pointer
// fields are nullable there; empty arrays are served as [] (never null),
// and metadata as {} when empty, as Clerk serves them.
type wireUser struct {
	ID                            string            `json:"id"`
	Object                        string            `json:"object"`
	ExternalID                    *string           `json:"external_id"`
	PrimaryEmailAddressID         *string           `json:"primary_email_address_id"`
	PrimaryPhoneNumberID          *string           `json:"primary_phone_number_id"`
	PrimaryWeb3WalletID           *string           `json:"primary_web3_wallet_id"`
	Username                      *string           `json:"username"`
	FirstName                     *string           `json:"first_name"`
	LastName                      *string           `json:"last_name"`
	Locale                        *string           `json:"locale"`
	ImageURL                      string            `json:"image_url"`
	HasImage                      bool              `json:"has_image"`
	PublicMetadata                map[string]any    `json:"public_metadata"`
	PrivateMetadata               map[string]any    `json:"private_metadata"`
	UnsafeMetadata                map[string]any    `json:"unsafe_metadata"`
	EmailAddresses                []wireEmail       `json:"email_addresses"`
	PhoneNumbers                  []json.RawMessage `json:"phone_numbers"`
	Web3Wallets                   []json.RawMessage `json:"web3_wallets"`
	Passkeys                      []json.RawMessage `json:"passkeys"`
	PasswordEnabled               bool              `json:"password_enabled"`
	TwoFactorEnabled              bool              `json:"two_factor_enabled"`
	TOTPEnabled                   bool              `json:"totp_enabled"`
	BackupCodeEnabled             bool              `json:"backup_code_enabled"`
	MFAEnabledAt                  *int64            `json:"mfa_enabled_at"`
	MFADisabledAt                 *int64            `json:"mfa_disabled_at"`
	PasswordLastUpdatedAt         *int64            `json:"password_last_updated_at"`
	ExternalAccounts              []json.RawMessage `json:"external_accounts"`
	SAMLAccounts                  []json.RawMessage `json:"saml_accounts"`
	EnterpriseAccounts            []json.RawMessage `json:"enterprise_accounts"`
	LastSignInAt                  *int64            `json:"last_sign_in_at"`
	Banned                        bool              `json:"banned"`
	Locked                        bool              `json:"locked"`
	LockoutExpiresInSeconds       *int64            `json:"lockout_expires_in_seconds"`
	VerificationAttemptsRemaining *int64            `json:"verification_attempts_remaining"`
	UpdatedAt                     int64             `json:"updated_at"`
	CreatedAt                     int64             `json:"created_at"`
	DeleteSelfEnabled             bool              `json:"delete_self_enabled"`
	CreateOrganizationEnabled     bool              `json:"create_organization_enabled"`
	CreateOrganizationsLimit      *int64            `json:"create_organizations_limit"`
	LastActiveAt                  *int64            `json:"last_active_at"`
	LegalAcceptedAt               *int64            `json:"legal_accepted_at"`
}

// wireEmail is the EmailAddress object of the specification.
type wireEmail struct {
	ID                   string            `json:"id"`
	Object               string            `json:"object"`
	EmailAddress         string            `json:"email_address"`
	Reserved             bool              `json:"reserved"`
	Verification         wireVerification  `json:"verification"`
	LinkedTo             []json.RawMessage `json:"linked_to"`
	MatchesSSOConnection bool              `json:"matches_sso_connection"`
	CreatedAt            int64             `json:"created_at"`
	UpdatedAt            int64             `json:"updated_at"`
}

// wireVerification is a one-time-code verification (verification_otp in the
// specification), the way an address confirmed by an emailed code looks.
type wireVerification struct {
	Object   string `json:"object"`
	Status   string `json:"status"`
	Strategy string `json:"strategy"`
	Attempts *int64 `json:"attempts"`
	ExpireAt *int64 `json:"expire_at"`
}

// MarshalJSON encodes u as the Backend API's User object.
func (u User) MarshalJSON() ([]byte, error) {
	created, updated := u.CreatedAt.UnixMilli(), u.UpdatedAt.UnixMilli()
	attempts := int64(100)
	emails := make([]wireEmail, len(u.EmailAddresses))
	for i, e := range u.EmailAddresses {
		status := e.Verification
		if status == "" {
			status = "verified"
		}
		emails[i] = wireEmail{
			ID: e.ID, Object: "email_address", EmailAddress: e.EmailAddress,
			Verification: wireVerification{Object: "verification_otp", Status: status, Strategy: "email_code"},
			LinkedTo:     []json.RawMessage{},
			CreatedAt:    created, UpdatedAt: updated,
		}
	}
	return json.Marshal(wireUser{
		ID:                            u.ID,
		Object:                        "user",
		ExternalID:                    nullable(u.ExternalID),
		PrimaryEmailAddressID:         nullable(u.PrimaryEmailAddressID),
		Username:                      nullable(u.Username),
		FirstName:                     nullable(u.FirstName),
		LastName:                      nullable(u.LastName),
		ImageURL:                      u.ImageURL,
		HasImage:                      u.HasImage,
		PublicMetadata:                orEmpty(u.PublicMetadata),
		PrivateMetadata:               orEmpty(u.PrivateMetadata),
		UnsafeMetadata:                orEmpty(u.UnsafeMetadata),
		EmailAddresses:                emails,
		PhoneNumbers:                  []json.RawMessage{},
		Web3Wallets:                   []json.RawMessage{},
		Passkeys:                      []json.RawMessage{},
		PasswordEnabled:               u.PasswordEnabled,
		TwoFactorEnabled:              u.TwoFactorEnabled,
		ExternalAccounts:              []json.RawMessage{},
		SAMLAccounts:                  []json.RawMessage{},
		EnterpriseAccounts:            []json.RawMessage{},
		LastSignInAt:                  nullableTime(u.LastSignInAt),
		Banned:                        u.Banned,
		Locked:                        u.Locked,
		VerificationAttemptsRemaining: &attempts,
		UpdatedAt:                     updated,
		CreatedAt:                     created,
		DeleteSelfEnabled:             true,
		CreateOrganizationEnabled:     true,
		LastActiveAt:                  nullableTime(u.LastActiveAt),
	})
}

func nullable(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}

func nullableTime(t time.Time) *int64 {
	if t.IsZero() {
		return nil
	}
	ms := t.UnixMilli()
	return &ms
}

func orEmpty(m map[string]any) map[string]any {
	if m == nil {
		return map[string]any{}
	}
	return m
}
