package client

import (
	"context"
	"errors"
	"net"
	"net/http"
	"time"
)

// LoginOptions configures GuardLogin. Every field may be left zero.
type LoginOptions struct {
	// Credentials returns the login name and password a request submits
	// (default: the form fields "login" and "password"). An empty login
	// means the request is no login attempt: it is passed on unreported.
	// A function that reads a JSON body must leave r.Body readable again.
	Credentials func(r *http.Request) (login, password string)
	// ClientIP returns the client's address (default: the connection's
	// peer). Behind a reverse proxy, read the forwarding header that proxy
	// sets, and only that one.
	ClientIP func(r *http.Request) string
	// DeviceID returns the browser's first-party device id, if the shop
	// keeps one (a long-lived cookie): it makes familiar devices count.
	DeviceID func(r *http.Request) string
	// Denied answers a login the guard denies before the handler runs
	// (default: 429 Too Many Requests, plain text).
	Denied http.Handler
}

// ErrNotGuarded is returned by ReportLoginSuccess and ReportLoginFailure
// for a request that did not pass through GuardLogin.
var ErrNotGuarded = errors.New("request did not pass through GuardLogin")

// login is what GuardLogin keeps of a login request for its handler.
type login struct {
	c          *Client
	name, sha1 string
	ctx        Context
}

type loginKey struct{}

// GuardLogin wraps a shop's login handler (the one that checks the
// password). Before the handler runs it reports a login.attempt with the
// login name, the password's SHA-1 (the password itself is neither sent
// nor kept) and the request's context, and answers a denied attempt with
// opts.Denied without running the handler. The handler then reports the
// outcome with ReportLoginSuccess, and acts on the decision it returns
// before it starts a session, or with ReportLoginFailure.
//
// When the guard gives no decision, the client's FailMode applies (see
// Client.Assess): an attempt goes on to the handler either way.
func (c *Client) GuardLogin(next http.Handler, opts LoginOptions) http.Handler {
	if opts.Credentials == nil {
		opts.Credentials = formCredentials
	}
	if opts.ClientIP == nil {
		opts.ClientIP = peerIP
	}
	if opts.DeviceID == nil {
		opts.DeviceID = func(*http.Request) string { return "" }
	}
	if opts.Denied == nil {
		opts.Denied = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			http.Error(w, "Too many login attempts; try again later.", http.StatusTooManyRequests)
		})
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		name, password := opts.Credentials(r)
		if name == "" {
			next.ServeHTTP(w, r)
			return
		}
		l := &login{c: c, name: name, sha1: PasswordSHA1(password), ctx: Context{
			IP: opts.ClientIP(r), UserAgent: r.UserAgent(),
			AcceptLanguage: r.Header.Get("Accept-Language"), DeviceID: opts.DeviceID(r),
		}}
		res, _ := c.Assess(r.Context(), l.event(LoginAttempt, nil, "", nil))
		if res.Decision == Deny {
			opts.Denied.ServeHTTP(w, r)
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), loginKey{}, l)))
	})
}

func (l *login) event(typ string, user *User, sessionID string, props *Properties) Event {
	return Event{Type: typ, OccurredAt: time.Now(), Login: l.name, User: user, SessionID: sessionID,
		Context: l.ctx, Credential: &Credential{PasswordSHA1: l.sha1}, Properties: props}
}

// ReportLoginSuccess reports, from inside a handler GuardLogin wraps, that
// the password of user userID was right, and returns the guard's
// decision: start the session on Allow; run the step-up of
// Result.Challenge on Challenge; refuse on Deny. sessionID is the session
// the login would start (may be empty). The error is Client.Assess's: the
// Result is then the fail mode's and still to be acted on.
func ReportLoginSuccess(r *http.Request, userID, sessionID string) (Result, error) {
	l, ok := r.Context().Value(loginKey{}).(*login)
	if !ok {
		return Result{}, ErrNotGuarded
	}
	return l.c.Assess(r.Context(), l.event(LoginSucceeded, &User{ID: userID}, sessionID, nil))
}

// ReportLoginFailure reports, from inside a handler GuardLogin wraps, a
// failed login: reason is ReasonBadPassword, ReasonUnknownAccount or
// ReasonLocked; userID is the account's id, empty when none exists.
func ReportLoginFailure(r *http.Request, reason, userID string) error {
	l, ok := r.Context().Value(loginKey{}).(*login)
	if !ok {
		return ErrNotGuarded
	}
	var user *User
	if userID != "" {
		user = &User{ID: userID}
	}
	_, err := l.c.Assess(r.Context(), l.event(LoginFailed, user, "", &Properties{Reason: reason}))
	return err
}

func formCredentials(r *http.Request) (string, string) {
	if r.Method != http.MethodPost {
		return "", ""
	}
	return r.PostFormValue("login"), r.PostFormValue("password")
}

func peerIP(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return r.RemoteAddr
	}
	return host
}
