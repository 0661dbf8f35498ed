package demoshop

import (
	"errors"
	"fmt"
	"net/http"
	"net/mail"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atoguard/atoguard/client"
)

// Page statuses, in each result page's data-status attribute so that
// scripts (the simulator, tests) can read the outcome without scraping
// the prose.
const (
	pageLoginFailed     = "login-failed"
	pageStepUp          = "step-up"
	pageStepUpCancelled = "step-up-cancelled"
	pageRegisterRefused = "registration-refused"
	pageProfileSaved    = "profile-updated"
	pageProfileRefused  = "profile-refused"
	pageProfileStepUp   = "profile-needs-step-up"
)

var jst = time.FixedZone("JST", 9*3600)

func (s *Shop) requireLogin(w http.ResponseWriter, r *http.Request) (*visit, bool) {
	v := visitOf(r)
	if !v.loggedIn {
		http.Redirect(w, r, "/login?next="+urlEscape(r.URL.Path), http.StatusSeeOther)
		return nil, false
	}
	return v, true
}

func urlEscape(p string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "?", "%3F", "#", "%23", " ", "%20").Replace(p)
}

// localPath returns next when it is a path on this shop, else "/account":
// no open redirect.
func localPath(next string) string {
	if strings.HasPrefix(next, "/") && !strings.HasPrefix(next, "//") && !strings.HasPrefix(next, "/\\") && !strings.ContainsAny(next, "\r\n") {
		return next
	}
	return "/account"
}

// ---- catalog ----

type catalogData struct {
	Products []Product
}

func (s *Shop) catalogPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "catalog.html", catalogData{Products: Catalog})
}

// ---- login, logout, registration ----

type loginData struct {
	Status string
	Login  string
	Next   string
	Failed bool
}

func (s *Shop) loginPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "login.html", loginData{Next: localPath(r.URL.Query().Get("next"))})
}

func (s *Shop) loginFailed(w http.ResponseWriter, r *http.Request, login, next string) {
	s.render(w, r, http.StatusOK, "login.html", loginData{Status: pageLoginFailed, Login: login, Next: next, Failed: true})
}

// login checks the password with the same work whether the account exists
// or not (an unknown login is checked against a dummy hash), reports the
// outcome to the guard, and acts on its decision.
func (s *Shop) login(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := visitOf(r)
	login := r.PostFormValue("login")
	pw := r.PostFormValue("password")
	next := localPath(r.PostFormValue("next"))
	if login == "" || pw == "" || len(login) > maxLoginLength || len(pw) > maxPasswordBytes || !utf8.ValidString(login) {
		s.loginFailed(w, r, limit(login, maxLoginLength), next)
		return
	}
	acct, err := s.store.AccountByEmail(ctx, NormalizeEmail(login))
	found := err == nil
	if err != nil && !errors.Is(err, ErrNotFound) {
		s.fail(w, r, err)
		return
	}
	hash := s.dummy
	if found {
		hash = acct.PasswordHash
	}
	ok, err := s.hasher.Verify(hash, pw)
	if err != nil {
		s.log.Error("verifying password", "account", acct.ID, "err", err)
		ok = false
	}
	ev := s.event(r, client.LoginFailed)
	ev.Login = login
	ev.Credential = &client.Credential{PasswordSHA1: client.PasswordSHA1(pw)}
	switch {
	case !found:
		ev.Properties = &client.Properties{Reason: client.ReasonUnknownAccount}
		s.assess(ctx, ev)
		s.loginFailed(w, r, login, next)
		return
	case !ok:
		ev.User = &client.User{ID: acct.ID, Email: acct.Email}
		ev.Properties = &client.Properties{Reason: client.ReasonBadPassword}
		s.assess(ctx, ev)
		s.loginFailed(w, r, login, next)
		return
	}
	if s.honourForcedReset(w, r, ev, acct) {
		return
	}

	secret := randomToken(32)
	se := session{
		Hash: hashSecret(secret), PublicID: randomHex("s-", 8), AccountID: acct.ID, DeviceID: v.device,
		IP: v.ip.String(), CreatedAt: s.now(), ExpiresAt: s.now().Add(s.opts.SessionTTL),
	}
	ev.Type = client.LoginSucceeded
	ev.User = &client.User{ID: acct.ID, Email: acct.Email}
	ev.SessionID = se.PublicID
	res := s.assess(ctx, ev)
	switch res.Decision {
	case client.Deny:
		// The same page as a wrong password: a refused login must not tell
		// an attacker that the password was right.
		s.loginFailed(w, r, login, next)
		return
	case client.Challenge:
		se.Challenge = "local-" + randomHex("", 8) // a fail-closed fallback has no guard challenge
		se.ChallengeMethods = "webauthn,totp,email_otp"
		se.ChallengeExpires = s.now().Add(s.opts.StepUpTTL)
		if c := res.Challenge; c != nil {
			se.Challenge, se.ChallengeMethods = c.ID, strings.Join(c.Methods, ",")
			if !c.ExpiresAt.IsZero() {
				se.ChallengeExpires = c.ExpiresAt
			}
		}
		if err := s.store.createSession(ctx, se); err != nil {
			s.fail(w, r, err)
			return
		}
		s.setCookie(w, r, sessionCookie, secret, 0)
		http.Redirect(w, r, "/stepup", http.StatusSeeOther)
		return
	}
	if err := s.store.createSession(ctx, se); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.afterLogin(r, acct); err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, r, sessionCookie, secret, 0)
	http.Redirect(w, r, next, http.StatusSeeOther)
}

// afterLogin remembers the device of a completed login and, when the
// account never used it, notifies the owner.
func (s *Shop) afterLogin(r *http.Request, acct Account) error {
	v := visitOf(r)
	known, err := s.store.knownDevice(r.Context(), acct.ID, v.device, s.now())
	if err != nil || known || !acct.NotifyLogin {
		return err
	}
	at := s.now().In(jst).Format("2006-01-02 15:04 MST")
	body := fmt.Sprintf(`%s 様

新しい端末からログインがありました。
日時: %s
IPアドレス: %s
ブラウザ: %s

お心当たりがない場合は、すぐにパスワードを変更し、サポートまでご連絡ください。

Dear %s,

Your account was signed in to from a new device.
When: %s
IP address: %s
Browser: %s

If this was not you, change your password now and contact us.`,
		acct.Name, at, v.ip, limit(r.UserAgent(), 200), acct.Name, at, v.ip, limit(r.UserAgent(), 200))
	return s.store.addMail(r.Context(), Mail{
		At: s.now(), To: acct.Email, AccountID: acct.ID,
		Subject: "新しい端末からのログイン / New sign-in from a new device", Body: body,
	})
}

func (s *Shop) logout(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	if v.loggedIn || v.pending {
		if err := s.store.deleteSession(r.Context(), v.sess.Hash); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.newSessionSecret(w, r, v)
	http.Redirect(w, r, "/", http.StatusSeeOther)
}

type registerData struct {
	Status string
	Email  string
	Name   string
	Error  string
}

func (s *Shop) registerPage(w http.ResponseWriter, r *http.Request) {
	s.render(w, r, http.StatusOK, "register.html", registerData{})
}

func (s *Shop) register(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	email := NormalizeEmail(r.PostFormValue("email"))
	name := strings.TrimSpace(r.PostFormValue("name"))
	pw := r.PostFormValue("password")
	d := registerData{Email: limit(email, 254), Name: limit(name, 100)}
	switch {
	case !validEmail(email):
		d.Error = "メールアドレスが正しくありません / That email address is not valid."
	case name == "" || utf8.RuneCountInString(name) > 100:
		d.Error = "お名前を入力してください (100文字まで) / Enter your name (up to 100 characters)."
	case utf8.RuneCountInString(pw) < minPasswordRunes || len(pw) > maxPasswordBytes:
		d.Error = "パスワードは8文字以上にしてください / Use a password of at least 8 characters."
	}
	if d.Error != "" {
		s.render(w, r, http.StatusOK, "register.html", d)
		return
	}
	hash, err := s.hasher.Hash(pw)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	acct := Account{ID: randomHex("u-", 6), Email: email, PasswordHash: hash, Name: name,
		NotifyLogin: true, NotifyOrders: true, CreatedAt: s.now()}
	ev := s.event(r, client.Registration)
	ev.Login = email
	ev.User = &client.User{ID: acct.ID, Email: email}
	ev.Credential = &client.Credential{PasswordSHA1: client.PasswordSHA1(pw)}
	if res := s.assess(ctx, ev); res.Decision == client.Deny {
		d.Status = pageRegisterRefused
		d.Error = "安全のため、登録をお受けできませんでした / The registration was refused for security reasons."
		s.render(w, r, http.StatusForbidden, "register.html", d)
		return
	}
	if err := s.store.CreateAccount(ctx, acct); errors.Is(err, ErrEmailTaken) {
		d.Error = "このメールアドレスは登録済みです。ログインしてください / This email is already registered: log in instead."
		s.render(w, r, http.StatusOK, "register.html", d)
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	secret := randomToken(32)
	v := visitOf(r)
	se := session{Hash: hashSecret(secret), PublicID: randomHex("s-", 8), AccountID: acct.ID, DeviceID: v.device,
		IP: v.ip.String(), CreatedAt: s.now(), ExpiresAt: s.now().Add(s.opts.SessionTTL)}
	if err := s.store.createSession(ctx, se); err != nil {
		s.fail(w, r, err)
		return
	}
	if _, err := s.store.knownDevice(ctx, acct.ID, v.device, s.now()); err != nil {
		s.fail(w, r, err)
		return
	}
	s.setCookie(w, r, sessionCookie, secret, 0)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func validEmail(s string) bool {
	if len(s) > 254 || !strings.Contains(s, "@") {
		return false
	}
	a, err := mail.ParseAddress(s)
	return err == nil && a.Address == s
}

// ---- step-up ----

type stepUpData struct {
	Status    string
	Methods   []string
	ExpiresAt string
	Available bool
	Passkey   bool   // the StepUp can run a passkey ceremony
	OrderID   string // set when an order, not a login, waits for it
	Error     string
}

func (s *Shop) stepUpPage(w http.ResponseWriter, r *http.Request) {
	v := visitOf(r)
	if !v.pending {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.renderStepUp(w, r, v, "")
}

func (s *Shop) renderStepUp(w http.ResponseWriter, r *http.Request, v *visit, msg string) {
	_, none := s.stepUp.(NoStepUp)
	_, passkey := s.stepUp.(passkeyOptions)
	s.render(w, r, http.StatusOK, "stepup.html", stepUpData{
		Status:    pageStepUp,
		Methods:   strings.FieldsFunc(v.sess.ChallengeMethods, func(r rune) bool { return r == ',' }),
		ExpiresAt: v.sess.ChallengeExpires.In(jst).Format("15:04 MST"),
		Available: !none,
		Passkey:   passkey,
		Error:     msg,
	})
}

func (s *Shop) stepUpEvent(r *http.Request, typ, method, reason string) client.Event {
	v := visitOf(r)
	ev := s.event(r, typ)
	ev.User = &client.User{ID: v.sess.AccountID}
	ev.SessionID = v.sess.PublicID
	ev.Properties = &client.Properties{ChallengeID: v.sess.Challenge, Method: method, Reason: reason}
	return ev
}

func (s *Shop) stepUpVerify(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := visitOf(r)
	if !v.pending {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	method, code := stepUpAnswer(r)
	passed, err := s.stepUp.Verify(ctx, v.sess.Challenge, method, code)
	switch {
	case errors.Is(err, ErrStepUpUnavailable):
		s.renderStepUp(w, r, v, "")
		return
	case errors.Is(err, ErrChallengeClosed):
		// Used, locked or expired: the guard recorded it; the login is over.
		if err := s.store.deleteSession(ctx, v.sess.Hash); err != nil {
			s.fail(w, r, err)
			return
		}
		s.newSessionSecret(w, r, v)
		s.render(w, r, http.StatusOK, "error.html", errorPage{
			Status: pageStepUpCancelled,
			JA:     "確認を完了できなかったため、ログインを中止しました。もう一度ログインしてください。",
			EN:     "The second factor was not confirmed in time, so the login was stopped. Log in again.",
		})
		return
	case err != nil:
		s.fail(w, r, err)
		return
	case !passed:
		if !s.recordsOutcome() {
			s.assess(ctx, s.stepUpEvent(r, client.MFAFailed, method, "wrong_code"))
		}
		s.renderStepUp(w, r, v, "コードが違います / That code is not right.")
		return
	}
	if !s.recordsOutcome() {
		s.assess(ctx, s.stepUpEvent(r, client.MFASucceeded, method, ""))
	}
	if err := s.store.completeStepUp(ctx, v.sess.Hash); err != nil {
		s.fail(w, r, err)
		return
	}
	acct, err := s.store.AccountByID(ctx, v.sess.AccountID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.afterLogin(r, acct); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

// stepUpCancel abandons a pending login: the guard hears mfa.failed.
func (s *Shop) stepUpCancel(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v := visitOf(r)
	if !v.pending {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.assess(ctx, s.stepUpEvent(r, client.MFAFailed, "", "cancelled"))
	if err := s.store.deleteSession(ctx, v.sess.Hash); err != nil {
		s.fail(w, r, err)
		return
	}
	s.newSessionSecret(w, r, v)
	s.render(w, r, http.StatusOK, "error.html", errorPage{
		Status: pageStepUpCancelled,
		JA:     "ログインを中止しました。アカウントには何も変更されていません。",
		EN:     "The login was cancelled. Nothing changed in the account.",
	})
}

// ---- account settings ----

type accountData struct {
	Status  string
	Account Account
	Error   string
	Notice  string
}

func (s *Shop) accountPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	s.render(w, r, http.StatusOK, "account.html", accountData{Account: v.account})
}

func (s *Shop) updateAccount(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	old := v.account
	a := old
	form := func(k string, n int) string { return limit(strings.TrimSpace(r.PostFormValue(k)), n) }
	a.Email = NormalizeEmail(form("email", 254))
	a.Name = form("name", 100)
	a.Phone = form("phone", 20)
	a.Address = Address{PostalCode: form("postal_code", 10), Region: form("region", 20), City: form("city", 50), Line1: form("line1", 100)}
	a.NotifyLogin = r.PostFormValue("notify_login") == "on"
	a.NotifyOrders = r.PostFormValue("notify_orders") == "on"
	if !validEmail(a.Email) {
		s.render(w, r, http.StatusOK, "account.html", accountData{Account: a, Error: "メールアドレスが正しくありません / That email address is not valid."})
		return
	}
	var fields []string
	if a.Email != old.Email {
		fields = append(fields, "email")
	}
	if a.Phone != old.Phone {
		fields = append(fields, "phone")
	}
	if a.Address != old.Address || a.Name != old.Name {
		fields = append(fields, "shipping_address")
	}
	if a.NotifyLogin != old.NotifyLogin || a.NotifyOrders != old.NotifyOrders {
		fields = append(fields, "notification_settings")
	}
	if len(fields) == 0 {
		s.render(w, r, http.StatusOK, "account.html", accountData{Account: old, Notice: "変更はありません / Nothing changed."})
		return
	}
	ev := s.event(r, client.ProfileUpdated)
	// The new address, as the guard's contact history expects: the owner
	// is then told on the address before the change as well.
	ev.User = &client.User{ID: old.ID, Email: a.Email}
	ev.SessionID = v.sess.PublicID
	ev.Properties = &client.Properties{Fields: fields}
	switch s.assess(ctx, ev).Decision {
	case client.Deny:
		s.render(w, r, http.StatusForbidden, "account.html", accountData{Status: pageProfileRefused, Account: old,
			Error: "安全のため、この変更はお受けできませんでした / This change was refused for security reasons."})
		return
	case client.Challenge:
		s.render(w, r, http.StatusForbidden, "account.html", accountData{Status: pageProfileStepUp, Account: old,
			Error: "この変更には2段階認証が必要ですが、このショップではまだ利用できません。変更は保存されていません / This change needs a second factor, which this shop cannot check yet: nothing was saved."})
		return
	}
	if err := s.store.UpdateAccount(ctx, a); errors.Is(err, ErrEmailTaken) {
		s.render(w, r, http.StatusOK, "account.html", accountData{Account: old, Error: "このメールアドレスは使われています / That email is already in use."})
		return
	} else if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "account.html", accountData{Status: pageProfileSaved, Account: a, Notice: "保存しました / Saved."})
}

// ---- orders, cart, checkout ----

type ordersData struct {
	Orders []Order
}

func (s *Shop) ordersPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	orders, err := s.store.Orders(r.Context(), v.account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "orders.html", ordersData{Orders: orders})
}

type cartLine struct {
	Product  Product
	Quantity int64
	Subtotal int64
}

type cartData struct {
	Lines        []cartLine
	Total        int64
	Account      Account
	Stores       []PickupStore
	Error        string
	Deliveries   map[string]string
	PaymentNames map[string]string
}

func (s *Shop) cartLines(r *http.Request, accountID string) ([]cartLine, int64, error) {
	items, err := s.store.cart(r.Context(), accountID)
	if err != nil {
		return nil, 0, err
	}
	var lines []cartLine
	var total int64
	for _, p := range Catalog {
		if q := items[p.SKU]; q > 0 {
			lines = append(lines, cartLine{Product: p, Quantity: q, Subtotal: q * p.Price})
			total += q * p.Price
		}
	}
	return lines, total, nil
}

func (s *Shop) cartPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	lines, total, err := s.cartLines(r, v.account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "cart.html", cartData{Lines: lines, Total: total})
}

func (s *Shop) cartAdd(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	p, found := ProductBySKU(r.PostFormValue("sku"))
	q, err := strconv.ParseInt(r.PostFormValue("quantity"), 10, 64)
	if !found || err != nil || q < 1 {
		s.render(w, r, http.StatusBadRequest, "error.html", errorPage{Status: "bad-request", JA: "商品または数量が正しくありません。", EN: "Unknown item or quantity."})
		return
	}
	items, err := s.store.cart(r.Context(), v.account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.store.setCartItem(r.Context(), v.account.ID, p.SKU, min(items[p.SKU]+q, maxCartQuantity)); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *Shop) cartRemove(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	if err := s.store.setCartItem(r.Context(), v.account.ID, r.PostFormValue("sku"), 0); err != nil {
		s.fail(w, r, err)
		return
	}
	http.Redirect(w, r, "/cart", http.StatusSeeOther)
}

func (s *Shop) checkoutPage(w http.ResponseWriter, r *http.Request) {
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	lines, total, err := s.cartLines(r, v.account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(lines) == 0 {
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return
	}
	s.render(w, r, http.StatusOK, "checkout.html", cartData{Lines: lines, Total: total, Account: v.account, Stores: PickupStores,
		Deliveries: deliveryLabels, PaymentNames: paymentLabels})
}

type orderResult struct {
	Status string
	Order  Order
	JA, EN string
}

// checkout reports the order to the guard before accepting it: allow
// accepts it, review holds it for a person, challenge and deny refuse it
// (this shop cannot step up an order yet).
func (s *Shop) checkout(w http.ResponseWriter, r *http.Request) {
	ctx := r.Context()
	v, ok := s.requireLogin(w, r)
	if !ok {
		return
	}
	lines, total, err := s.cartLines(r, v.account.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if len(lines) == 0 {
		http.Redirect(w, r, "/cart", http.StatusSeeOther)
		return
	}
	a := v.account
	delivery, payment := r.PostFormValue("delivery"), r.PostFormValue("payment")
	var store PickupStore
	bad := deliveryLabels[delivery] == "" || paymentLabels[payment] == ""
	if delivery == DeliveryKonbini {
		var found bool
		store, found = pickupStore(r.PostFormValue("pickup_store"))
		bad = bad || !found
	}
	if delivery == DeliveryHome && a.Address.Line1 == "" {
		bad = true
	}
	if bad {
		s.render(w, r, http.StatusOK, "checkout.html", cartData{Lines: lines, Total: total, Account: a, Stores: PickupStores,
			Deliveries: deliveryLabels, PaymentNames: paymentLabels,
			Error: "お届け方法とお支払い方法を選んでください (ご自宅配送には住所が必要です) / Choose a delivery and a payment method (home delivery needs an address)."})
		return
	}
	o := Order{ID: randomHex("o-", 6), AccountID: a.ID, CreatedAt: s.now(), Amount: total, Delivery: delivery,
		Payment: payment, ShipName: a.Name}
	for _, l := range lines {
		o.Items = append(o.Items, OrderItem{SKU: l.Product.SKU, Name: l.Product.NameJA, Quantity: l.Quantity, UnitPrice: l.Product.Price})
	}
	if delivery == DeliveryHome {
		o.Shipping = a.Address
	} else {
		o.PickupStore = store.ID
		o.Shipping = Address{Line1: store.Name}
	}
	prior, err := s.store.Orders(ctx, a.ID)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	newShipping, newPayment := true, true
	for _, p := range prior {
		if p.Status != StatusAccepted {
			continue
		}
		if p.Delivery == o.Delivery && p.PickupStore == o.PickupStore && p.Shipping == o.Shipping {
			newShipping = false
		}
		if p.Payment == o.Payment {
			newPayment = false
		}
	}
	ev := s.event(r, client.OrderAttempt)
	ev.User = &client.User{ID: a.ID, Email: a.Email}
	ev.SessionID = v.sess.PublicID
	order := &client.Order{ID: o.ID, Amount: o.Amount, Currency: "JPY",
		Shipping: &client.Shipping{Name: a.Name, PostalCode: o.Shipping.PostalCode, Country: "JP", Region: o.Shipping.Region,
			City: o.Shipping.City, Line1: o.Shipping.Line1, NewForUser: newShipping},
		Payment:  &client.Payment{Method: payment, NewForUser: newPayment},
		Delivery: &client.Delivery{Method: delivery, PickupStore: o.PickupStore},
	}
	for _, it := range o.Items {
		order.Items = append(order.Items, client.Item{SKU: it.SKU, Quantity: it.Quantity, UnitPrice: it.UnitPrice})
	}
	ev.Properties = &client.Properties{Order: order}
	res := s.assess(ctx, ev)
	o.Decision = res.Decision
	if res.Decision == client.Challenge && s.challengeOrder(w, r, v, o, res) {
		return
	}
	out := orderResult{Order: o}
	switch res.Decision {
	case client.Deny:
		o.Status, out.JA, out.EN = StatusRefused, "安全のため、このご注文はお受けできませんでした。", "This order was refused for security reasons."
	case client.Challenge:
		o.Status, out.JA, out.EN = StatusNeedsStep, "このご注文には2段階認証が必要ですが、このショップではまだ利用できません。ご注文は確定していません。", "This order needs a second factor, which this shop cannot check yet: the order was not placed."
	case client.Review:
		o.Status, out.JA, out.EN = StatusHeld, "ご注文を承りました。確認のため、発送まで少しお時間をいただきます。", "Order received. It is held for a check before it ships."
	default:
		o.Status, out.JA, out.EN = StatusAccepted, "ご注文ありがとうございます。", "Thank you for your order."
	}
	out.Status, out.Order = o.Status, o
	if err := s.store.createOrder(ctx, o); err != nil {
		s.fail(w, r, err)
		return
	}
	if o.Status == StatusAccepted || o.Status == StatusHeld {
		if err := s.store.clearCart(ctx, a.ID); err != nil {
			s.fail(w, r, err)
			return
		}
	}
	s.render(w, r, http.StatusOK, "order.html", out)
}

// ---- outbox ----

type outboxData struct {
	Mails []Mail
	Total int
	Links map[int64]MailLink // the guard's notifications among Mails
	// Actions are the latest guard operator actions carried out.
	Actions []GuardAction
}

func (s *Shop) outboxPage(w http.ResponseWriter, r *http.Request) {
	mails, err := s.store.Outbox(r.Context(), 200)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := s.store.CountOutbox(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	links, err := s.store.mailLinks(r.Context(), mails)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	actions, err := s.store.GuardActions(r.Context(), "", 50)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "outbox.html", outboxData{Mails: mails, Total: n, Links: links, Actions: actions})
}

// ---- rendering ----

type errorPage struct {
	Status string
	JA, EN string
}

func yen(v int64) string {
	s := strconv.FormatInt(v, 10)
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	return "¥" + b.String()
}

func methodLabel(m string) string {
	switch m {
	case "webauthn":
		return "パスキー / Passkey"
	case "totp":
		return "認証アプリ / Authenticator app"
	case "email_otp":
		return "メールのコード / Code by email"
	case "recovery_code":
		return "リカバリーコード / Recovery code"
	case "sms":
		return "SMS (弱い / weak)"
	}
	return m
}

func paymentLabel(m string) string  { return paymentLabels[m] }
func deliveryLabel(m string) string { return deliveryLabels[m] }
func storeName(id string) string {
	p, _ := pickupStore(id)
	return p.Name
}
