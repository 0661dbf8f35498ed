package dashboard

import (
	"bytes"
	"encoding/csv"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/atoguard/atoguard/internal/federation"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/store"
)

// pageNames are the templates in templates/, each rendered inside
// layout.html.
var pageNames = []string{"login", "overview", "incident", "reviews", "policy", "account", "error"}

var funcs = template.FuncMap{
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "—"
		}
		return t.UTC().Format("2006-01-02 15:04:05 UTC")
	},
	"num": func(v any) string {
		var s string
		switch n := v.(type) {
		case int64:
			s = strconv.FormatInt(n, 10)
		case int:
			s = strconv.Itoa(n)
		case float64:
			s = strconv.FormatFloat(n, 'f', 0, 64)
		default:
			return fmt.Sprint(v)
		}
		return groupDigits(s)
	},
	"decimal": func(f float64) string { return strconv.FormatFloat(f, 'f', 1, 64) },
	"label":   label,
	"join":    strings.Join,
	"path":    url.PathEscape,
}

func groupDigits(s string) string {
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, c := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(c)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// labels are the Japanese and English names of codes shown on the pages.
var labels = map[string]string{
	"allow":                              "許可 allow",
	"challenge":                          "追加認証 challenge",
	"deny":                               "拒否 deny",
	"review":                             "保留 review",
	"allowed":                            "許可 allowed",
	"challenged":                         "追加認証 challenged",
	"denied":                             "拒否 denied",
	"challenge_passed":                   "追加認証通過 challenge passed",
	"challenge_abandoned":                "追加認証放棄 challenge abandoned",
	"failed":                             "失敗 failed",
	"open":                               "対応中 open",
	"closed":                             "終了 closed",
	"pending":                            "未処理 pending",
	"approved":                           "承認 approved",
	"rejected":                           "却下 rejected",
	"credential_stuffing":                "リスト型攻撃 credential stuffing",
	"password_spraying":                  "パスワードスプレー password spraying",
	"ip":                                 "IP アドレス IP",
	"prefix":                             "ネットワーク prefix",
	"asn":                                "AS 番号 ASN",
	"user_agent":                         "ユーザーエージェント user agent",
	"login failures":                     "ログイン失敗 login failures",
	"unknown-account failures":           "存在しないアカウント unknown-account failures",
	"successes from unfamiliar contexts": "不慣れな環境からの成功 unfamiliar successes",
	campaign.SequentialTest:              "逐次検定 sequential (CUSUM)",
	campaign.StrangersTest:               "見知らぬ相手の検定 strangers",
	campaign.FirstLoginsTest:             "初回ログイン first logins",
	"correct passwords from strangers":   "見知らぬ相手の正しいパスワード correct passwords from strangers",
	campaign.FirstLogins:                 "未知のネットワークからの初回ログイン first logins from unknown networks",
}

func label(code string) string {
	if l, ok := labels[code]; ok {
		return l
	}
	return code
}

func parsePages() (map[string]*template.Template, error) {
	out := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("parsing dashboard template %s: %w", name, err)
		}
		out[name] = t
	}
	return out, nil
}

// render writes page with data; data["Session"] is set for signed-in
// operators, so the layout shows the navigation.
func (s *Server) render(w http.ResponseWriter, r *http.Request, status int, page string, data map[string]any) {
	if data == nil {
		data = map[string]any{}
	}
	if sess := sessionOf(r); sess.operator != "" {
		data["Session"] = sess
		data["Operator"] = sess.operator
		data["CSRFToken"] = sess.csrf
	}
	data["Page"] = page
	var buf bytes.Buffer
	if err := s.pages[page].Execute(&buf, data); err != nil {
		s.log.Error("rendering dashboard page", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}

type rateRow struct {
	Test, Metric             string
	Observed, Expected, Open float64
	Max                      float64 // the meter's scale
	Above                    bool
	Learning                 bool
}

// rateRows are the overview's rows of the campaign detector's tests.
func rateRows(rs []campaign.Rate) []rateRow {
	out := make([]rateRow, 0, len(rs))
	for _, rt := range rs {
		out = append(out, rateRow{Test: rt.Test, Metric: rt.Metric, Observed: rt.Observed, Expected: rt.Expected, Open: rt.Open,
			Max: max(rt.Open*1.5, rt.Observed, 1), Above: rt.Observed >= rt.Open, Learning: rt.Learning})
	}
	return out
}

type decisionRow struct {
	Decision   string
	Hour, Day  int64
	DayPercent float64
}

func (s *Server) overview(w http.ResponseWriter, r *http.Request) error {
	ctx := r.Context()
	if err := s.eng.Flush(ctx); err != nil {
		return fmt.Errorf("flushing incidents: %w", err)
	}
	incs, err := s.records.ListIncidents(ctx, "")
	if err != nil {
		return fmt.Errorf("listing incidents: %w", err)
	}
	var open, closed []store.Incident
	for _, in := range incs {
		if in.State == store.IncidentOpen {
			open = append(open, in)
		} else if len(closed) < 10 {
			closed = append(closed, in)
		}
	}
	pending, err := s.records.ListReviews(ctx, store.ReviewPending)
	if err != nil {
		return fmt.Errorf("listing reviews: %w", err)
	}
	now := s.clock.Wall()
	hour, err := s.records.DecisionCounts(ctx, now.Add(-time.Hour))
	if err != nil {
		return err
	}
	day, err := s.records.DecisionCounts(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	var total int64
	for _, n := range day {
		total += n
	}
	var decisions []decisionRow
	for _, d := range []string{"allow", "challenge", "deny", "review"} {
		row := decisionRow{Decision: d, Hour: hour[d], Day: day[d]}
		if total > 0 {
			row.DayPercent = 100 * float64(day[d]) / float64(total)
		}
		decisions = append(decisions, row)
	}
	data := map[string]any{
		"Open": open, "Closed": closed, "Pending": len(pending), "Decisions": decisions, "Total": total,
		"Rates": rateRows(s.eng.Rates()), "Tests": rateRows(s.eng.Tests()), "Now": now, "Federated": s.fed != nil,
	}
	if s.fed != nil {
		data["Peers"], data["Kinds"] = s.fed.Peers(s.clock.Now()), federation.Kinds
	}
	s.render(w, r, http.StatusOK, "overview", data)
	return nil
}

// told is how many facts incident id told the federation, and to which
// peers when known; -1 when the guard is not federated.
func (s *Server) told(id string) (int, []string) {
	t, ok := s.eng.(Teller)
	if !ok || s.fed == nil {
		return -1, nil
	}
	return t.Told(id)
}

func (s *Server) incident(r *http.Request) (store.Incident, error) {
	if err := s.eng.Flush(r.Context()); err != nil {
		return store.Incident{}, fmt.Errorf("flushing incidents: %w", err)
	}
	id := r.PathValue("id")
	inc, err := s.records.GetIncident(r.Context(), id)
	if errors.Is(err, store.ErrNotFound) {
		return store.Incident{}, &httpError{status: http.StatusNotFound, msg: "no such incident / インシデントがありません"}
	}
	if err != nil {
		return store.Incident{}, fmt.Errorf("loading incident: %w", err)
	}
	return inc, nil
}

// compromised reports whether an outcome means the attacker used the
// account's password: let in (allowed), stepped up (challenged: only a
// correct password is challenged, a wrong one is "failed") or through a
// step-up (challenge_passed), or left it unanswered (challenge_abandoned).
// Those accounts need a password reset, as
// the incident's accounts_compromised counts them. A denied login may
// have had the right password too; the record does not say, so it is
// not listed (the CSV and "every known account" cover it).
func compromised(outcome string) bool {
	return outcome == store.OutcomeAllowed || outcome == store.OutcomeChallenged || outcome == store.OutcomeChallengePassed ||
		outcome == store.OutcomeChallengeAbandoned
}

type accountRow struct {
	store.IncidentAccount
	AtRisk bool
}

// Accounts listed on the incident page, by default and with ?all=1; the
// CSV has every one.
const (
	defaultAccountRows = 100
	maxAccountRows     = 5000
)

func (s *Server) incidentPage(w http.ResponseWriter, r *http.Request) error {
	inc, err := s.incident(r)
	if err != nil {
		return err
	}
	accts, err := s.records.ListIncidentAccounts(r.Context(), inc.ID)
	if err != nil {
		return fmt.Errorf("listing incident accounts: %w", err)
	}
	outcomes := map[string]int{}
	var rows []accountRow
	for _, a := range accts {
		outcomes[a.Outcome]++
		rows = append(rows, accountRow{a, a.Known && compromised(a.Outcome)})
	}
	// Accounts at risk first, then accounts that exist, then by attempts.
	slices.SortStableFunc(rows, func(a, b accountRow) int {
		if a.AtRisk != b.AtRisk {
			if a.AtRisk {
				return -1
			}
			return 1
		}
		if a.Known != b.Known {
			if a.Known {
				return -1
			}
			return 1
		}
		return int(b.Attempts - a.Attempts)
	})
	limit := defaultAccountRows
	if r.URL.Query().Get("all") == "1" {
		limit = maxAccountRows
	}
	shown := rows
	if len(shown) > limit {
		shown = shown[:limit]
	}
	type outcomeCount struct {
		Outcome string
		N       int
	}
	var oc []outcomeCount
	order := []string{store.OutcomeAllowed, store.OutcomeChallengePassed, store.OutcomeChallenged, store.OutcomeChallengeAbandoned, store.OutcomeDenied}
	for _, o := range order {
		oc = append(oc, outcomeCount{o, outcomes[o]})
	}
	var others []string
	for o := range outcomes {
		if !slices.Contains(order, o) {
			others = append(others, o)
		}
	}
	slices.Sort(others)
	for _, o := range others {
		oc = append(oc, outcomeCount{o, outcomes[o]})
	}
	type sourceGroup struct {
		Kind    string
		Sources []store.Source
	}
	var groups []sourceGroup
	for _, src := range inc.TopSources {
		i := slices.IndexFunc(groups, func(g sourceGroup) bool { return g.Kind == src.Kind })
		if i < 0 {
			groups = append(groups, sourceGroup{Kind: src.Kind})
			i = len(groups) - 1
		}
		groups[i].Sources = append(groups[i].Sources, src)
	}
	var atRisk, known int
	for _, row := range rows {
		if row.Known {
			known++
		}
		if row.AtRisk {
			atRisk++
		}
	}
	bulk := s.bulkRows()
	sent, err := s.sentActions(r.Context(), inc.ID)
	if err != nil {
		return err
	}
	told, toldPeers := s.told(inc.ID)
	s.render(w, r, http.StatusOK, "incident", map[string]any{
		"Incident": inc, "Accounts": shown, "AccountTotal": len(rows), "Truncated": len(rows) > len(shown), "Outcomes": oc,
		"SourceGroups": groups, "Bulk": bulk, "Batch": randomToken(), "Done": doneOf(r.URL.Query()),
		"BulkEnabled": slices.ContainsFunc(bulk, func(b bulkRow) bool { return b.Enabled }),
		"AtRiskTotal": atRisk, "KnownTotal": known, "Sent": sent, "Told": told, "ToldPeers": toldPeers,
	})
	return nil
}

// csvCell defuses spreadsheet formulas: account names come from attackers.
func csvCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

func (s *Server) incidentCSV(w http.ResponseWriter, r *http.Request) error {
	inc, err := s.incident(r)
	if err != nil {
		return err
	}
	accts, err := s.records.ListIncidentAccounts(r.Context(), inc.ID)
	if err != nil {
		return fmt.Errorf("listing incident accounts: %w", err)
	}
	var buf bytes.Buffer
	cw := csv.NewWriter(&buf)
	_ = cw.Write([]string{"account", "known", "outcome", "needs_reset", "attempts", "first_seen", "last_seen"})
	for _, a := range accts {
		_ = cw.Write([]string{csvCell(a.Account), strconv.FormatBool(a.Known), a.Outcome,
			strconv.FormatBool(a.Known && compromised(a.Outcome)), strconv.FormatInt(a.Attempts, 10),
			a.FirstSeen.UTC().Format(time.RFC3339), a.LastSeen.UTC().Format(time.RFC3339)})
	}
	cw.Flush()
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf("attachment; filename=%q", inc.ID+"-accounts.csv"))
	_, _ = w.Write(buf.Bytes())
	return nil
}

func (s *Server) reviewsPage(w http.ResponseWriter, r *http.Request) error {
	state := r.URL.Query().Get("state")
	switch state {
	case "":
		state = store.ReviewPending
	case store.ReviewPending, store.ReviewApproved, store.ReviewRejected, "all":
	default:
		return &httpError{status: http.StatusBadRequest, msg: "state must be pending, approved, rejected or all"}
	}
	q := state
	if q == "all" {
		q = ""
	}
	rs, err := s.records.ListReviews(r.Context(), q)
	if err != nil {
		return fmt.Errorf("listing reviews: %w", err)
	}
	if len(rs) > 500 {
		rs = rs[:500]
	}
	s.render(w, r, http.StatusOK, "reviews", map[string]any{
		"State": state, "Reviews": rs, "States": []string{store.ReviewPending, store.ReviewApproved, store.ReviewRejected, "all"},
		"Done": r.URL.Query().Get("done"),
	})
	return nil
}

const maxNote = 1000

// decideReview approves or rejects a held order, recording the operator.
func (s *Server) decideReview(w http.ResponseWriter, r *http.Request) error {
	var state string
	switch r.PostForm.Get("action") {
	case "approve":
		state = store.ReviewApproved
	case "reject":
		state = store.ReviewRejected
	default:
		return &httpError{status: http.StatusBadRequest, msg: "action must be approve or reject / 操作が不正です"}
	}
	note := strings.TrimSpace(r.PostForm.Get("note"))
	if len(note) > maxNote || !utf8.ValidString(note) || strings.ContainsRune(note, 0) {
		return &httpError{status: http.StatusBadRequest, msg: fmt.Sprintf("the note must be text of at most %d bytes / メモが長すぎます", maxNote)}
	}
	id := r.PathValue("id")
	op := sessionOf(r).operator
	ok, err := s.records.DecideReview(r.Context(), id, state, "operator:"+op, note, s.clock.Wall().UTC())
	if errors.Is(err, store.ErrNotFound) {
		return &httpError{status: http.StatusNotFound, msg: "no such review / 保留注文がありません"}
	}
	if err != nil {
		return fmt.Errorf("deciding review: %w", err)
	}
	if !ok {
		return &httpError{status: http.StatusConflict, msg: "this order was already decided / この注文は処理済みです"}
	}
	s.log.Info("review decided from the dashboard", "review", id, "state", state, "operator", op)
	http.Redirect(w, r, "/ui/reviews?done="+id, http.StatusSeeOther)
	return nil
}

func (s *Server) policyPage(w http.ResponseWriter, r *http.Request) error {
	s.render(w, r, http.StatusOK, "policy", map[string]any{"Rules": s.eng.Policy().Stats()})
	return nil
}
