package store

import (
	"errors"
	"time"
)

// ErrExists is returned when creating a record whose unique name is taken.
var ErrExists = errors.New("already exists")

// Operator is a person who signs in to the dashboard (package dashboard)
// with a password and a TOTP code. Neither secret is stored in clear:
// PasswordHash is an argon2id hash and TOTPSecret is sealed (encrypted and
// authenticated) by the step-up keyring.
type Operator struct {
	Name         string
	PasswordHash string // encoded argon2id hash ($argon2id$v=19$m=...,t=...,p=...$salt$hash)
	TOTPSecret   []byte // sealed base32 TOTP secret
	TOTPLastStep int64  // last accepted TOTP time step, 0: none
	CreatedAt    time.Time
	Disabled     bool
}
