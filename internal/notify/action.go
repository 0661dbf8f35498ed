package notify

import (
	"fmt"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/store"
	"github.com/atoguard/atoguard/internal/webhook"
)

// Operator actions: what an operator asks the shop to do about accounts
// an incident reached (the dashboard's bulk actions). Each goes to every
// webhook taking its kind, one notification per account, so that each
// carries the account's id and its owner's addresses (the one on file
// before any recent change first) and is retried and acknowledged on its
// own. They are never emailed: the shop carries them out.
const (
	KindForcePasswordReset = webhook.KindForcePasswordReset
	KindNotifyOwner        = webhook.KindNotifyOwner
	KindFreezeOrders       = webhook.KindFreezeOrders
)

// ActionKinds returns the operator action kinds.
func ActionKinds() []string { return webhook.ActionKinds() }

// Action is an operator's bulk action: one Kind for a set of accounts of
// one incident.
type Action struct {
	Kind     string    // one of ActionKinds()
	Operator string    // the operator's name, as they signed in
	Incident string    // the incident id
	Batch    string    // the request: the same Batch, account and kind enqueue once
	Accounts int       // how many accounts the action covers
	At       time.Time // when the operator asked (the engine's clock)
}

// ActionTarget is one account of an Action.
type ActionTarget struct {
	Owner   Owner
	Outcome string // what the incident's traffic did with the account: allowed, challenge_passed, challenged, denied
}

// TakesKind reports whether a configured webhook takes kind.
func (p *Planner) TakesKind(kind string) bool {
	if p == nil {
		return false
	}
	for _, w := range p.webhooks {
		if matchKind(w.Kinds, kind) {
			return true
		}
	}
	return false
}

// OperatorAction returns the notifications of a for one of its accounts:
// one for every webhook taking a.Kind (none when no webhook does). To
// holds the owner's addresses at a.At, the one before any recent change
// first: where the shop sends reset links and notices.
func (p *Planner) OperatorAction(a Action, t ActionTarget, now time.Time) []store.Notification {
	if p == nil {
		return nil
	}
	var m message
	switch a.Kind {
	case KindNotifyOwner:
		m = p.ownerNoticeMessage(a, t)
	case KindForcePasswordReset, KindFreezeOrders:
		m = p.actionMessage(a, t)
	default:
		return nil
	}
	to := t.Owner.Contacts.Recipients(a.At, p.window)
	var out []store.Notification
	for _, w := range p.webhooks {
		if matchKind(w.Kinds, a.Kind) {
			out = append(out, p.build(a.Kind, a.Batch, store.ChannelWebhook, w.Name, t.Owner.Account, to, a.At, now, m))
		}
	}
	return out
}

func (a Action) data(t ActionTarget) webhook.ActionData {
	return webhook.ActionData{Action: strings.TrimPrefix(a.Kind, "action."), Operator: clean(a.Operator), Incident: clean(a.Incident),
		Outcome: clean(t.Outcome), Batch: a.Batch, Accounts: a.Accounts, At: a.At.UTC()}
}

// actionMessage says, for the shop's records, what the operator asked.
func (p *Planner) actionMessage(a Action, t ActionTarget) message {
	var subjJA, subjEN, whatJA, whatEN string
	switch a.Kind {
	case KindForcePasswordReset:
		subjJA, subjEN = "パスワードの強制リセット", "Force a password reset"
		whatJA = "このアカウントのすべてのログインを終了し、次回ログイン時に新しいパスワードの設定を求めてください。"
		whatEN = "End every session of this account and require a new password at its next login."
	case KindFreezeOrders:
		subjJA, subjEN = "注文の凍結", "Freeze orders"
		whatJA = "このアカウントの未発送の注文を保留し、確認が済むまで発送しないでください。"
		whatEN = "Hold this account's orders that have not shipped; do not ship them until someone has checked them."
	}
	acct, op, inc := clean(t.Owner.Account), clean(a.Operator), clean(a.Incident)
	ja := fmt.Sprintf("atoguard の運用者 %s が、インシデント %s で到達されたアカウント %s について依頼しました（%s）。\n%s",
		op, inc, acct, p.timeJA(a.At), whatJA)
	en := fmt.Sprintf("atoguard operator %s asked this about account %s, reached by incident %s (%s).\n%s",
		op, acct, inc, p.timeEN(a.At), whatEN)
	return message{
		subject: fmt.Sprintf("atoguard: %s / %s: %s", subjJA, subjEN, acct),
		text:    ja + separator + en,
		data:    a.data(t),
	}
}

// ownerNoticeMessage is what the owner of an account an attack reached is
// told: their password is known to someone else.
func (p *Planner) ownerNoticeMessage(a Action, t ActionTarget) message {
	siteEN := "our site"
	if p.site != "" {
		siteEN = p.site
	}
	var ja, en strings.Builder
	switch t.Outcome {
	case store.OutcomeAllowed, store.OutcomeChallengePassed:
		fmt.Fprintf(&ja, "%sへの不正ログインの試み（リスト型攻撃）の中で、あなたのアカウントに正しいパスワードでログインされたことを確認しました。", p.siteJA())
		fmt.Fprintf(&en, "During an attack on %s with passwords leaked elsewhere (credential stuffing), someone signed in to your account with its correct password.", siteEN)
	default:
		fmt.Fprintf(&ja, "%sへの不正ログインの試み（リスト型攻撃）の中で、あなたのアカウントへのログインが試みられました。", p.siteJA())
		fmt.Fprintf(&en, "During an attack on %s with passwords leaked elsewhere (credential stuffing), someone tried to sign in to your account.", siteEN)
	}
	ja.WriteString("\n\n")
	en.WriteString("\n\n")
	fmt.Fprintf(&ja, "日時: %s\n\n", p.timeJA(a.At))
	fmt.Fprintf(&en, "When: %s\n\n", p.timeEN(a.At))
	ja.WriteString("パスワードを変更し、最近のご注文と登録情報（メールアドレス、お届け先）をご確認ください。他のサービスで同じパスワードをお使いの場合は、そちらも変更してください。")
	en.WriteString("Change your password and check your recent orders and account details (email address, shipping address). If you use the same password elsewhere, change it there too.")
	return message{
		subject: "アカウントへの不正アクセスのおそれ / Your account may have been accessed by someone else",
		text:    ja.String() + separator + en.String(),
		data:    a.data(t),
	}
}
