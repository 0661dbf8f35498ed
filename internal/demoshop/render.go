package demoshop

import (
	"bytes"
	"embed"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"strings"
	"time"

	"github.com/atoguard/atoguard/internal/passkeyjs"
)

//go:embed templates/*.html
var templateFS embed.FS

//go:embed static
var staticRoot embed.FS

// staticFS serves /static/… from the embedded static directory.
var staticFS fs.FS = staticRoot

type pageTemplate = template.Template

var funcs = template.FuncMap{
	"yen":           yen,
	"method":        methodLabel,
	"paymentLabel":  paymentLabel,
	"deliveryLabel": deliveryLabel,
	"storeName":     storeName,
	"statusLabel":   statusLabel,
	"actionLabel":   actionLabel,
	"jst":           func(t time.Time) string { return t.In(jst).Format("2006-01-02 15:04") },
	"lines":         func(s string) []string { return strings.Split(s, "\n") },
	"passkeyVer":    passkeyjs.Version, // in the script's address: a new script, a new address
}

// parsePages parses each page with the layout.
func parsePages() (map[string]*pageTemplate, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, fmt.Errorf("listing templates: %w", err)
	}
	out := map[string]*pageTemplate{}
	for _, n := range names {
		base := strings.TrimPrefix(n, "templates/")
		if base == "layout.html" {
			continue
		}
		t, err := template.New("layout.html").Funcs(funcs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, fmt.Errorf("parsing %s: %w", n, err)
		}
		out[base] = t
	}
	return out, nil
}

// layoutData is what every page gets.
type layoutData struct {
	LoggedIn bool
	Name     string
	CSRF     string
	Page     any
}

// render writes a page. Pages are rendered to a buffer first, so a
// template error never leaves half a page.
func (s *Shop) render(w http.ResponseWriter, r *http.Request, status int, page string, data any) {
	t := s.pages[page]
	if t == nil {
		s.fail(w, r, fmt.Errorf("no template %s", page))
		return
	}
	v := visitOf(r)
	ld := layoutData{Page: data}
	if v != nil {
		ld.LoggedIn, ld.Name, ld.CSRF = v.loggedIn, v.account.Name, v.csrf
	}
	var buf bytes.Buffer
	if err := t.Execute(&buf, ld); err != nil {
		s.fail(w, r, fmt.Errorf("rendering %s: %w", page, err))
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write(buf.Bytes())
}
