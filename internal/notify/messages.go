package notify

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/atoguard/atoguard/internal/incident"
	"github.com/atoguard/atoguard/internal/store"
)

// The texts of owner and operator messages: Japanese first, then English,
// in plain text. They never hold a password, a street address or payment
// details beyond the method.

const separator = "\n\n-----\n\n"

// siteJA and siteEN name the shop in a sentence.
func (p *Planner) siteJA() string {
	if p.site == "" {
		return "ご利用のサービス"
	}
	return p.site
}

func (p *Planner) siteEN() string {
	if p.site == "" {
		return "your"
	}
	return "your " + p.site
}

func (p *Planner) timeJA(t time.Time) string {
	return t.In(p.loc).Format("2006年1月2日 15:04 (MST)")
}

func (p *Planner) timeEN(t time.Time) string {
	return t.In(p.loc).Format("2 Jan 2006 15:04 MST")
}

// loginData is the data of owner.new_device_login.
type loginData struct {
	At         time.Time `json:"at"`
	Decision   string    `json:"decision"`
	NewDevice  bool      `json:"new_device"`
	NewNetwork bool      `json:"new_network"`
	IP         string    `json:"ip,omitempty"`
	Country    string    `json:"country,omitempty"`
	Agent      string    `json:"agent,omitempty"`
}

func (p *Planner) loginMessage(l Login) message {
	ip, country, agent := clean(l.IP), clean(l.Country), clean(l.Agent)
	whatJA, whatEN := "端末またはネットワーク", "a device or network"
	switch {
	case l.NewDevice && l.NewNetwork:
		whatJA, whatEN = "端末とネットワーク", "a device and a network"
	case l.NewDevice:
		whatJA, whatEN = "端末", "a device"
	case l.NewNetwork:
		whatJA, whatEN = "ネットワーク", "a network"
	}
	var ja, en strings.Builder
	var subjJA, subjEN string
	switch l.Decision {
	case "deny":
		subjJA, subjEN = "新しい端末からのログインを拒否しました", "We blocked a sign-in from a new device"
		fmt.Fprintf(&ja, "%sのアカウントに、これまでに使われたことのない%sから正しいパスワードでログインが試みられたため、拒否しました。", p.siteJA(), whatJA)
		fmt.Fprintf(&en, "Someone entered the correct password of %s account from %s it was never used from before. We blocked the sign-in.", p.siteEN(), whatEN)
	case "challenge", "review":
		subjJA, subjEN = "新しい端末からのログインに追加の確認を求めました", "We asked for extra verification of a sign-in from a new device"
		fmt.Fprintf(&ja, "%sのアカウントに、これまでに使われたことのない%sから正しいパスワードでログインが試みられたため、追加の本人確認を求めました。", p.siteJA(), whatJA)
		fmt.Fprintf(&en, "Someone entered the correct password of %s account from %s it was never used from before. We asked for extra verification before letting them in.", p.siteEN(), whatEN)
	default:
		subjJA, subjEN = "新しい端末からログインがありました", "New sign-in to your account"
		fmt.Fprintf(&ja, "%sのアカウントに、これまでに使われたことのない%sからログインがありました。", p.siteJA(), whatJA)
		fmt.Fprintf(&en, "There was a sign-in to %s account from %s it was never used from before.", p.siteEN(), whatEN)
	}
	ja.WriteString("\n\n")
	en.WriteString("\n\n")
	fmt.Fprintf(&ja, "日時: %s\n", p.timeJA(l.At))
	fmt.Fprintf(&en, "When: %s\n", p.timeEN(l.At))
	if agent != "" {
		fmt.Fprintf(&ja, "ブラウザ: %s\n", agent)
		fmt.Fprintf(&en, "Browser: %s\n", agent)
	}
	if ip != "" {
		where := ip
		if country != "" {
			where += " (" + country + ")"
		}
		fmt.Fprintf(&ja, "IPアドレス: %s\n", where)
		fmt.Fprintf(&en, "IP address: %s\n", where)
	}
	ja.WriteString("\n")
	en.WriteString("\n")
	if l.Decision == "allow" || l.Decision == "" {
		ja.WriteString("ご本人によるログインであれば、対応は不要です。お心当たりがない場合は、すぐにパスワードを変更し、注文履歴と登録情報をご確認ください。")
		en.WriteString("If this was you, there is nothing to do. If it wasn't, change your password now and check your recent orders and account details.")
	} else {
		ja.WriteString("お心当たりがない場合、パスワードが第三者に知られています。すぐにパスワードを変更してください。")
		en.WriteString("If this wasn't you, someone else knows your password: change it now.")
	}
	ja.WriteString("他のサービスで同じパスワードをお使いの場合は、そちらも変更してください。")
	en.WriteString(" If you use the same password elsewhere, change it there too.")
	return message{
		subject: subjJA + " / " + subjEN,
		text:    ja.String() + separator + en.String(),
		data: loginData{At: l.At.UTC(), Decision: l.Decision, NewDevice: l.NewDevice, NewNetwork: l.NewNetwork,
			IP: ip, Country: country, Agent: agent},
	}
}

// contactData is the data of owner.contact_changed; the addresses are
// masked.
type contactData struct {
	At       time.Time `json:"at"`
	Fields   []string  `json:"fields"`
	OldEmail string    `json:"old_email,omitempty"`
	NewEmail string    `json:"new_email,omitempty"`
}

var fieldNames = map[string][2]string{
	"email":                 {"メールアドレス", "email address"},
	"phone":                 {"電話番号", "phone number"},
	"shipping_address":      {"お届け先住所", "shipping address"},
	"notification_settings": {"通知設定", "notification settings"},
	"payment_method":        {"お支払い方法", "payment method"},
	"password":              {"パスワード", "password"},
}

// contactMessage says what changed; both says that the owner is told on
// the address before a change as well as the current one.
func (p *Planner) contactMessage(c ContactUpdate, both bool) message {
	var fields []string
	for _, f := range c.Fields {
		if f = clean(f); f != "" && !slices.Contains(fields, f) {
			fields = append(fields, f)
		}
	}
	if c.NewEmail != "" && c.NewEmail != c.OldEmail && !slices.Contains(fields, "email") {
		fields = append(fields, "email")
	}
	var namesJA, namesEN []string
	for _, f := range fields {
		n, ok := fieldNames[f]
		if !ok {
			n = [2]string{f, f}
		}
		namesJA, namesEN = append(namesJA, n[0]), append(namesEN, n[1])
	}
	if len(fields) == 0 {
		namesJA, namesEN = []string{"登録情報"}, []string{"account details"}
	}
	oldEmail, newEmail := maskEmail(c.OldEmail), maskEmail(c.NewEmail)
	var ja, en strings.Builder
	fmt.Fprintf(&ja, "%sのアカウントの登録情報が変更されました: %s。\n\n", p.siteJA(), strings.Join(namesJA, "、"))
	fmt.Fprintf(&en, "The details of %s account were changed: %s.\n\n", p.siteEN(), strings.Join(namesEN, ", "))
	fmt.Fprintf(&ja, "日時: %s\n", p.timeJA(c.At))
	fmt.Fprintf(&en, "When: %s\n", p.timeEN(c.At))
	if newEmail != "" {
		if oldEmail != "" {
			fmt.Fprintf(&ja, "メールアドレス: %s → %s\n", oldEmail, newEmail)
			fmt.Fprintf(&en, "Email address: %s → %s\n", oldEmail, newEmail)
		} else {
			fmt.Fprintf(&ja, "新しいメールアドレス: %s\n", newEmail)
			fmt.Fprintf(&en, "New email address: %s\n", newEmail)
		}
	}
	if ip := clean(c.IP); ip != "" {
		fmt.Fprintf(&ja, "IPアドレス: %s\n", ip)
		fmt.Fprintf(&en, "IP address: %s\n", ip)
	}
	ja.WriteString("\n")
	en.WriteString("\n")
	if both {
		ja.WriteString("このお知らせは、変更前に登録されていたメールアドレスにもお送りしています。")
		en.WriteString("We also sent this notice to the email address on file before the change. ")
	}
	ja.WriteString("お心当たりがない場合、アカウントが乗っ取られているおそれがあります。すぐにパスワードを再設定し、サポートへご連絡ください。")
	en.WriteString("If you did not make this change, your account may have been taken over: reset your password now and contact support.")
	return message{
		subject: "登録情報が変更されました / Your account details were changed",
		text:    ja.String() + separator + en.String(),
		data:    contactData{At: c.At.UTC(), Fields: fields, OldEmail: oldEmail, NewEmail: newEmail},
	}
}

// orderData is the data of owner.order.
type orderData struct {
	At            time.Time       `json:"at"`
	Decision      string          `json:"decision"`
	OrderID       string          `json:"order_id,omitempty"`
	Amount        int64           `json:"amount"`
	Currency      string          `json:"currency,omitempty"`
	Items         []orderItemData `json:"items,omitempty"`
	ShipTo        string          `json:"ship_to,omitempty"` // region and city only
	PickupStore   string          `json:"pickup_store,omitempty"`
	PaymentMethod string          `json:"payment_method,omitempty"`
}

type orderItemData struct {
	SKU      string `json:"sku"`
	Quantity int64  `json:"quantity"`
}

var paymentNames = map[string][2]string{
	"carrier_billing":   {"キャリア決済（携帯電話料金と合算）", "carrier billing (added to the phone bill)"},
	"convenience_store": {"コンビニ払い", "convenience-store payment"},
	"credit_card":       {"クレジットカード", "credit card"},
	"card":              {"クレジットカード", "credit card"},
	"bank_transfer":     {"銀行振込", "bank transfer"},
	"cash_on_delivery":  {"代金引換", "cash on delivery"},
	"cod":               {"代金引換", "cash on delivery"},
	"points":            {"ポイント", "points"},
}

func (p *Planner) orderMessage(o Order) message {
	id := clean(o.ID)
	currency := clean(o.Currency)
	method := redactDigits(clean(o.Payment.Method))
	payJA, payEN := method, strings.ReplaceAll(method, "_", " ")
	if n, ok := paymentNames[method]; ok {
		payJA, payEN = n[0], n[1]
	}
	shipTo := strings.TrimSpace(clean(o.Shipping.Region) + " " + clean(o.Shipping.City))
	if pc := clean(o.Shipping.PostalCode); pc != "" && shipTo != "" {
		shipTo += " (〒" + pc + ")"
	}
	pickup := clean(o.Delivery.PickupStore)
	var items []orderItemData
	for _, it := range o.Items {
		items = append(items, orderItemData{SKU: clean(it.SKU), Quantity: it.Quantity})
	}

	var subjJA, subjEN, leadJA, leadEN string
	switch o.Decision {
	case "deny":
		subjJA, subjEN = "ご注文をお受けできませんでした", "An order was refused"
		leadJA = fmt.Sprintf("%sのアカウントで注文が行われましたが、不正利用のおそれがあるためお受けできませんでした。", p.siteJA())
		leadEN = fmt.Sprintf("An order was placed with %s account; we refused it because it looked fraudulent.", p.siteEN())
	case "review", "challenge":
		subjJA, subjEN = "ご注文を確認のため保留しています", "An order is on hold for review"
		leadJA = fmt.Sprintf("%sのアカウントで注文が行われました。確認のため、発送を保留しています。", p.siteJA())
		leadEN = fmt.Sprintf("An order was placed with %s account. We are holding it for review before it ships.", p.siteEN())
	default:
		subjJA, subjEN = "ご注文を受け付けました", "Order received"
		leadJA = fmt.Sprintf("%sのアカウントで注文を受け付けました。", p.siteJA())
		leadEN = fmt.Sprintf("An order was placed with %s account.", p.siteEN())
	}
	var ja, en strings.Builder
	ja.WriteString(leadJA + "\n\n")
	en.WriteString(leadEN + "\n\n")
	fmt.Fprintf(&ja, "日時: %s\n", p.timeJA(o.At))
	fmt.Fprintf(&en, "When: %s\n", p.timeEN(o.At))
	if id != "" {
		fmt.Fprintf(&ja, "注文番号: %s\n", id)
		fmt.Fprintf(&en, "Order: %s\n", id)
	}
	fmt.Fprintf(&ja, "金額: %s\n", amountJA(o.Amount, currency))
	fmt.Fprintf(&en, "Amount: %s %s\n", thousands(o.Amount), currency)
	for _, it := range items {
		fmt.Fprintf(&ja, "商品: %s × %d\n", it.SKU, it.Quantity)
		fmt.Fprintf(&en, "Item: %s × %d\n", it.SKU, it.Quantity)
	}
	if pickup != "" {
		fmt.Fprintf(&ja, "受取店舗: %s\n", pickup)
		fmt.Fprintf(&en, "Pickup at: %s\n", pickup)
	} else if shipTo != "" {
		fmt.Fprintf(&ja, "お届け先: %s\n", shipTo)
		fmt.Fprintf(&en, "Ship to: %s\n", shipTo)
	}
	if method != "" {
		fmt.Fprintf(&ja, "お支払い方法: %s\n", payJA)
		fmt.Fprintf(&en, "Payment: %s\n", payEN)
	}
	ja.WriteString("\nお心当たりのない注文の場合は、すぐにパスワードを変更し、サポートへご連絡ください。")
	en.WriteString("\nIf you did not place this order, change your password now and contact support.")
	return message{
		subject: subjJA + " / " + subjEN,
		text:    ja.String() + separator + en.String(),
		data: orderData{At: o.At.UTC(), Decision: o.Decision, OrderID: id, Amount: o.Amount, Currency: currency,
			Items: items, ShipTo: shipTo, PickupStore: pickup, PaymentMethod: method},
	}
}

func (p *Planner) incidentMessage(inc store.Incident, closed bool) message {
	// The data is the incident as GET /v1/incidents/{id} shows it, in UTC.
	inc.StartedAt, inc.EndedAt = inc.StartedAt.UTC(), inc.EndedAt.UTC()
	d := incident.View(inc)
	var subject, text string
	if !closed {
		subject = fmt.Sprintf("atoguard: incident %s opened / インシデント発生", inc.ID)
		text = fmt.Sprintf("🚨 atoguard: credential-stuffing incident %s opened at %s. "+
			"Correct passwords from unfamiliar devices are being stepped up. Accounts reached: GET /v1/incidents/%s/accounts\n"+
			"🚨 atoguard: リスト型攻撃を検知しました（インシデント %s、%s 開始）。見慣れない端末からのログインには追加の本人確認を求めています。",
			inc.ID, p.timeEN(inc.StartedAt), inc.ID, inc.ID, p.timeJA(inc.StartedAt))
	} else {
		dur := shortDuration(inc.EndedAt.Sub(inc.StartedAt))
		reset, resetJA := "", ""
		if inc.AccountsCompromised > 0 {
			reset, resetJA = " (their passwords were used: force a reset)", "（パスワードの再設定が必要です）"
		}
		var top []string
		for i, s := range inc.TopSources {
			if i == 3 {
				break
			}
			top = append(top, fmt.Sprintf("%s (%s)", clean(s.Value), thousands(s.Attempts)))
		}
		topText := ""
		if len(top) > 0 {
			topText = " Top sources: " + strings.Join(top, ", ") + "."
		}
		subject = fmt.Sprintf("atoguard: incident %s closed / インシデント終了", inc.ID)
		text = fmt.Sprintf("✅ atoguard: incident %s closed after %s: %s attempts from %s IPs (%s prefixes), "+
			"%s accounts targeted, %s compromised%s.%s "+
			"Accounts: GET /v1/incidents/%s/accounts\n"+
			"✅ atoguard: インシデント %s が終了しました（%s 継続）。試行 %s 件、IP %s 個、対象アカウント %s 件、"+
			"パスワードが使われたアカウント %s 件%s。",
			inc.ID, dur, thousands(inc.Attempts), thousands(inc.DistinctIPs), thousands(inc.DistinctPrefixes),
			thousands(inc.AccountsTargeted), thousands(inc.AccountsCompromised), reset, topText, inc.ID,
			inc.ID, dur, thousands(inc.Attempts), thousands(inc.DistinctIPs),
			thousands(inc.AccountsTargeted), thousands(inc.AccountsCompromised), resetJA)
	}
	return message{subject: subject, text: text, data: d}
}

// shortDuration writes d to the second without zero units: 1h23m, 2h,
// 45s.
func shortDuration(d time.Duration) string {
	s := d.Round(time.Second).String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// maxField caps the length of a string from an event in a message.
const maxField = 120

// clean makes a string from an event safe to put in a line of text: no
// control characters (so no new lines or header tricks), at most
// maxField runes.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError || unicode.Is(unicode.Bidi_Control, r) {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxField {
		s = string([]rune(s)[:maxField]) + "…"
	}
	return s
}

// longDigits are runs of digits long enough to be a card or account
// number, with the spaces and dashes such numbers are written with.
var longDigits = regexp.MustCompile(`\d[\d -]{10,}\d`)

// redactDigits hides what could be a payment card or account number.
func redactDigits(s string) string { return longDigits.ReplaceAllString(s, "[redacted]") }

// maskEmail shows the first character of the local part and the domain:
// t***@example.jp.
func maskEmail(addr string) string {
	addr = clean(addr)
	at := strings.LastIndexByte(addr, '@')
	if at <= 0 {
		if addr == "" {
			return ""
		}
		return "***"
	}
	first, _ := utf8.DecodeRuneInString(addr)
	return string(first) + "***" + addr[at:]
}

// thousands formats n with comma separators: 131,800.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

func amountJA(n int64, currency string) string {
	if currency == "" || currency == "JPY" {
		return thousands(n) + "円"
	}
	return thousands(n) + " " + currency
}
