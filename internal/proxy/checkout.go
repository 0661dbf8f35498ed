package proxy

import (
	"crypto/rand"
	"encoding/hex"
	"net/http"
	"strconv"
	"strings"

	shopclient "github.com/atoguard/atoguard/client"
)

// checkout asks the guard about an order before it reaches the shop and
// reports whether it may go on. An order the guard holds (review) or
// refuses (deny) never reaches the shop: the buyer sees the hold page. A
// challenged order waits for the step-up and goes to the shop once it
// passes.
func (p *Proxy) checkout(w http.ResponseWriter, r *http.Request, x *exchange, body []byte) bool {
	rt := x.route
	ev := p.event(shopclient.OrderAttempt, x)
	ev.Credential = nil
	ev.User = &shopclient.User{ID: x.user.User, Email: x.user.Email}
	ev.Properties = &shopclient.Properties{Order: p.order(rt, x.values)}
	res := p.assess(r.Context(), rt, ev)
	switch {
	case res.Decision == shopclient.Allow:
		return true
	case res.Decision == shopclient.Challenge && res.Challenge != nil && len(res.Challenge.Methods) > 0:
		pd := &pending{ChallengeID: res.Challenge.ID, Methods: res.Challenge.Methods, Expires: res.Challenge.ExpiresAt,
			Device: x.ctx.DeviceID, Session: x.session, Who: x.user,
			Order: &heldRequest{Method: r.Method, URI: r.URL.RequestURI(), Header: r.Header.Clone(), Body: body}}
		if token, ok := p.pending.put(pd, p.opts.Now()); ok {
			http.Redirect(w, r, p.cfg.Prefix+"stepup?t="+token, http.StatusSeeOther)
			return false
		}
	}
	p.page(w, r, http.StatusAccepted, pageHold, pageData{})
	return false
}

// order is the order a checkout form describes, as far as the route's
// fields tell.
func (p *Proxy) order(rt *route, v Values) *shopclient.Order {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	amount := parseAmount(v.First(rt.Fields[FieldAmount]))
	o := &shopclient.Order{ID: "px-" + hex.EncodeToString(b), Amount: amount, Currency: "JPY"}
	for _, sku := range v[rt.Fields[FieldItems]] {
		if sku = clip(strings.TrimSpace(sku), 256); sku != "" {
			o.Items = append(o.Items, shopclient.Item{SKU: sku, Quantity: 1})
		}
	}
	if len(o.Items) == 0 {
		o.Items = []shopclient.Item{{SKU: "unknown", Quantity: 1}}
	}
	o.Items[0].UnitPrice = amount // the total, on the first line: the proxy sees no prices
	if a := clip(v.First(rt.Fields[FieldShippingAddress]), 256); a != "" {
		o.Shipping = &shopclient.Shipping{Line1: a}
	}
	if m := clip(v.First(rt.Fields[FieldPaymentMethod]), 256); m != "" {
		o.Payment = &shopclient.Payment{Method: m}
	}
	if s := clip(v.First(rt.Fields[FieldPickupStore]), 256); s != "" {
		o.Delivery = &shopclient.Delivery{Method: "convenience_store", PickupStore: s}
	}
	return o
}

// parseAmount reads an amount as shops print it: "131800", "131,800",
// "¥131,800", "1318.00" (the fraction is dropped). Anything else is 0.
func parseAmount(s string) int64 {
	s, _, _ = strings.Cut(strings.TrimSpace(s), ".")
	var digits strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			digits.WriteRune(r)
		case r == ',' || r == '¥' || r == '￥' || r == ' ' || r == '円':
		default:
			return 0
		}
	}
	n, err := strconv.ParseInt(digits.String(), 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}
