package stepup

import (
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/store"
)

const maxAddressBytes = 254

// Sent says where a code went.
type Sent struct {
	To        string // the address, masked
	ExpiresAt time.Time
}

// checkAddress validates a bare email address (no display name).
func checkAddress(addr string) (string, error) {
	addr = strings.TrimSpace(addr)
	if addr == "" {
		return "", fieldError("address", "is required")
	}
	if len(addr) > maxAddressBytes {
		return "", fieldError("address", fmt.Sprintf("is longer than %d bytes", maxAddressBytes))
	}
	a, err := mail.ParseAddress(addr)
	if err != nil || a.Name != "" || a.Address != addr || !strings.Contains(addr, "@") {
		return "", fieldError("address", "is not an email address")
	}
	return addr, nil
}

// maskAddress shows enough of an address for its owner to recognize it:
// t***@example.jp.
func maskAddress(addr string) string {
	local, domain, ok := strings.Cut(addr, "@")
	if !ok || local == "" {
		return "***"
	}
	r := []rune(local)
	return string(r[0]) + "***@" + domain
}

func (s *Service) mailOn() error {
	if s.mailer == nil {
		return fmt.Errorf("email is not configured (smtp.host): %w", ErrUnavailable)
	}
	return nil
}

// emailFactor returns the user's oldest confirmed email factor that may
// answer a challenge made at before, and its address: the contact on file
// before any recent change.
func (s *Service) emailFactor(ctx context.Context, userID string, before time.Time) (store.Factor, string, error) {
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return store.Factor{}, "", fmt.Errorf("listing factors: %w", err)
	}
	for _, f := range fs {
		if f.Type == store.FactorEmail && usable(f, before) {
			addr, err := s.openSecret(ctx, f)
			if err != nil {
				return store.Factor{}, "", err
			}
			return f, string(addr), nil
		}
	}
	return store.Factor{}, "", fmt.Errorf("user has no verified email address: %w", ErrUnavailable)
}

// Send emails a one-time code for challenge id to the user's verified
// address. At most EmailCode.MaxSends codes are sent per challenge, at
// least EmailCode.ResendAfter apart; a new code replaces the last one.
func (s *Service) Send(ctx context.Context, id, method string) (Sent, error) {
	if method != MethodEmailOTP {
		return Sent{}, fieldError("method", "must be email_otp (the only method with a code to send)")
	}
	if err := s.mailOn(); err != nil {
		return Sent{}, err
	}
	unlock := s.lockChallenge(id)
	defer unlock()
	now := s.clock.Now()
	ch, err := s.open(ctx, id, now)
	if err != nil {
		return Sent{}, err
	}
	if err := offers(ch, MethodEmailOTP); err != nil {
		return Sent{}, err
	}
	_, addr, err := s.emailFactor(ctx, ch.UserID, ch.CreatedAt)
	if err != nil {
		return Sent{}, err
	}
	prev, err := s.store.GetEmailOTP(ctx, ch.ID)
	switch {
	case errors.Is(err, store.ErrNotFound):
		prev = store.EmailOTP{}
	case err != nil:
		return Sent{}, fmt.Errorf("loading email code: %w", err)
	case prev.Sends >= s.cfg.EmailCode.MaxSends:
		return Sent{}, fmt.Errorf("%d codes were already sent for this challenge: %w", prev.Sends, ErrSendLimit)
	case now.Sub(prev.SentAt) < s.cfg.EmailCode.ResendAfter:
		return Sent{}, fmt.Errorf("a code was sent less than %s ago: %w", s.cfg.EmailCode.ResendAfter, ErrSendLimit)
	}
	code := randomDigits(s.cfg.EmailCode.Digits)
	o := store.EmailOTP{
		Key: ch.ID, UserID: ch.UserID, Hash: s.mac("email-otp", ch.ID, code), SentAt: now,
		ExpiresAt: ch.ExpiresAt, Sends: prev.Sends + 1,
	}
	if err := s.store.PutEmailOTP(ctx, o); err != nil {
		return Sent{}, fmt.Errorf("storing email code: %w", err)
	}
	if err := s.mailCode(ctx, addr, code, ch.ExpiresAt.Sub(now), "sign in or confirm an action"); err != nil {
		return Sent{}, err
	}
	return Sent{To: maskAddress(addr), ExpiresAt: ch.ExpiresAt}, nil
}

func (s *Service) mailCode(ctx context.Context, to, code string, valid time.Duration, purpose string) error {
	minutes := max(1, int(valid.Round(time.Minute)/time.Minute))
	subject := s.cfg.Issuer + " verification code"
	body := fmt.Sprintf("Your %s verification code is %s\r\n\r\n"+
		"It is valid for %d minutes, to %s. Type it only on %s's own site; nobody from %s will ask you for it.\r\n\r\n"+
		"If you did not just try to do this, someone may know your password: change it.\r\n",
		s.cfg.Issuer, code, minutes, purpose, s.cfg.Issuer, s.cfg.Issuer)
	if err := s.mailer.SendMail(ctx, to, subject, body); err != nil {
		return fmt.Errorf("%w: %w", ErrMail, err)
	}
	return nil
}

// checkEmailCode checks an emailed code for challenge ch in constant time.
func (s *Service) checkEmailCode(ctx context.Context, ch store.Challenge, code string, now time.Time) (bool, error) {
	c, err := parseDigits("code", code, s.cfg.EmailCode.Digits)
	if err != nil {
		return false, err
	}
	o, err := s.store.GetEmailOTP(ctx, ch.ID)
	if errors.Is(err, store.ErrNotFound) {
		return false, fmt.Errorf("no code was emailed for this challenge (send one first): %w", ErrConflict)
	}
	if err != nil {
		return false, fmt.Errorf("loading email code: %w", err)
	}
	match := subtle.ConstantTimeCompare(s.mac("email-otp", ch.ID, c), o.Hash) == 1
	return match && o.UserID == ch.UserID && now.Before(o.ExpiresAt), nil
}

// EmailEnrollment is the result of adding an email address.
type EmailEnrollment struct {
	FactorID  string
	Confirmed bool // verified at once (the shop vouched for it)
	Sent      bool // a confirmation code was emailed
}

// EnrollEmail adds an address for email one-time codes. With verified
// (the shop already proved the user receives mail there) it is confirmed
// at once; otherwise a code is emailed for ConfirmEmail. The address is
// sealed at rest like any factor secret.
func (s *Service) EnrollEmail(ctx context.Context, userID, address string, verified bool) (EmailEnrollment, error) {
	if err := checkID("user_id", userID); err != nil {
		return EmailEnrollment{}, err
	}
	addr, err := checkAddress(address)
	if err != nil {
		return EmailEnrollment{}, err
	}
	if !verified {
		if err := s.mailOn(); err != nil {
			return EmailEnrollment{}, err
		}
	}
	unlock := s.lockUser(userID)
	defer unlock()
	now := s.clock.Now()
	if err := s.makeRoom(ctx, userID, store.FactorEmail); err != nil {
		return EmailEnrollment{}, err
	}
	f := store.Factor{ID: ids.New("fa", now), UserID: userID, Type: store.FactorEmail, Name: maskAddress(addr),
		CreatedAt: now, Confirmed: verified}
	f.Secret = s.keys.Seal([]byte(addr), factorAAD(f))
	if err := s.store.PutFactor(ctx, f); err != nil {
		return EmailEnrollment{}, fmt.Errorf("storing factor: %w", err)
	}
	if verified {
		return EmailEnrollment{FactorID: f.ID, Confirmed: true}, nil
	}
	code := randomDigits(s.cfg.EmailCode.Digits)
	key := "factor:" + f.ID
	if err := s.store.PutEmailOTP(ctx, store.EmailOTP{Key: key, UserID: userID, Hash: s.mac("email-otp", key, code),
		SentAt: now, ExpiresAt: now.Add(enrolTTL), Sends: 1}); err != nil {
		return EmailEnrollment{}, fmt.Errorf("storing email code: %w", err)
	}
	if err := s.mailCode(ctx, addr, code, enrolTTL, "confirm this address"); err != nil {
		return EmailEnrollment{}, err
	}
	return EmailEnrollment{FactorID: f.ID, Sent: true}, nil
}

// ConfirmEmail confirms an address with the code EnrollEmail sent. After
// five wrong codes the enrolment must start again.
func (s *Service) ConfirmEmail(ctx context.Context, userID, factorID, code string) error {
	if err := checkID("user_id", userID); err != nil {
		return err
	}
	if err := checkID("factor_id", factorID); err != nil {
		return err
	}
	c, err := parseDigits("code", code, s.cfg.EmailCode.Digits)
	if err != nil {
		return err
	}
	unlock := s.lockUser(userID)
	defer unlock()
	now := s.clock.Now()
	f, err := s.store.GetFactor(ctx, factorID)
	if errors.Is(err, store.ErrNotFound) || err == nil && (f.UserID != userID || f.Type != store.FactorEmail) {
		return fmt.Errorf("no email factor %q for user %q: %w", factorID, userID, ErrNotFound)
	}
	if err != nil {
		return fmt.Errorf("loading factor: %w", err)
	}
	if f.Confirmed {
		return fmt.Errorf("factor %q is already confirmed: %w", factorID, ErrConflict)
	}
	key := "factor:" + f.ID
	o, err := s.store.GetEmailOTP(ctx, key)
	if errors.Is(err, store.ErrNotFound) {
		return fmt.Errorf("no confirmation code for factor %q: %w", factorID, ErrConflict)
	}
	if err != nil {
		return fmt.Errorf("loading email code: %w", err)
	}
	if o.Attempts >= maxConfirmAttempts || !now.Before(o.ExpiresAt) {
		return fmt.Errorf("the confirmation of factor %q expired or had too many wrong codes; enrol again: %w", factorID, ErrConflict)
	}
	if subtle.ConstantTimeCompare(s.mac("email-otp", key, c), o.Hash) != 1 {
		o.Attempts++
		if err := s.store.PutEmailOTP(ctx, o); err != nil {
			return fmt.Errorf("counting a wrong code: %w", err)
		}
		return fieldError("code", "is not the code that was emailed")
	}
	o.Attempts = maxConfirmAttempts // used: it cannot confirm again
	if err := s.store.PutEmailOTP(ctx, o); err != nil {
		return fmt.Errorf("using email code: %w", err)
	}
	f.Confirmed = true
	if err := s.store.PutFactor(ctx, f); err != nil {
		return fmt.Errorf("confirming factor: %w", err)
	}
	return nil
}
