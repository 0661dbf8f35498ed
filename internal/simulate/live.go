package simulate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/cookiejar"
	"net/netip"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pquerna/otp"
	"github.com/pquerna/otp/totp"

	"github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/demoshop"
	"github.com/atoguard/atoguard/internal/traffic"
)

// Stack is a running shop, with or without a guard behind it, that live
// mode drives over HTTP.
type Stack struct {
	// ShopURL is the shop's base URL (loopback). The shop must trust
	// X-Forwarded-For from 127.0.0.1: that is how live mode plays
	// thousands of source addresses.
	ShopURL string
	// Guard is the guard behind the shop, nil when it has none. Live mode
	// sends it the warm-up history directly and reads its incidents; its
	// key needs the events and admin scopes.
	Guard *client.Client
	// SetTime moves the shop's clock; the guard runs on event time, which
	// the shop's occurred_at carries.
	SetTime func(time.Time)
	// Sweep runs the shop's step-up sweep: abandoned step-ups become
	// mfa.failed. Nil when the shop sweeps by itself (a running demo).
	Sweep func(ctx context.Context) error
	// OwnersEnrolTOTP: the shop verifies step-ups through the guard (its
	// key also has the challenges and factors scopes). After the warm-up,
	// every owner who logs in during the evaluated span enrols a TOTP
	// factor through the guard's factor API, and owners answer the
	// step-ups they are asked for on the shop's step-up page.
	OwnersEnrolTOTP bool
	// WarmupThroughShop plays the warm-up history through the shop's
	// pages instead of sending it to the guard's API: each owner's device
	// logs in once (see shopWarmup). For a guard whose key is not at hand.
	WarmupThroughShop bool
	// Stop shuts the stack down.
	Stop func() error
}

// StackFactory starts a fresh stack whose shop has accounts.
type StackFactory func(ctx context.Context, accounts []demoshop.SeedAccount, guardOn bool) (*Stack, error)

const (
	chunkSpan   = 5 * time.Second // live mode runs the events of this much time at once
	chunkEvents = 32
	sweepEvery  = 30 * time.Second
)

// liveRun drives one stack through the evaluated span of the stream.
type liveRun struct {
	st        *Stack
	base      string
	key       []byte
	passwords map[string]string
	transport http.RoundTripper
	workers   int

	mu       sync.Mutex        // guards the maps, now, sc, p and r
	now      time.Time         // the simulated time of the chunk being played
	totp     map[string]string // user id -> TOTP secret (base32), OwnersEnrolTOTP
	devices  map[string]*browser
	sessions map[string]*browser // generator session id -> the owner's logged-in browser
	sc       *scorer
	p        *planner
	r        *rand.Rand
}

// runLive sends the warm-up history to the guard directly (its devices
// become the owners' device cookies), then plays the evaluated span
// through the shop's pages, chunk by chunk on the shop's clock.
func runLive(ctx context.Context, items []item, st *Stack, accounts []demoshop.SeedAccount, key []byte, workers int, seed int64,
	p *planner, sc *scorer, progress func(int)) error {
	lr := &liveRun{
		st: st, base: strings.TrimRight(st.ShopURL, "/"), key: key, workers: max(1, workers),
		passwords: make(map[string]string, len(accounts)),
		devices:   map[string]*browser{}, sessions: map[string]*browser{}, totp: map[string]string{},
		sc: sc, p: p, r: rand.New(rand.NewPCG(uint64(seed), 0x6c697665)),
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4 * lr.workers
	tr.Proxy = nil
	lr.transport = tr
	defer tr.CloseIdleConnections()
	for _, a := range accounts {
		lr.passwords[a.ID] = a.Password
	}

	i, err := lr.warmup(ctx, items, progress)
	if err != nil {
		return err
	}
	if st.OwnersEnrolTOTP && st.Guard != nil && i > 0 {
		if err := lr.enrolOwners(ctx, items[i:], items[i-1].ev.OccurredAt); err != nil {
			return err
		}
	}
	var lastSweep time.Time
	for i < len(items) || len(p.q) > 0 {
		if err := ctx.Err(); err != nil {
			return err
		}
		start, ok := p.peek()
		if i < len(items) && (!ok || !items[i].ev.OccurredAt.After(start)) {
			start = items[i].ev.OccurredAt
		}
		end := start.Add(chunkSpan)
		var chunk []pending
		consumed := 0
		for len(chunk) < chunkEvents {
			fuAt, fuOK := p.peek()
			genOK := i < len(items) && items[i].ev.OccurredAt.Before(end)
			fuOK = fuOK && fuAt.Before(end)
			if genOK && (!fuOK || !fuAt.Before(items[i].ev.OccurredAt)) {
				chunk = append(chunk, pending{it: &items[i]})
				i++
				consumed++
			} else if fuOK {
				fu := p.pop()
				chunk = append(chunk, pending{fu: &fu})
			} else {
				break
			}
		}
		st.SetTime(start)
		lr.mu.Lock()
		lr.now = start
		lr.mu.Unlock()
		if err := lr.runChunk(ctx, chunk); err != nil {
			return err
		}
		if st.Sweep != nil && start.Sub(lastSweep) >= sweepEvery {
			lastSweep = start
			if err := st.Sweep(ctx); err != nil {
				return fmt.Errorf("sweeping step-ups: %w", err)
			}
		}
		if progress != nil {
			progress(consumed)
		}
	}
	return nil
}

// warmup sends the warm-up events to the guard (when there is one) and
// returns the index of the first evaluated event.
func (lr *liveRun) warmup(ctx context.Context, items []item, progress func(int)) (int, error) {
	n := 0
	for n < len(items) && items[n].label.Phase == traffic.PhaseWarmup {
		n++
	}
	if lr.st.WarmupThroughShop {
		return n, lr.shopWarmup(ctx, items[:n], progress)
	}
	if lr.st.Guard == nil || n == 0 {
		if progress != nil {
			progress(n)
		}
		return n, nil
	}
	for lo := 0; lo < n; lo += maxBatch {
		hi := min(lo+maxBatch, n)
		raws := make([]json.RawMessage, 0, hi-lo)
		for k := lo; k < hi; k++ {
			ev := items[k].ev
			// The owner's password as the shop will see it in the evaluated span.
			if ev.Credential != nil && ev.User != nil && ev.Type == client.LoginSucceeded {
				ev.Credential = &client.Credential{PasswordSHA1: client.PasswordSHA1(lr.passwords[ev.User.ID])}
			}
			raw, err := json.Marshal(&ev)
			if err != nil {
				return 0, fmt.Errorf("encoding warm-up event: %w", err)
			}
			raws = append(raws, raw)
		}
		lr.st.SetTime(items[hi-1].ev.OccurredAt)
		if _, err := lr.st.Guard.AssessRaw(ctx, raws); err != nil {
			return 0, fmt.Errorf("sending the warm-up history: %w", err)
		}
		lr.sc.s.Events += hi - lo
		if progress != nil {
			progress(hi - lo)
		}
	}
	return n, nil
}

// totpOpts are the guard's TOTP parameters (RFC 6238, what authenticator
// apps use).
var totpOpts = totp.ValidateOpts{Period: 30, Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1}

// enrolOwners enrols a TOTP factor for every owner who logs in during
// evals, through the guard's factor API, as the shop's Security page
// does; at is the guard's (event) clock. The guard offers a step-up only
// the factors that existed before it, so they are enrolled up front.
func (lr *liveRun) enrolOwners(ctx context.Context, evals []item, at time.Time) error {
	var ids []string
	emails := map[string]string{}
	for _, it := range evals {
		if u := it.ev.User; u != nil && it.label.Actor == traffic.ActorOwner && it.ev.Type == client.LoginSucceeded && emails[u.ID] == "" {
			emails[u.ID] = u.Email
			ids = append(ids, u.ID)
		}
	}
	g := lr.st.Guard
	jobs := make(chan string)
	errs := make(chan error, lr.workers)
	var wg sync.WaitGroup
	for range lr.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for id := range jobs {
				en, err := g.EnrolTOTP(ctx, id, "phone", emails[id])
				if err == nil {
					var code string
					if code, err = totp.GenerateCodeCustom(en.Secret, at, totpOpts); err == nil {
						err = g.ConfirmTOTP(ctx, id, en.FactorID, code)
					}
				}
				if err != nil {
					errs <- fmt.Errorf("enrolling the TOTP factor of %s: %w", id, err)
					return
				}
				lr.mu.Lock()
				lr.totp[id] = en.Secret
				lr.mu.Unlock()
			}
		}()
	}
	var err error
feed:
	for _, id := range ids {
		select {
		case jobs <- id:
		case err = <-errs:
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if err == nil && len(errs) > 0 {
		err = <-errs
	}
	return err
}

// shopWarmup teaches the guard the owners' usual contexts through the
// shop's login page, as fast as the shop answers: of the warm-up's
// successful logins, each owner's first, then one for every other device
// or network that is familiar by then (a device on the home network, the
// home network from a new device). A context new on both counts would be
// a success from an unfamiliar context to the guard's campaign detector,
// and a burst of those looks like an attack, so it is left out: the guard
// meets it in the evaluated span like any new device.
func (lr *liveRun) shopWarmup(ctx context.Context, warm []item, progress func(int)) error {
	type seen struct{ devices, networks map[string]bool }
	owners := map[string]*seen{}
	var play []pending
	for k := range warm {
		ev := &warm[k].ev
		if ev.Type != client.LoginSucceeded || ev.User == nil || warm[k].label.Actor != traffic.ActorOwner {
			continue
		}
		dev, nw := ev.Context.DeviceID, networkOf(ev.Context.IP)
		o := owners[ev.User.ID]
		switch {
		case o == nil:
			o = &seen{devices: map[string]bool{}, networks: map[string]bool{}}
			owners[ev.User.ID] = o
		case o.devices[dev] && o.networks[nw]:
			continue // nothing new
		case !o.devices[dev] && !o.networks[nw]:
			continue // unfamiliar on both counts
		}
		o.devices[dev], o.networks[nw] = true, true
		play = append(play, pending{it: &warm[k]})
	}
	// One owner's logins in order, different owners at once.
	for lo := 0; lo < len(play); lo += 4 * chunkEvents {
		if err := lr.runChunk(ctx, play[lo:min(lo+4*chunkEvents, len(play))]); err != nil {
			return fmt.Errorf("warm-up through the shop: %w", err)
		}
	}
	if progress != nil {
		progress(len(warm))
	}
	return nil
}

// networkOf is the network the guard's familiarity knows an address by:
// its /24 (IPv4) or /64 (IPv6).
func networkOf(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ip
	}
	bits := 64
	if a.Unmap().Is4() {
		a, bits = a.Unmap(), 24
	}
	p, _ := a.Prefix(bits)
	return p.String()
}

// runChunk runs the events of a chunk: those of one browser in order,
// different browsers at once.
func (lr *liveRun) runChunk(ctx context.Context, chunk []pending) error {
	groups := map[*browser][]*pending{}
	var order []*browser
	for k := range chunk {
		b := lr.browserFor(&chunk[k])
		if _, ok := groups[b]; !ok {
			order = append(order, b)
		}
		groups[b] = append(groups[b], &chunk[k])
	}
	sem := make(chan struct{}, lr.workers)
	var wg sync.WaitGroup
	var errMu sync.Mutex
	var firstErr error
	for _, b := range order {
		sem <- struct{}{}
		wg.Add(1)
		go func(b *browser, evs []*pending) {
			defer func() { <-sem; wg.Done() }()
			for _, pe := range evs {
				if err := lr.play(ctx, b, pe); err != nil {
					errMu.Lock()
					if firstErr == nil {
						firstErr = err
					}
					errMu.Unlock()
					return
				}
			}
		}(b, groups[b])
	}
	wg.Wait()
	return firstErr
}

// browserFor returns the browser an event comes from: an owner's device
// (its cookie jar holds the device id the guard learned), the attacker's
// browser of a takeover, or a fresh one for every attack attempt.
func (lr *liveRun) browserFor(pe *pending) *browser {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if pe.fu != nil {
		return pe.fu.br
	}
	ev := &pe.it.ev
	if pe.it.label.Actor == traffic.ActorAttacker {
		return lr.newBrowser(ev.Context, "")
	}
	if ev.Type == client.OrderAttempt {
		if b := lr.sessions[ev.SessionID]; b != nil {
			return b
		}
		return lr.newBrowser(ev.Context, "") // the login was stopped: nothing to order with
	}
	b := lr.devices[ev.Context.DeviceID]
	if b == nil {
		b = lr.newBrowser(ev.Context, ev.Context.DeviceID)
		if ev.Context.DeviceID != "" {
			lr.devices[ev.Context.DeviceID] = b
		}
	}
	return b
}

func (lr *liveRun) newBrowser(c client.Context, deviceID string) *browser {
	jar, _ := cookiejar.New(nil)
	if deviceID != "" {
		u, _ := url.Parse(lr.base)
		jar.SetCookies(u, []*http.Cookie{{Name: "shop_device", Value: deviceID, Path: "/"}})
	}
	return &browser{
		base: lr.base, ctx: c,
		c: &http.Client{Jar: jar, Transport: lr.transport, Timeout: 30 * time.Second,
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }},
	}
}

// play runs one event through the shop's pages and scores what it showed.
func (lr *liveRun) play(ctx context.Context, b *browser, pe *pending) error {
	if fu := pe.fu; fu != nil {
		switch fu.kind {
		case fuEmail:
			lr.mu.Lock()
			email := fmt.Sprintf("drop%06d@example.net", lr.r.IntN(1000000))
			lr.mu.Unlock()
			out, err := b.changeEmail(ctx, email)
			if err != nil {
				return err
			}
			lr.mu.Lock()
			lr.sc.emailChange(fu.ev.User.ID, out)
			lr.mu.Unlock()
		case fuOrder:
			lr.mu.Lock()
			store := demoshop.PickupStores[lr.r.IntN(len(demoshop.PickupStores))]
			lr.mu.Unlock()
			out, err := b.order(ctx, []client.Item{{SKU: fraudSKU, Quantity: 1}}, demoshop.DeliveryKonbini, store.ID, fraudPayment)
			if err != nil {
				return err
			}
			prod, _ := demoshop.ProductBySKU(fraudSKU)
			lr.mu.Lock()
			lr.sc.fraudOrder(out, prod.Price)
			lr.mu.Unlock()
		}
		return nil
	}
	ev, l := &pe.it.ev, pe.it.label
	switch ev.Type {
	case client.OrderAttempt:
		if l.Actor != traffic.ActorOwner {
			return nil
		}
		out := outSkipped
		lr.mu.Lock()
		logged := lr.sessions[ev.SessionID] == b
		lr.mu.Unlock()
		if logged && ev.Properties != nil && ev.Properties.Order != nil {
			var err error
			out, err = b.order(ctx, ev.Properties.Order.Items, demoshop.DeliveryHome, "", shopPayment(ev.Properties.Order))
			if err != nil {
				return err
			}
		}
		lr.mu.Lock()
		lr.sc.ownerOrder(l, out)
		lr.mu.Unlock()
	case client.LoginSucceeded, client.LoginFailed:
		out, err := b.login(ctx, ev.Login, lr.password(ev, l))
		if err != nil {
			return err
		}
		passed := false
		if out == outChallenge && l.Actor == traffic.ActorOwner && ev.User != nil {
			// The owner answers the step-up with the authenticator app.
			lr.mu.Lock()
			secret, now := lr.totp[ev.User.ID], lr.now
			lr.mu.Unlock()
			if secret != "" {
				code, err := totp.GenerateCodeCustom(secret, now, totpOpts)
				if err != nil {
					return fmt.Errorf("TOTP code: %w", err)
				}
				if passed, err = b.answerStepUp(ctx, client.MethodTOTP, code); err != nil {
					return err
				}
			}
		}
		lr.mu.Lock()
		defer lr.mu.Unlock()
		lr.sc.login(ev, l, out) // a step-up passed is still a challenge: friction
		if passed {
			lr.sc.stepUpPassed(l)
		}
		if ev.Type != client.LoginSucceeded || (out != outAllow && out != outReview && !passed) {
			return nil
		}
		if l.Actor == traffic.ActorAttacker {
			lr.p.takeover(*ev, l, b)
		} else {
			lr.sessions[ev.SessionID] = b
		}
	}
	return nil
}

// password returns the password the event's user typed.
func (lr *liveRun) password(ev *client.Event, l traffic.Label) string {
	lr.mu.Lock()
	defer lr.mu.Unlock()
	if ev.Credential != nil {
		if p, ok := commonBySHA1[ev.Credential.PasswordSHA1]; ok && l.Actor == traffic.ActorAttacker {
			return p // a spray tries a common password, right or wrong
		}
	}
	switch {
	case ev.Type == client.LoginSucceeded && ev.User != nil:
		return lr.passwords[ev.User.ID]
	case l.Actor == traffic.ActorAttacker:
		return wrongPassword(lr.key, ev.Login)
	default: // an owner's typo
		return fmt.Sprintf("typo-%08x", lr.r.Uint32())
	}
}

// shopPayment maps a generated payment method to one the shop offers.
func shopPayment(o *client.Order) string {
	if o.Payment != nil {
		switch o.Payment.Method {
		case demoshop.PayCard, demoshop.PayCarrier, demoshop.PayKonbini:
			return o.Payment.Method
		}
	}
	return demoshop.PayCard
}

// browser is one client of the shop: a cookie jar and the context (IP,
// user agent, languages, client hints) it presents.
type browser struct {
	base string
	ctx  client.Context
	c    *http.Client
}

var (
	csrfRE       = regexp.MustCompile(`name="csrf_token" value="([^"]+)"`)
	dataStatusRE = regexp.MustCompile(`data-status="([^"]+)"`)
	inputRE      = regexp.MustCompile(`<input type="[a-z]+" name="([a-z_0-9]+)" value="([^"]*)"`)
	checkedRE    = regexp.MustCompile(`<input type="checkbox" name="([a-z_]+)" checked>`)
)

type response struct {
	status   int
	location string
	body     string
}

func (r response) csrf() string {
	if m := csrfRE.FindStringSubmatch(r.body); m != nil {
		return html.UnescapeString(m[1])
	}
	return ""
}

func (r response) dataStatus() string {
	if m := dataStatusRE.FindStringSubmatch(r.body); m != nil {
		return m[1]
	}
	return ""
}

func (b *browser) do(ctx context.Context, method, path string, form url.Values) (response, error) {
	var body io.Reader
	if form != nil {
		body = strings.NewReader(form.Encode())
	}
	req, err := http.NewRequestWithContext(ctx, method, b.base+path, body)
	if err != nil {
		return response{}, err
	}
	h := req.Header
	if b.ctx.UserAgent != "" {
		h.Set("User-Agent", b.ctx.UserAgent)
	} else {
		h.Set("User-Agent", "")
	}
	if b.ctx.AcceptLanguage != "" {
		h.Set("Accept-Language", b.ctx.AcceptLanguage)
	}
	for k, v := range b.ctx.Headers {
		h.Set(k, v)
	}
	h.Set("X-Forwarded-For", b.ctx.IP)
	if form != nil {
		h.Set("Content-Type", "application/x-www-form-urlencoded")
	}
	resp, err := b.c.Do(req)
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return response{}, fmt.Errorf("%s %s: %w", method, path, err)
	}
	if resp.StatusCode >= 500 {
		return response{}, fmt.Errorf("%s %s: shop answered %d", method, path, resp.StatusCode)
	}
	return response{status: resp.StatusCode, location: resp.Header.Get("Location"), body: string(data)}, nil
}

var (
	errCSRF   = errors.New("the shop rejected the form's CSRF token")
	errNoForm = errors.New("no form on the page")
)

// submit loads a page for its form token, then posts the form.
func (b *browser) submit(ctx context.Context, page, action string, form url.Values) (response, error) {
	p, err := b.do(ctx, http.MethodGet, page, nil)
	if err != nil {
		return response{}, err
	}
	tok := p.csrf()
	if tok == "" {
		return p, fmt.Errorf("%s (status %d): %w", page, p.status, errNoForm)
	}
	form.Set("csrf_token", tok)
	r, err := b.do(ctx, http.MethodPost, action, form)
	if err == nil && r.status == http.StatusForbidden && r.dataStatus() == "csrf-rejected" {
		return r, fmt.Errorf("%s: %w", action, errCSRF)
	}
	return r, err
}

// login submits the login form and reads the outcome.
func (b *browser) login(ctx context.Context, login, password string) (string, error) {
	r, err := b.submit(ctx, "/login", "/login", url.Values{"login": {login}, "password": {password}, "next": {"/account"}})
	if err != nil {
		return "", err
	}
	switch {
	case r.status == http.StatusSeeOther && r.location == "/stepup":
		return outChallenge, nil
	case r.status == http.StatusSeeOther:
		return outAllow, nil
	case r.dataStatus() == "login-failed":
		return outFailed, nil
	}
	return "", fmt.Errorf("login: unexpected answer %d %q", r.status, r.dataStatus())
}

// answerStepUp answers the pending step-up of the login with method
// and code, and reports whether the shop let the login through.
func (b *browser) answerStepUp(ctx context.Context, method, code string) (bool, error) {
	r, err := b.submit(ctx, "/stepup", "/stepup/verify", url.Values{"method": {method}, "code": {code}})
	if errors.Is(err, errNoForm) {
		return false, nil // expired or closed meanwhile
	}
	if err != nil {
		return false, err
	}
	return r.status == http.StatusSeeOther && !strings.HasPrefix(r.location, "/stepup") && !strings.HasPrefix(r.location, "/login"), nil
}

// changeEmail submits the account form with a new email and every other
// field as it was.
func (b *browser) changeEmail(ctx context.Context, email string) (string, error) {
	p, err := b.do(ctx, http.MethodGet, "/account", nil)
	if err != nil {
		return "", err
	}
	if p.status != http.StatusOK {
		return outSkipped, nil // logged out meanwhile
	}
	form := url.Values{}
	for _, m := range inputRE.FindAllStringSubmatch(p.body, -1) {
		if m[1] != "csrf_token" {
			form.Set(m[1], html.UnescapeString(m[2]))
		}
	}
	for _, m := range checkedRE.FindAllStringSubmatch(p.body, -1) {
		form.Set(m[1], "on")
	}
	form.Set("email", email)
	form.Set("csrf_token", p.csrf())
	r, err := b.do(ctx, http.MethodPost, "/account", form)
	if err != nil {
		return "", err
	}
	switch r.dataStatus() {
	case "profile-updated":
		return outAllow, nil
	case "profile-refused":
		return outDeny, nil
	case "profile-needs-step-up":
		return outChallenge, nil
	}
	return "", fmt.Errorf("account update: unexpected answer %d %q", r.status, r.dataStatus())
}

// order puts items in the cart and checks out.
func (b *browser) order(ctx context.Context, items []client.Item, delivery, store, payment string) (string, error) {
	for _, it := range items {
		if _, ok := demoshop.ProductBySKU(it.SKU); !ok {
			continue
		}
		r, err := b.submit(ctx, "/", "/cart/add", url.Values{"sku": {it.SKU}, "quantity": {strconv.FormatInt(max(it.Quantity, 1), 10)}})
		if errors.Is(err, errNoForm) {
			return outSkipped, nil // not logged in: the catalog has no cart form
		}
		if err != nil {
			return "", err
		}
		if r.status != http.StatusSeeOther || r.location != "/cart" {
			return outSkipped, nil // not logged in (any more)
		}
	}
	r, err := b.submit(ctx, "/checkout", "/checkout", url.Values{"delivery": {delivery}, "pickup_store": {store}, "payment": {payment}})
	if errors.Is(err, errNoForm) {
		return outSkipped, nil // logged out, or nothing in the cart
	}
	if err != nil {
		return "", err
	}
	if r.status == http.StatusSeeOther && (r.location == "/cart" || strings.HasPrefix(r.location, "/login")) {
		// The cart was emptied by another session of the same account
		// checking out at the same moment, or this session ended.
		return outSkipped, nil
	}
	switch r.dataStatus() {
	case "order-accepted":
		return outAllow, nil
	case "order-held":
		return outReview, nil
	case "order-needs_step_up":
		return outChallenge, nil
	case "order-refused":
		return outDeny, nil
	}
	return "", fmt.Errorf("checkout: unexpected answer %d %q (location %q)", r.status, r.dataStatus(), r.location)
}
