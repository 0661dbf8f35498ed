// Package stepup provides step-up verification: challenges answered with
// a passkey (WebAuthn), an authenticator app (TOTP), an emailed one-time
// code or a recovery code, and the enrolment of those factors, with factor
// secrets sealed at rest.
//
// Every answer is checked in constant time and fed to the engine as an
// mfa.succeeded or mfa.failed event in the challenged request's context,
// so familiarity, incidents and the audit log learn from it as from a
// shop's own report. Time comes from the engine's clock: expiry and TOTP
// steps follow event time under --clock event.
package stepup

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash/fnv"
	"log/slog"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/go-webauthn/webauthn/webauthn"

	"github.com/atoguard/atoguard/internal/clock"
	"github.com/atoguard/atoguard/internal/engine"
	"github.com/atoguard/atoguard/internal/event"
	"github.com/atoguard/atoguard/internal/ids"
	"github.com/atoguard/atoguard/internal/mailer"
	"github.com/atoguard/atoguard/internal/store"
)

// Step-up methods, as named in challenges and answers.
const (
	MethodWebAuthn     = "webauthn"
	MethodTOTP         = "totp"
	MethodEmailOTP     = "email_otp"
	MethodRecoveryCode = "recovery_code"
)

// Outcomes of an answer (Outcome.Status).
const (
	StatusPassed  = "passed"
	StatusFailed  = "failed"
	StatusExpired = "expired"
	StatusLocked  = "locked"
)

// Errors callers branch on. Each is wrapped with a detail that is safe to
// show to the API client (it never repeats a code or a secret).
var (
	ErrNotFound    = errors.New("not found")
	ErrUsed        = errors.New("challenge already used")
	ErrLocked      = errors.New("challenge locked after too many wrong answers")
	ErrExpired     = errors.New("challenge expired")
	ErrUnavailable = errors.New("method unavailable")
	ErrConflict    = errors.New("conflict")
	ErrSendLimit   = errors.New("send limit")
	ErrMail        = errors.New("sending email failed")
)

// FieldError is a rejected input: Field is its JSON name, Detail a
// sentence for people that starts with it and never repeats a secret.
type FieldError struct {
	Field  string
	Detail string
}

func (e *FieldError) Error() string { return e.Detail }

func fieldError(field, msg string) *FieldError {
	return &FieldError{Field: field, Detail: field + " " + msg}
}

// Store is what the service keeps: challenges and factors.
type Store interface {
	store.FactorStore
	GetChallenge(ctx context.Context, id string) (store.Challenge, error)
	Write(ctx context.Context, b store.Batch) error
}

// Assessor is the engine: it records an answer as an mfa.* event.
type Assessor interface {
	Assess(ctx context.Context, ev event.Event) (engine.Result, error)
	ChallengeSettings() engine.ChallengeSettings
}

// Mailer sends an email (package mailer).
type Mailer interface {
	SendMail(ctx context.Context, to, subject, body string) error
}

// Config tunes step-up verification. The zero value is valid: TOTP and
// recovery codes work; email codes need a Mailer; WebAuthn needs
// WebAuthn.RPID and WebAuthn.Origins. How long a challenge lives, the
// methods offered and the wrong answers that lock one are the engine's
// (engine.challenge_ttl, challenge_methods, challenge_max_attempts).
type Config struct {
	// Issuer names the service in authenticator apps, passkey prompts and
	// emails; default "atoguard".
	Issuer string `yaml:"issuer"`
	// EncryptionKeyFile holds the keys that seal factor secrets (see
	// ParseKeys). Empty: the ATOGUARD_FACTOR_KEY environment variable, else
	// DATA/factor.keys, created on first start.
	EncryptionKeyFile string          `yaml:"encryption_key_file"`
	WebAuthn          WebAuthnConfig  `yaml:"webauthn"`
	EmailCode         EmailCodeConfig `yaml:"email_code"`
	// SMTP is the mail server email codes go through. Empty host: the
	// server of notify.smtp, else no email codes.
	SMTP mailer.Config `yaml:"smtp"`
	// MaxFactors caps the factors of one user; default 10.
	MaxFactors int `yaml:"max_factors"`
}

// WebAuthnConfig is the relying party of passkeys.
type WebAuthnConfig struct {
	// RPID is the relying party id: the shop's registrable domain, e.g.
	// "shop.example.jp" or "localhost". Empty: WebAuthn is off.
	RPID string `yaml:"rp_id"`
	// Origins are the exact origins the shop's pages run on, e.g.
	// "https://shop.example.jp".
	Origins []string `yaml:"origins"`
	// UserVerification is preferred (default), required or discouraged.
	UserVerification string `yaml:"user_verification"`
}

// EmailCodeConfig tunes emailed one-time codes.
type EmailCodeConfig struct {
	Digits      int           `yaml:"digits"`       // 6 to 8; default 6
	MaxSends    int           `yaml:"max_sends"`    // codes sent per challenge; default 3
	ResendAfter time.Duration `yaml:"resend_after"` // least time between two sends; default 30s
}

// Defaults.
const (
	defaultIssuer      = "atoguard"
	defaultMaxFactors  = 10
	defaultDigits      = 6
	defaultMaxSends    = 3
	defaultResendAfter = 30 * time.Second
	// enrolTTL bounds an unfinished enrolment (WebAuthn registration,
	// email confirmation).
	enrolTTL = 15 * time.Minute
	// maxConfirmAttempts wrong codes end an email confirmation.
	maxConfirmAttempts = 5
	maxIDBytes         = 256
	maxNameBytes       = 64
)

func (c Config) withDefaults() Config {
	if c.Issuer == "" {
		c.Issuer = defaultIssuer
	}
	if c.MaxFactors <= 0 {
		c.MaxFactors = defaultMaxFactors
	}
	if c.EmailCode.Digits == 0 {
		c.EmailCode.Digits = defaultDigits
	}
	if c.EmailCode.MaxSends <= 0 {
		c.EmailCode.MaxSends = defaultMaxSends
	}
	if c.EmailCode.ResendAfter == 0 {
		c.EmailCode.ResendAfter = defaultResendAfter
	}
	if c.WebAuthn.UserVerification == "" {
		c.WebAuthn.UserVerification = "preferred"
	}
	return c
}

// Validate reports every problem of the configuration at once; field
// names are those of the YAML under "stepup".
func (c Config) Validate() error {
	var errs []error
	if utf8.RuneCountInString(c.Issuer) > 64 {
		errs = append(errs, errors.New("stepup.issuer: longer than 64 characters"))
	}
	if c.MaxFactors < 0 {
		errs = append(errs, errors.New("stepup.max_factors: negative"))
	}
	if d := c.EmailCode.Digits; d != 0 && (d < 6 || d > 8) {
		errs = append(errs, fmt.Errorf("stepup.email_code.digits: %d is not within 6-8", d))
	}
	if c.EmailCode.MaxSends < 0 || c.EmailCode.ResendAfter < 0 {
		errs = append(errs, errors.New("stepup.email_code: max_sends and resend_after must not be negative"))
	}
	if err := c.SMTP.Validate("stepup.smtp"); err != nil {
		errs = append(errs, err)
	}
	w := c.WebAuthn
	switch w.UserVerification {
	case "", "preferred", "required", "discouraged":
	default:
		errs = append(errs, fmt.Errorf("stepup.webauthn.user_verification: %q is not preferred, required or discouraged", w.UserVerification))
	}
	if w.RPID != "" || len(w.Origins) > 0 {
		if _, err := newWebAuthn(c.withDefaults()); err != nil {
			errs = append(errs, fmt.Errorf("stepup.webauthn: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Service runs challenges and factor enrolment. It is safe for concurrent
// use. Answers to one challenge, and enrolments of one user, are
// serialized in this process, and across the guard's instances with a
// Locker (UseLocker); the store's conditional updates keep a TOTP step and
// a recovery code single-use across processes too.
type Service struct {
	cfg      Config
	settings engine.ChallengeSettings
	clock    *clock.Clock
	store    Store
	engine   Assessor
	keys     *Keyring
	macKey   []byte
	log      *slog.Logger
	wa       *webauthn.WebAuthn // nil: WebAuthn is off
	mailer   Mailer             // nil: no email codes

	chLocks   [64]sync.Mutex
	userLocks [64]sync.Mutex
	locker    Locker // nil: this process only
}

// Locker serializes work across the guard's instances (package hot).
type Locker interface {
	// Lock takes the named lock, lapsing after ttl if never released, and
	// returns the function that releases it.
	Lock(ctx context.Context, name string, ttl time.Duration) (func(), error)
}

// UseLocker makes answers to a challenge, and enrolments of a user,
// serialized across instances too. Call it before serving.
func (s *Service) UseLocker(l Locker) { s.locker = l }

// lockTTL bounds how long an instance that died holding a lock blocks the
// others.
const lockTTL = 10 * time.Second

// New returns the service. hashKey is the secret for keyed hashes of
// codes (the engine's key); keys seal factor secrets.
func New(cfg Config, clk *clock.Clock, st Store, eng Assessor, keys *Keyring, hashKey []byte, log *slog.Logger) (*Service, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if len(hashKey) < 16 {
		return nil, errors.New("stepup: hash key shorter than 16 bytes")
	}
	if keys == nil {
		return nil, errors.New("stepup: no factor keys")
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.withDefaults()
	m := hmac.New(sha256.New, hashKey)
	m.Write([]byte("atoguard stepup v1"))
	s := &Service{
		cfg: cfg, settings: eng.ChallengeSettings(), clock: clk, store: st, engine: eng, keys: keys,
		macKey: m.Sum(nil), log: log,
	}
	if cfg.WebAuthn.RPID != "" {
		wa, err := newWebAuthn(cfg)
		if err != nil {
			return nil, fmt.Errorf("stepup.webauthn: %w", err)
		}
		s.wa = wa
	}
	return s, nil
}

// UseMailer makes email one-time codes available, sent through m. Call it
// before serving.
func (s *Service) UseMailer(m Mailer) { s.mailer = m }

// mac is the keyed hash of a code, bound to its purpose and owner.
func (s *Service) mac(parts ...string) []byte {
	m := hmac.New(sha256.New, s.macKey)
	for _, p := range parts {
		m.Write([]byte(p))
		m.Write([]byte{0})
	}
	return m.Sum(nil)
}

func stripe(id string) int {
	h := fnv.New32a()
	h.Write([]byte(id))
	return int(h.Sum32() % 64)
}

func (s *Service) lockChallenge(id string) func() {
	return s.lock(&s.chLocks[stripe(id)], "challenge:"+id)
}

func (s *Service) lockUser(id string) func() {
	return s.lock(&s.userLocks[stripe(id)], "user:"+id)
}

// lock takes mu, then the instances' lock name when there is a Locker. A
// Locker out of reach leaves the work serialized in this process only
// (the store's conditional updates still hold across instances); it is
// logged.
func (s *Service) lock(mu *sync.Mutex, name string) func() {
	mu.Lock()
	if s.locker == nil {
		return mu.Unlock
	}
	unlock, err := s.locker.Lock(context.Background(), "stepup:"+name, lockTTL)
	if err != nil {
		s.log.Warn("step-up lock across instances unavailable; serialized in this instance only", "lock", name, "err", err)
		return mu.Unlock
	}
	return func() { unlock(); mu.Unlock() }
}

// checkID validates an identifier taken from the client.
func checkID(field, v string) error {
	switch {
	case v == "":
		return fieldError(field, "is required")
	case len(v) > maxIDBytes:
		return fieldError(field, fmt.Sprintf("is longer than %d bytes", maxIDBytes))
	case !utf8.ValidString(v):
		return fieldError(field, "is not valid UTF-8")
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return fieldError(field, "contains a control character")
	}
	return nil
}

// checkName validates a factor name; empty means def.
func checkName(v, def string) (string, error) {
	v = strings.TrimSpace(v)
	switch {
	case v == "":
		return def, nil
	case !utf8.ValidString(v):
		return "", fieldError("name", "is not valid UTF-8")
	case utf8.RuneCountInString(v) > maxNameBytes:
		return "", fieldError("name", fmt.Sprintf("is longer than %d characters", maxNameBytes))
	case strings.IndexFunc(v, unicode.IsControl) >= 0:
		return "", fieldError("name", "contains a control character")
	}
	return v, nil
}

// Methods returns those of offered that userID can answer now, in order,
// then recovery_code when the user has unused recovery codes: TOTP and
// WebAuthn when a confirmed factor of the kind is enrolled (and WebAuthn
// is configured), email_otp for a confirmed address when email is
// configured. It implements engine.Factors.
func (s *Service) Methods(ctx context.Context, userID string, offered []string) ([]string, error) {
	return s.methods(ctx, userID, offered, time.Time{})
}

// methods is Methods counting only what existed at before (zero: now).
func (s *Service) methods(ctx context.Context, userID string, offered []string, before time.Time) ([]string, error) {
	fs, err := s.store.ListFactors(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("listing factors: %w", err)
	}
	has := map[string]bool{}
	for _, f := range fs {
		if !usable(f, before) {
			continue
		}
		switch f.Type {
		case store.FactorTOTP:
			has[MethodTOTP] = true
		case store.FactorWebAuthn:
			has[MethodWebAuthn] = s.wa != nil && !f.CloneWarning || has[MethodWebAuthn]
		case store.FactorEmail:
			has[MethodEmailOTP] = s.mailer != nil
		}
	}
	codes, err := s.store.ListRecoveryCodes(ctx, userID)
	if err != nil {
		return nil, fmt.Errorf("listing recovery codes: %w", err)
	}
	for _, c := range codes {
		if c.UsedAt.IsZero() && (before.IsZero() || !c.CreatedAt.After(before)) {
			has[MethodRecoveryCode] = true
		}
	}
	out := []string{}
	for _, m := range offered {
		if has[m] && !slices.Contains(out, m) {
			out = append(out, m)
		}
	}
	if has[MethodRecoveryCode] && !slices.Contains(out, MethodRecoveryCode) {
		out = append(out, MethodRecoveryCode)
	}
	return out, nil
}

// usable reports whether f may answer a challenge made at before (zero:
// any time): confirmed, and enrolled no later than the challenge, so that
// whoever holds only the password cannot enrol a factor of their own and
// answer with it.
func usable(f store.Factor, before time.Time) bool {
	return f.Confirmed && (before.IsZero() || !f.CreatedAt.After(before))
}

// ChallengeRequest is a step-up a shop asks for on its own, e.g. before a
// change of email address. The context fields are optional: when given,
// passing the challenge makes that device and network familiar.
type ChallengeRequest struct {
	UserID    string
	SessionID string
	Purpose   string
	IP        string
	DeviceID  string
	UserAgent string
}

// CreateChallenge makes a challenge for req, offering the methods the user
// can answer.
func (s *Service) CreateChallenge(ctx context.Context, req ChallengeRequest) (store.Challenge, error) {
	return s.createChallenge(ctx, req, s.clock.Now())
}

func (s *Service) createChallenge(ctx context.Context, req ChallengeRequest, now time.Time) (store.Challenge, error) {
	if err := checkID("user_id", req.UserID); err != nil {
		return store.Challenge{}, err
	}
	for _, f := range []struct{ name, v string }{{"session_id", req.SessionID}, {"purpose", req.Purpose}, {"context.device_id", req.DeviceID}} {
		if f.v != "" {
			if err := checkID(f.name, f.v); err != nil {
				return store.Challenge{}, err
			}
		}
	}
	if req.IP != "" {
		ip, err := netip.ParseAddr(req.IP)
		if err != nil {
			return store.Challenge{}, fieldError("context.ip", "is not an IP address")
		}
		req.IP = ip.Unmap().String()
	}
	if len(req.UserAgent) > 1024 || !utf8.ValidString(req.UserAgent) {
		return store.Challenge{}, fieldError("context.user_agent", "is longer than 1024 bytes or not UTF-8")
	}
	if req.Purpose == "" {
		req.Purpose = "step_up"
	}
	methods, err := s.Methods(ctx, req.UserID, s.settings.Methods)
	if err != nil {
		return store.Challenge{}, err
	}
	ch := store.Challenge{
		ID: ids.New("ch", now), UserID: req.UserID, SessionID: req.SessionID, Purpose: req.Purpose,
		Methods: methods, State: store.ChallengePending, CreatedAt: now, ExpiresAt: now.Add(s.settings.TTL),
		IP: req.IP, DeviceID: req.DeviceID, UserAgent: req.UserAgent,
	}
	if err := s.store.Write(ctx, store.Batch{Challenges: []store.Challenge{ch}}); err != nil {
		return store.Challenge{}, fmt.Errorf("recording challenge: %w", err)
	}
	return ch, nil
}

// Status is a challenge as a shop may see it.
type Status struct {
	Challenge    store.Challenge
	State        string // pending, passed, locked, expired
	AttemptsLeft int
}

// Challenge returns the state of challenge id.
func (s *Service) Challenge(ctx context.Context, id string) (Status, error) {
	ch, err := s.load(ctx, id)
	if err != nil {
		return Status{}, err
	}
	st := Status{Challenge: ch, State: ch.State, AttemptsLeft: s.attemptsLeft(ch)}
	if st.State == store.ChallengePending && !s.clock.Now().Before(ch.ExpiresAt) {
		st.State = store.ChallengeExpired
	}
	return st, nil
}

func (s *Service) load(ctx context.Context, id string) (store.Challenge, error) {
	if err := checkID("id", id); err != nil {
		return store.Challenge{}, fmt.Errorf("challenge: %w", ErrNotFound)
	}
	ch, err := s.store.GetChallenge(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Challenge{}, fmt.Errorf("no challenge %q: %w", id, ErrNotFound)
	}
	if err != nil {
		return store.Challenge{}, fmt.Errorf("loading challenge: %w", err)
	}
	return ch, nil
}

// open returns challenge id if it can be answered at now; held under the
// challenge's lock. A pending challenge past its expiry is marked expired.
func (s *Service) open(ctx context.Context, id string, now time.Time) (store.Challenge, error) {
	ch, err := s.load(ctx, id)
	if err != nil {
		return store.Challenge{}, err
	}
	switch ch.State {
	case store.ChallengePassed, store.ChallengeFailed:
		return store.Challenge{}, fmt.Errorf("challenge %q was already answered: %w", id, ErrUsed)
	case store.ChallengeLocked:
		return store.Challenge{}, fmt.Errorf("challenge %q: %w", id, ErrLocked)
	case store.ChallengeExpired:
		return store.Challenge{}, fmt.Errorf("challenge %q: %w", id, ErrExpired)
	}
	if !now.Before(ch.ExpiresAt) {
		ch.State = store.ChallengeExpired
		if err := s.store.Write(ctx, store.Batch{Challenges: []store.Challenge{ch}}); err != nil {
			return store.Challenge{}, fmt.Errorf("expiring challenge: %w", err)
		}
		return store.Challenge{}, fmt.Errorf("challenge %q expired at %s: %w", id, ch.ExpiresAt.Format(time.RFC3339), ErrExpired)
	}
	return ch, nil
}

func (s *Service) attemptsLeft(ch store.Challenge) int {
	if ch.State == store.ChallengeLocked || ch.State == store.ChallengeExpired {
		return 0
	}
	return max(0, s.settings.MaxAttempts-ch.Attempts)
}

func offers(ch store.Challenge, method string) error {
	if !slices.Contains(ch.Methods, method) {
		return fieldError("method", fmt.Sprintf("%q is not offered by this challenge (offered: %s)", method, strings.Join(ch.Methods, ", ")))
	}
	return nil
}

// Answer is the answer to a challenge. It never prints its code or
// assertion.
type Answer struct {
	Method    string
	Code      string // totp, email_otp, recovery_code
	Assertion []byte // webauthn: the PublicKeyCredential from navigator.credentials.get, as JSON
}

// LogValue implements slog.LogValuer: the method only.
func (a Answer) LogValue() slog.Value { return slog.GroupValue(slog.String("method", a.Method)) }

// String implements fmt.Stringer: the method only.
func (a Answer) String() string { return "Answer{" + a.Method + "}" }

// Outcome is the result of an answer.
type Outcome struct {
	Status       string // passed, failed, expired, locked
	AttemptsLeft int
	EventID      string // the audit record of the answer; empty when none was made
}

// Decision is what the answer means for the session: allow only when the
// challenge was passed.
func (o Outcome) Decision() string {
	if o.Status == StatusPassed {
		return "allow"
	}
	return "deny"
}

// Verify checks an answer to challenge id. A malformed answer is a
// *FieldError and costs no attempt; a wrong one is recorded as mfa.failed
// and locks the challenge after the engine's maximum of wrong answers; a
// right one is recorded as mfa.succeeded and passes it, once.
func (s *Service) Verify(ctx context.Context, id string, a Answer) (Outcome, error) {
	unlock := s.lockChallenge(id)
	defer unlock()
	return s.verify(ctx, id, a, s.clock.Now())
}

func (s *Service) verify(ctx context.Context, id string, a Answer, now time.Time) (Outcome, error) {
	ch, err := s.open(ctx, id, now)
	if errors.Is(err, ErrExpired) {
		return Outcome{Status: StatusExpired}, nil
	}
	if err != nil {
		return Outcome{}, err
	}
	if err := offers(ch, a.Method); err != nil {
		return Outcome{}, err
	}
	var ok bool
	switch a.Method {
	case MethodTOTP:
		ok, err = s.checkTOTP(ctx, ch, a.Code, now)
	case MethodEmailOTP:
		ok, err = s.checkEmailCode(ctx, ch, a.Code, now)
	case MethodRecoveryCode:
		ok, err = s.checkRecoveryCode(ctx, ch, a.Code, now)
	case MethodWebAuthn:
		ok, err = s.checkAssertion(ctx, ch, a.Assertion, now)
	default:
		err = fieldError("method", fmt.Sprintf("%q is not a method", a.Method))
	}
	if err != nil {
		return Outcome{}, err
	}
	return s.record(ctx, ch, a.Method, ok, now)
}

// record feeds an answer to the engine as an mfa.* event in the context of
// the challenged request; the engine passes the challenge or counts the
// wrong answer, in the same durable write as the audit record.
func (s *Service) record(ctx context.Context, ch store.Challenge, method string, ok bool, now time.Time) (Outcome, error) {
	ev := event.Event{
		Type: event.MFAFailed, OccurredAt: now, RequestID: "stepup-" + ch.ID,
		User: event.User{ID: ch.UserID}, SessionID: ch.SessionID,
		Context:    event.Context{UserAgent: ch.UserAgent, DeviceID: ch.DeviceID},
		Properties: event.Properties{ChallengeID: ch.ID, Method: method},
	}
	if ok {
		ev.Type = event.MFASucceeded
	}
	if ip, err := netip.ParseAddr(ch.IP); err == nil {
		ev.Context.IP = ip
	}
	res, err := s.engine.Assess(ctx, ev)
	if err != nil {
		return Outcome{}, fmt.Errorf("recording the answer: %w", err)
	}
	after, err := s.load(ctx, ch.ID)
	if err != nil {
		return Outcome{}, err
	}
	out := Outcome{AttemptsLeft: s.attemptsLeft(after), EventID: res.EventID}
	switch {
	case after.State == store.ChallengePassed && ok:
		out.Status = StatusPassed
	case after.State == store.ChallengeLocked:
		out.Status = StatusLocked
	case after.State == store.ChallengeExpired || !now.Before(after.ExpiresAt):
		out.Status = StatusExpired
	default:
		out.Status = StatusFailed
	}
	if ok && out.Status != StatusPassed {
		// A right answer the engine did not take (the challenge moved on
		// meanwhile, e.g. a shop's own mfa event): say what state it is in.
		s.log.Warn("step-up answer not applied", "challenge", ch.ID, "state", after.State)
	}
	return out, nil
}
