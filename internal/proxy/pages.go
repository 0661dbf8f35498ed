package proxy

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"slices"
	"strings"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/passkeyjs"
)

// Pages the proxy serves in its own name.
const (
	pageStepUp   = "stepup"
	pageHold     = "hold"
	pageFailed   = "failed"
	pageGone     = "gone"
	pageSecurity = "security"
	pageSignIn   = "signin"
)

type pageData struct {
	Page    string
	Token   string
	Methods []string
	Error   string
	Sent    string
	Prefix  string
	T       map[string]string
	// Security is what the security page shows.
	Security *securityData
}

var texts = map[string]map[string]string{
	"en": {
		"title": "Confirm it is you", "lead": "Before you continue, confirm this sign-in with one of your second factors.",
		"totp": "Code from your authenticator app", "recovery_code": "A recovery code", "email_otp": "Code sent to your email",
		"send": "Send me a code", "sent": "A code was sent to", "go": "Continue", "wrong": "That code is not right.",
		"unavailable": "We cannot check the code right now. Please try again in a moment.",
		"hold":        "Your order is being checked. We will contact you; nothing has been charged.", "hold_title": "Order on hold",
		"failed": "The sign-in could not be confirmed. Please sign in again.", "failed_title": "Not confirmed",
		"gone": "This confirmation is no longer open. Please sign in again.", "login": "Back to the shop",
		"webauthn": "Use a passkey", "security_title": "Sign-in security", "factors": "Your second factors", "none": "None yet.",
		"passkey_name": "Name of this passkey", "passkey_add": "Add a passkey", "totp_add": "Add an authenticator app",
		"totp_scan":  "Scan this code with your authenticator app, or enter the key, then type the code it shows.",
		"codes_make": "Make new recovery codes", "codes_left": "Recovery codes left:", "codes_keep": "Keep these codes somewhere safe; each works once. They are not shown again.",
		"passkey_done": "The passkey was added.", "totp_done": "The authenticator app was added.",
		"signin_title": "Sign in first", "signin": "Sign in to the shop, then open this page again.", "last_used": "last used",
	},
	"ja": {
		"title": "ご本人確認", "lead": "続行する前に、2段階認証でこのログインを確認してください。",
		"totp": "認証アプリのコード", "recovery_code": "リカバリーコード", "email_otp": "メールで届いたコード",
		"send": "コードを送信", "sent": "コードを送信しました：", "go": "続ける", "wrong": "コードが正しくありません。",
		"unavailable": "現在コードを確認できません。しばらくしてからもう一度お試しください。",
		"hold":        "ご注文は確認中です。追ってご連絡します。代金は請求されていません。", "hold_title": "ご注文の保留",
		"failed": "ログインを確認できませんでした。もう一度ログインしてください。", "failed_title": "確認できませんでした",
		"gone": "この確認は終了しています。もう一度ログインしてください。", "login": "ショップに戻る",
		"webauthn": "パスキーを使う", "security_title": "ログインのセキュリティ", "factors": "登録済みの2段階認証", "none": "まだありません。",
		"passkey_name": "パスキーの名前", "passkey_add": "パスキーを追加", "totp_add": "認証アプリを追加",
		"totp_scan":  "認証アプリでこのコードを読み取るか、キーを入力して、表示されたコードを入力してください。",
		"codes_make": "リカバリーコードを作成", "codes_left": "残りのリカバリーコード：", "codes_keep": "このコードは安全な場所に保管してください。各コードは1回だけ使えます。再表示されません。",
		"passkey_done": "パスキーを追加しました。", "totp_done": "認証アプリを追加しました。",
		"signin_title": "ログインしてください", "signin": "ショップにログインしてから、もう一度このページを開いてください。", "last_used": "最終利用",
	},
}

var pageTmpl = template.Must(template.New("page").Funcs(template.FuncMap{"passkeyVer": passkeyjs.Version}).Parse(`<!doctype html>
<html data-prefix="{{.Prefix}}"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">
{{if eq .Page "stepup"}}<title>{{.T.title}}</title>{{else if eq .Page "hold"}}<title>{{.T.hold_title}}</title>{{else if eq .Page "security"}}<title>{{.T.security_title}}</title>{{else if eq .Page "signin"}}<title>{{.T.signin_title}}</title>{{else}}<title>{{.T.failed_title}}</title>{{end}}
{{if or (eq .Page "stepup") (eq .Page "security")}}<script src="{{.Prefix}}static/passkey.js?v={{passkeyVer}}" defer></script>{{end}}
</head><body>
{{if eq .Page "stepup"}}<h1>{{.T.title}}</h1>
<p>{{.T.lead}}</p>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
{{if .Sent}}<p>{{.T.sent}} {{.Sent}}</p>{{end}}
{{$t := .T}}{{$tok := .Token}}{{$pre := .Prefix}}
{{range .Methods}}{{if or (eq . "totp") (eq . "recovery_code") (eq . "email_otp")}}
<form method="post" action="{{$pre}}stepup">
<input type="hidden" name="t" value="{{$tok}}"><input type="hidden" name="method" value="{{.}}">
<label>{{index $t .}} <input name="code" autocomplete="one-time-code" required></label>
<button>{{$t.go}}</button></form>
{{if eq . "email_otp"}}<form method="post" action="{{$pre}}stepup/send"><input type="hidden" name="t" value="{{$tok}}"><button>{{$t.send}}</button></form>{{end}}
{{else if eq . "webauthn"}}
<form id="passkey-form" method="post" action="{{$pre}}stepup">
<input type="hidden" name="t" value="{{$tok}}"><input type="hidden" name="method" value="webauthn"><input type="hidden" name="assertion" value="">
<button type="button" id="passkey-login" data-options="{{$pre}}stepup/webauthn">{{$t.webauthn}}</button></form>
<p id="passkey-error" role="alert" hidden></p>
{{end}}{{end}}
{{else if eq .Page "hold"}}<h1>{{.T.hold_title}}</h1><p id="atoguard-hold">{{.T.hold}}</p><p><a href="/">{{.T.login}}</a></p>
{{else if eq .Page "security"}}<h1>{{.T.security_title}}</h1>
{{if .Error}}<p role="alert">{{.Error}}</p>{{end}}
{{with .Security}}{{if .Notice}}<p role="status" data-status="notice">{{.Notice}}</p>{{end}}
<h2>{{$.T.factors}}</h2>
{{if .Factors}}<ul id="factors">{{range .Factors}}<li data-type="{{.Type}}">{{.Name}} ({{.Type}}){{if .LastUsedAt}} — {{$.T.last_used}} {{.LastUsedAt.Format "2006-01-02 15:04"}}{{end}}</li>{{end}}</ul>{{else}}<p>{{$.T.none}}</p>{{end}}
<p>{{$.T.codes_left}} <span id="codes-left">{{.CodesLeft}}</span></p>
{{if .Codes}}<p>{{$.T.codes_keep}}</p><ul id="recovery-codes">{{range .Codes}}<li><code>{{.}}</code></li>{{end}}</ul>{{end}}
{{if .TOTP}}<p>{{$.T.totp_scan}}</p><img id="totp-qr" alt="" src="{{.TOTP.QR}}"><p><code id="totp-secret">{{.TOTP.Secret}}</code></p>
<form method="post" action="{{$.Prefix}}security/totp/confirm"><input type="hidden" name="t" value="{{$.Token}}"><input type="hidden" name="factor" value="{{.TOTP.FactorID}}">
<label>{{$.T.totp}} <input name="code" autocomplete="one-time-code" required></label><button>{{$.T.go}}</button></form>{{end}}
<h2>{{$.T.passkey_add}}</h2>
<form id="passkey-register-form"><input type="hidden" name="t" value="{{$.Token}}">
<label>{{$.T.passkey_name}} <input id="passkey-name" maxlength="64"></label>
<button type="button" id="passkey-register" data-begin="{{$.Prefix}}security/passkey/begin" data-finish="{{$.Prefix}}security/passkey/finish" data-done="{{$.Prefix}}security?done=passkey">{{$.T.passkey_add}}</button></form>
<p id="passkey-error" role="alert" hidden></p>
<form method="post" action="{{$.Prefix}}security/totp"><input type="hidden" name="t" value="{{$.Token}}"><button id="totp-start">{{$.T.totp_add}}</button></form>
<form method="post" action="{{$.Prefix}}security/recovery"><input type="hidden" name="t" value="{{$.Token}}"><button id="codes-make">{{$.T.codes_make}}</button></form>
{{end}}<p><a href="/">{{.T.login}}</a></p>
{{else if eq .Page "signin"}}<h1>{{.T.signin_title}}</h1><p>{{.T.signin}}</p><p><a href="/">{{.T.login}}</a></p>
{{else if eq .Page "failed"}}<h1>{{.T.failed_title}}</h1><p>{{.T.failed}}</p><p><a href="/">{{.T.login}}</a></p>
{{else}}<h1>{{.T.failed_title}}</h1><p>{{.T.gone}}</p><p><a href="/">{{.T.login}}</a></p>{{end}}
</body></html>
`))

// lang picks Japanese or English from Accept-Language.
func lang(r *http.Request) string {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Language"), ",") {
		tag, _, _ := strings.Cut(strings.TrimSpace(part), ";")
		switch strings.ToLower(strings.SplitN(tag, "-", 2)[0]) {
		case "ja":
			return "ja"
		case "en":
			return "en"
		}
	}
	return "en"
}

// page renders one of the proxy's pages, with a strict CSP.
func (p *Proxy) page(w http.ResponseWriter, r *http.Request, status int, name string, d pageData) {
	d.Page, d.Prefix, d.T = name, p.cfg.Prefix, texts[lang(r)]
	var buf bytes.Buffer
	if err := pageTmpl.Execute(&buf, d); err != nil {
		p.opts.Log.Error("rendering", "page", name, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	// Scripts from the proxy only (internal/passkeyjs), never inline; the
	// QR code of an authenticator app is a data: image.
	h.Set("Content-Security-Policy", "default-src 'none'; script-src 'self'; connect-src 'self'; img-src data:; form-action 'self'; frame-ancestors 'none'; base-uri 'none'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

// serveOwn serves the pages under the proxy's prefix.
func (p *Proxy) serveOwn(w http.ResponseWriter, r *http.Request, device string) {
	rest := strings.TrimPrefix(r.URL.Path, p.cfg.Prefix)
	switch {
	case rest == "stepup" && r.Method == http.MethodGet:
		token := r.URL.Query().Get("t")
		pd, ok := p.waiting(token, device)
		if !ok {
			p.page(w, r, http.StatusGone, pageGone, pageData{})
			return
		}
		p.page(w, r, http.StatusOK, pageStepUp, pageData{Token: token, Methods: pd.Methods, Sent: pd.Sent})
	case rest == "stepup" && r.Method == http.MethodPost:
		p.verify(w, r, device)
	case rest == "stepup/send" && r.Method == http.MethodPost:
		p.sendCode(w, r, device)
	case rest == "stepup/webauthn" && r.Method == http.MethodPost:
		p.stepUpPasskey(w, r, device)
	case rest == "static/passkey.js" && r.Method == http.MethodGet:
		passkeyjs.Handler().ServeHTTP(w, r)
	case rest == "security" || strings.HasPrefix(rest, "security/"):
		p.serveSecurity(w, r, rest)
	default:
		http.NotFound(w, r)
	}
}

// waiting returns the step-up of token if this browser may answer it.
func (p *Proxy) waiting(token, device string) (*pending, bool) {
	pd, ok := p.pending.get(token)
	if !ok || pd.Device != device || !pd.Expires.After(p.opts.Now()) {
		return nil, false
	}
	return pd, true
}

func (p *Proxy) form(w http.ResponseWriter, r *http.Request) bool {
	r.Body = http.MaxBytesReader(w, r.Body, 64<<10) // a passkey's attestation fits
	return r.ParseForm() == nil
}

func (p *Proxy) sendCode(w http.ResponseWriter, r *http.Request, device string) {
	if !p.form(w, r) {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	token := r.PostForm.Get("t")
	pd, ok := p.waiting(token, device)
	if !ok || !slices.Contains(pd.Methods, shopclient.MethodEmailOTP) {
		p.page(w, r, http.StatusGone, pageGone, pageData{})
		return
	}
	d := pageData{Token: token, Methods: pd.Methods}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Guard.Timeout)
	defer cancel()
	if _, err := p.opts.Guard.SendCode(ctx, pd.ChallengeID, shopclient.MethodEmailOTP); err != nil {
		d.Error = texts[lang(r)]["unavailable"]
	} else {
		d.Sent = "✓"
	}
	p.page(w, r, http.StatusOK, pageStepUp, d)
}

// verify checks an answer. Passed: the held session cookies go to the
// browser (or the held order to the shop). Failed with attempts left: the
// page again. Locked or expired: the shop's session is ended.
func (p *Proxy) verify(w http.ResponseWriter, r *http.Request, device string) {
	if !p.form(w, r) {
		http.Error(w, "bad form", http.StatusBadRequest)
		return
	}
	token, method := r.PostForm.Get("t"), r.PostForm.Get("method")
	pd, ok := p.waiting(token, device)
	if !ok {
		p.page(w, r, http.StatusGone, pageGone, pageData{})
		return
	}
	d := pageData{Token: token, Methods: pd.Methods}
	a := shopclient.Answer{Method: method, Code: clip(strings.TrimSpace(r.PostForm.Get("code")), 64)}
	if method == shopclient.MethodWebAuthn {
		a.Code, a.Assertion = "", json.RawMessage(r.PostForm.Get("assertion"))
	}
	if !slices.Contains(pd.Methods, method) || (method == shopclient.MethodWebAuthn && !json.Valid(a.Assertion)) {
		d.Error = texts[lang(r)]["wrong"]
		p.page(w, r, http.StatusBadRequest, pageStepUp, d)
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), p.cfg.Guard.Timeout)
	defer cancel()
	v, err := p.opts.Guard.Verify(ctx, pd.ChallengeID, a)
	switch {
	case err == nil && v.Status == shopclient.StepUpPassed:
		if pd, ok = p.pending.take(token); !ok {
			p.page(w, r, http.StatusGone, pageGone, pageData{})
			return
		}
		p.release(w, r, pd)
	case err == nil && v.Status == shopclient.StepUpFailed:
		d.Error = texts[lang(r)]["wrong"]
		p.page(w, r, http.StatusUnauthorized, pageStepUp, d)
	case err == nil || shopclient.IsChallengeClosed(err): // locked, expired, used
		if pd, ok := p.pending.take(token); ok {
			p.endSession(pd.Cookies)
		}
		p.page(w, r, http.StatusForbidden, pageFailed, pageData{})
	default:
		var pe *shopclient.ProblemError
		if errors.As(err, &pe) && pe.Status == http.StatusBadRequest {
			d.Error = texts[lang(r)]["wrong"]
			p.page(w, r, http.StatusBadRequest, pageStepUp, d)
			return
		}
		p.opts.Log.Warn("verifying a step-up", "err", err)
		d.Error = texts[lang(r)]["unavailable"]
		p.page(w, r, http.StatusServiceUnavailable, pageStepUp, d)
	}
}

// release hands over what a passed step-up was holding.
func (p *Proxy) release(w http.ResponseWriter, r *http.Request, pd *pending) {
	if pd.Session != "" {
		p.sessions.Add(pd.Session, pd.Who)
	}
	if o := pd.Order; o != nil {
		req, err := http.NewRequestWithContext(r.Context(), o.Method, o.URI, bytes.NewReader(o.Body))
		if err != nil {
			http.Error(w, "internal error", http.StatusInternalServerError)
			return
		}
		req.Header, req.Host, req.RemoteAddr = o.Header, r.Host, r.RemoteAddr
		req.ContentLength = int64(len(o.Body))
		p.rp.ServeHTTP(w, req)
		return
	}
	for _, c := range pd.Cookies {
		w.Header().Add("Set-Cookie", c)
	}
	w.Header().Set("Cache-Control", "no-store")
	http.Redirect(w, r, pd.Location, http.StatusSeeOther)
}
