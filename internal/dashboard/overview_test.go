package dashboard_test

import (
	"html"
	"regexp"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/dashboard"
	"github.com/atoguard/atoguard/internal/notify"
	"github.com/atoguard/atoguard/internal/signal/campaign"
	"github.com/atoguard/atoguard/internal/store/memory"
)

// testsEngine is an engine whose slower tests stand where tests says.
type testsEngine struct {
	dashboard.Engine
	tests []campaign.Rate
}

func (e testsEngine) Tests() []campaign.Rate { return e.tests }

var (
	rowRE  = regexp.MustCompile(`(?s)<tr( class="hot")?>(.*?)</tr>`)
	cellRE = regexp.MustCompile(`(?s)<td[^>]*>(.*?)</td>`)
	tagRE  = regexp.MustCompile(`<[^>]+>`)
)

// slowTestRows returns the rows of the overview's table of slower tests,
// "hot" first when the row is marked above, then each cell's text.
func slowTestRows(t *testing.T, body string) []string {
	t.Helper()
	_, table, ok := strings.Cut(body, `id="slow-tests"`)
	if !ok {
		t.Fatalf("no table of slower tests on the overview:\n%s", body)
	}
	table, _, _ = strings.Cut(table, "</table>")
	var rows []string
	for _, tr := range rowRE.FindAllStringSubmatch(table, -1) {
		cells := []string{strings.TrimSpace(tr[1])}
		for _, td := range cellRE.FindAllStringSubmatch(tr[2], -1) {
			cells = append(cells, html.UnescapeString(strings.TrimSpace(tagRE.ReplaceAllString(td[1], ""))))
		}
		if len(cells) > 1 {
			rows = append(rows, strings.Join(cells, "|"))
		}
	}
	return rows
}

// TestOverviewSlowerTests: the overview shows each slower test's
// statistic against its threshold, and marks the ones above it.
func TestOverviewSlowerTests(t *testing.T) {
	const (
		seq  = "逐次検定 sequential (CUSUM)"
		fail = "ログイン失敗 login failures"
		unk  = "存在しないアカウント unknown-account failures"
		str  = "見知らぬ相手の検定 strangers|見知らぬ相手の正しいパスワード correct passwords from strangers"
		fl   = "初回ログイン first logins|未知のネットワークからの初回ログイン first logins from unknown networks"
	)
	for _, tc := range []struct {
		name  string
		tests []campaign.Rate // nil: the engine's own, fresh
		want  []string
	}{
		{"fresh engine", nil, []string{
			`|` + seq + `|` + fail + `|0.0|—|12.0|0.0|閾値未満 below · 学習中 learning`,
			`|` + seq + `|` + unk + `|0.0|—|12.0|0.0|閾値未満 below · 学習中 learning`,
			`|` + str + `|0.0|—|6.0|0.0|閾値未満 below · 学習中 learning`,
			`|` + fl + `|0.0|0.0|2.0|0.0|閾値未満 below`,
		}},
		{"a slow crew and first logins", []campaign.Rate{
			{Test: campaign.SequentialTest, Metric: "login failures", Observed: 14.3, Open: 12},
			{Test: campaign.StrangersTest, Metric: campaign.Strangers.String(), Observed: 2.5, Open: 6},
			{Test: campaign.FirstLoginsTest, Metric: campaign.FirstLogins, Observed: 7, Expected: 1.5, Open: 2.5},
		}, []string{
			`class="hot"|` + seq + `|` + fail + `|14.3|—|12.0|14.3|閾値超過 above`,
			`|` + str + `|2.5|—|6.0|2.5|閾値未満 below`,
			`class="hot"|` + fl + `|7.0|1.5|2.5|7.0|閾値超過 above`,
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var edits []func(*dashboard.Deps)
			if tc.tests != nil {
				edits = append(edits, func(d *dashboard.Deps) { d.Engine = testsEngine{d.Engine, tc.tests} })
			}
			f := newFixtureOn(t, notify.Config{}, memory.New(), edits...)
			c, _ := f.signedIn(t)
			page := do(t, c, "GET", f.srv.URL+"/ui/", nil, nil)
			if diff := cmp.Diff(tc.want, slowTestRows(t, page.body)); diff != "" {
				t.Errorf("slower tests (-want +got):\n%s", diff)
			}
			checkNoInline(t, "overview", page.body)
		})
	}
}
