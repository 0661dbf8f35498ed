package demoshop

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Argon2Params are the costs of argon2id password hashing.
type Argon2Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

// Argon2id costs. The shop hashes every login attempt, known account or
// not, so the cost is paid on the login path: it must stay in tens of
// milliseconds, not the ~440 ms of 64 MiB/t=1/p=4 on this class of machine.
var (
	// ProductionParams are OWASP's minimum for argon2id (19 MiB, t=2,
	// p=1): about 25 ms a hash on the 2-core machines here. The default.
	ProductionParams = Argon2Params{MemoryKiB: 19 * 1024, Time: 2, Threads: 1}
	// DemoParams (2 MiB, t=1, p=1, about 1.6 ms a hash) let `atoguard demo`
	// and the simulator seed thousands of accounts in seconds. They are
	// too cheap for real passwords: demo data only.
	DemoParams = Argon2Params{MemoryKiB: 2 * 1024, Time: 1, Threads: 1}
	// TestParams are for unit tests only.
	TestParams = Argon2Params{MemoryKiB: 8, Time: 1, Threads: 1}
)

// PasswordHasher hashes passwords and checks them against stored hashes.
type PasswordHasher interface {
	Hash(password string) (string, error)
	Verify(encoded, password string) (bool, error)
}

// Argon2id hashes with argon2id at fixed costs, in the PHC string format
// ($argon2id$v=19$m=…,t=…,p=…$salt$hash).
type Argon2id struct{ P Argon2Params }

var _ PasswordHasher = Argon2id{}

const (
	saltLen = 16
	keyLen  = 32
)

// Hash returns the PHC string of password with a fresh random salt.
func (h Argon2id) Hash(password string) (string, error) {
	salt := make([]byte, saltLen)
	_, _ = rand.Read(salt) // crypto/rand.Read never fails
	key := argon2.IDKey([]byte(password), salt, h.P.Time, h.P.MemoryKiB, h.P.Threads, keyLen)
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s", argon2.Version, h.P.MemoryKiB, h.P.Time, h.P.Threads,
		base64.RawStdEncoding.EncodeToString(salt), base64.RawStdEncoding.EncodeToString(key)), nil
}

var errBadHash = errors.New("not an argon2id hash")

// Verify reports whether password matches encoded, at encoded's own costs.
func (Argon2id) Verify(encoded, password string) (bool, error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[1] != "argon2id" {
		return false, errBadHash
	}
	var v int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &v); err != nil || v != argon2.Version {
		return false, errBadHash
	}
	var p Argon2Params
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &p.Threads); err != nil {
		return false, errBadHash
	}
	if p.MemoryKiB == 0 || p.MemoryKiB > 1<<20 || p.Time == 0 || p.Time > 16 || p.Threads == 0 {
		return false, errBadHash
	}
	salt, err := base64.RawStdEncoding.DecodeString(parts[4])
	if err != nil {
		return false, errBadHash
	}
	want, err := base64.RawStdEncoding.DecodeString(parts[5])
	if err != nil || len(want) == 0 || len(want) > 64 {
		return false, errBadHash
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}
