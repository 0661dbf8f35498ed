package stepup

import (
	"bytes"
	"context"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"log/slog"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/store"
)

// TOTP parameters: RFC 6238 with SHA-1, 6 digits and 30-second steps,
// what every authenticator app understands; one step of skew either way.
const (
	totpPeriod = 30
	totpDigits = 6
	totpSkew   = 1
	// totpSecretBytes is 160 bits, the HMAC-SHA-1 block-friendly size
	// RFC 4226 recommends.
	totpSecretBytes = 20
	qrSize          = 256
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

var totpOpts = totp.ValidateOpts{Period: totpPeriod, Skew: 0, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// totpStep is the RFC 6238 time step of t.
func totpStep(t time.Time) int64 {
	u := t.Unix()
	if u < 0 {
		return (u - totpPeriod + 1) / totpPeriod
	}
	return u / totpPeriod
}

// matchTOTP returns the latest step within one step of now for which code
// is the code of secret, or 0. It checks every candidate step (no early
// exit), each with a constant-time comparison.
func matchTOTP(secret []byte, code string, now time.Time) int64 {
	enc := b32.EncodeToString(secret)
	cur := totpStep(now)
	var match int64
	for step := cur - totpSkew; step <= cur+totpSkew; step++ {
		ok, err := totp.ValidateCustom(code, enc, time.Unix(step*totpPeriod, 0), totpOpts)
		if err == nil && ok && step > match {
			match = step
		}
	}
	return match
}

// TOTPEnrollment is what a user needs to add a TOTP factor to an
// authenticator app; shown once. It never prints its secret.
type TOTPEnrollment struct {
	FactorID string
	Secret   Secret // base32, as typed into an app
	URI      Secret // otpauth:// URI, as in the QR code
	QRPNG    Secret // PNG of the QR code of URI
}

// LogValue implements slog.LogValuer: the factor id only.
func (e TOTPEnrollment) LogValue() slog.Value {
	return slog.GroupValue(slog.String("factor_id", e.FactorID))
}

// EnrollTOTP starts the enrolment of a TOTP factor for userID; account is
// the account name the app shows (default: the user id). The factor
// answers challenges once ConfirmTOTP saw a code from the app. An earlier
// unconfirmed TOTP enrolment of the user is dropped.
func (s *Service) EnrollTOTP(ctx context.Context, userID, name, account string) (TOTPEnrollment, error) {
	if err := checkID("user_id", userID); err != nil {
		return TOTPEnrollment{}, err
	}
	name, err := checkName(name, "Authenticator app")
	if err != nil {
		return TOTPEnrollment{}, err
	}
	if account == "" {
		account = userID
	} else if err := checkID("account_name", account); err != nil {
		return TOTPEnrollment{}, err
	}
	unlock := s.lockUser(userID)
	defer unlock()
	now := s.clock.Now()
	if err := s.makeRoom(ctx, userID, store.FactorTOTP); err != nil {
		return TOTPEnrollment{}, err
	}
	key, err := totp.Generate(totp.GenerateOpts{
		Issuer: s.cfg.Issuer, AccountName: account, Period: totpPeriod, SecretSize: totpSecretBytes,
		Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("generating TOTP key: %w", err)
	}
	secret, err := b32.DecodeString(key.Secret())
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("decoding TOTP key: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return TOTPEnrollment{}, fmt.Errorf("drawing QR code: %w", err)
	}
	var qr bytes.Buffer
	if err := png.Encode(&qr, img); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("encoding QR code: %w", err)
	}
	f := store.Factor{ID: ids.New("fa", now), UserID: userID, Type: store.FactorTOTP, Name: name, CreatedAt: now}
	f.Secret = s.keys.Seal(secret, factorAAD(f))
	if err := s.store.PutFactor(ctx, f); err != nil {
		return TOTPEnrollment{}, fmt.Errorf("storing factor: %w", err)
	}
	return TOTPEnrollment{FactorID: f.ID, Secret: Secret(key.Secret()), URI: Secret(key.URL()), QRPNG: qr.Bytes()}, nil
}

// makeRoom drops the user's unconfirmed factors of type typ and checks
// the cap on factors; held under the user's lock.
func (s *Service) makeRoom(ctx context.Context, userID, typ string) error {
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return fmt.Errorf("listing factors: %w", err)
	}
	n := 0
	for _, f := range fs {
		if !f.Confirmed && f.Type == typ {
			if err := s.store.DeleteFactor(ctx, userID, f.ID); err != nil && !errors.Is(err, store.ErrNotFound) {
				return fmt.Errorf("dropping unconfirmed factor: %w", err)
			}
			continue
		}
		n++
	}
	if n >= s.cfg.MaxFactors {
		return fmt.Errorf("user %q already has %d factors, the most allowed (stepup.max_factors): %w", userID, n, ErrConflict)
	}
	return nil
}

// factorAAD binds a factor's sealed secret to the factor.
func factorAAD(f store.Factor) []byte {
	return []byte("factor\x00" + f.ID + "\x00" + f.UserID + "\x00" + f.Type)
}

// openSecret opens a factor's secret. A secret sealed with an old key is
// sealed again with the current one (rotation on use).
func (s *Service) openSecret(ctx context.Context, f store.Factor) ([]byte, error) {
	plain, stale, err := s.keys.Open(f.Secret, factorAAD(f))
	if err != nil {
		return nil, fmt.Errorf("factor %s: %w", f.ID, err)
	}
	if stale {
		f.Secret = s.keys.Seal(plain, factorAAD(f))
		if err := s.store.PutFactor(ctx, f); err != nil {
			s.log.Warn("resealing factor with the current key", "factor", f.ID, "err", err)
		}
	}
	return plain, nil
}

// ConfirmTOTP finishes a TOTP enrolment with a code from the app. The
// code's step is recorded, so it cannot answer a challenge afterwards.
func (s *Service) ConfirmTOTP(ctx context.Context, userID, factorID, code string) error {
	if err := checkID("user_id", userID); err != nil {
		return err
	}
	if err := checkID("factor_id", factorID); err != nil {
		return err
	}
	c, err := parseDigits("code", code, totpDigits)
	if err != nil {
		return err
	}
	unlock := s.lockUser(userID)
	defer unlock()
	now := s.clock.Now()
	f, err := s.store.GetFactor(ctx, factorID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (f.UserID != userID || f.Type != store.FactorTOTP) {
		return fmt.Errorf("no TOTP factor %q for user %q: %w", factorID, userID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("loading factor: %w", err)
	}
	if f.Confirmed {
		return fmt.Errorf("factor %q is already confirmed: %w", factorID, ErrConflict)
	}
	if now.Sub(f.CreatedAt) > enrolTTL {
		return fmt.Errorf("the enrolment of factor %q expired; start again: %w", factorID, ErrConflict)
	}
	secret, err := s.openSecret(ctx, f)
	if err != nil {
		return err
	}
	step := matchTOTP(secret, c, now)
	if step == 0 {
		return fieldError("code", "is not the authenticator app's current code (check the phone's clock)")
	}
	if ok, err := s.store.AdvanceTOTPStep(ctx, f.ID, step, now); err != nil {
		return fmt.Errorf("recording TOTP step: %w", err)
	} else if !ok {
		return fieldError("code", "was already used; wait for the next one")
	}
	f, err = s.store.GetFactor(ctx, factorID)
	if err != nil {
		return fmt.Errorf("loading factor: %w", err)
	}
	f.Confirmed = true
	if err := s.store.PutFactor(ctx, f); err != nil {
		return fmt.Errorf("confirming factor: %w", err)
	}
	return nil
}

// dummySecret is checked when a user has no factor of the kind, so that
// the answer takes the same work.
var dummySecret = bytes.Repeat([]byte{0x5a}, totpSecretBytes)

// checkTOTP checks a TOTP code against every TOTP factor of the
// challenged user that may answer it. The latest matching step must be
// newer than the factor's last accepted step, and is recorded atomically:
// a code is accepted at most once, across challenges and processes.
func (s *Service) checkTOTP(ctx context.Context, ch store.Challenge, code string, now time.Time) (bool, error) {
	c, err := parseDigits("code", code, totpDigits)
	if err != nil {
		return false, err
	}
	fs, err := s.store.ListFactors(ctx, ch.UserID)
	if err != nil {
		return false, fmt.Errorf("listing factors: %w", err)
	}
	var best *store.Factor
	var bestStep int64
	checked := 0
	for i := range fs {
		f := &fs[i]
		if f.Type != store.FactorTOTP || !usable(*f, ch.CreatedAt) {
			continue
		}
		secret, err := s.openSecret(ctx, *f)
		if err != nil {
			return false, err
		}
		checked++
		if step := matchTOTP(secret, c, now); step > f.TOTPLastStep && step > bestStep {
			best, bestStep = f, step
		}
	}
	if checked == 0 {
		matchTOTP(dummySecret, c, now)
	}
	if best == nil {
		return false, nil
	}
	ok, err := s.store.AdvanceTOTPStep(ctx, best.ID, bestStep, now)
	if err != nil {
		return false, fmt.Errorf("recording TOTP step: %w", err)
	}
	return ok, nil
}
