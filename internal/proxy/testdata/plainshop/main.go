// Command plainshop is a small shop that knows nothing of atoguard: plain
// HTML forms, its own sessions and cookies, the standard library only. The
// proxy's tests run it behind `atoguard proxy`.
//
// Accounts: user000@plain.test … with passwords correct-horse-000 …
// (-accounts N). It prints "listening on HOST:PORT" once it serves.
package main

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"html/template"
	"log"
	"net"
	"net/http"
	"strings"
	"sync"
)

type shop struct {
	mu        sync.Mutex
	passwords map[string]string // email → password
	sessions  map[string]string // session id → email
	orders    []order
	stats     map[string]int
}

type order struct {
	Email, SKU, Total, Address, Store, Payment string
}

var page = template.Must(template.New("p").Parse(`<!doctype html><html><head><title>Plain Shop</title></head><body>
{{if .Failed}}<p class="error">login failed</p>{{end}}
{{if .Email}}<p>Welcome, {{.Email}}</p>
<form method="post" action="/checkout"><input name="sku" value="phone-x"><input name="total" value="1980">
<input name="address" value=""><input name="store" value=""><input name="payment" value="card"><button>Buy</button></form>
<form method="post" action="/logout"><button>Log out</button></form>
{{else}}<form method="post" action="/login"><input name="email"><input name="password" type="password"><button>Log in</button></form>
<form method="post" action="/register"><input name="email"><input name="password" type="password"><button>Register</button></form>{{end}}
</body></html>`))

func newID() string {
	b := make([]byte, 16)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

func (s *shop) user(r *http.Request) string {
	c, err := r.Cookie("PLAINSID")
	if err != nil {
		return ""
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.sessions[c.Value]
}

func (s *shop) count(name string) {
	s.mu.Lock()
	s.stats[name]++
	s.mu.Unlock()
}

func (s *shop) render(w http.ResponseWriter, status int, data map[string]any) {
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	_ = page.Execute(w, data)
}

func (s *shop) startSession(w http.ResponseWriter, email string) {
	id := newID()
	s.mu.Lock()
	s.sessions[id] = email
	s.mu.Unlock()
	http.SetCookie(w, &http.Cookie{Name: "PLAINSID", Value: id, Path: "/", HttpOnly: true})
}

func (s *shop) login(w http.ResponseWriter, r *http.Request) {
	email, pw := strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), r.PostFormValue("password")
	s.mu.Lock()
	want, ok := s.passwords[email]
	s.mu.Unlock()
	if !ok || want != pw {
		s.count("logins_failed")
		s.render(w, http.StatusOK, map[string]any{"Failed": true})
		return
	}
	s.count("logins_ok")
	s.startSession(w, email)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (s *shop) register(w http.ResponseWriter, r *http.Request) {
	email, pw := strings.ToLower(strings.TrimSpace(r.PostFormValue("email"))), r.PostFormValue("password")
	s.mu.Lock()
	_, taken := s.passwords[email]
	if !taken && email != "" && pw != "" {
		s.passwords[email] = pw
	}
	s.mu.Unlock()
	if taken || email == "" || pw == "" {
		s.render(w, http.StatusOK, map[string]any{"Failed": true})
		return
	}
	s.count("registrations")
	s.startSession(w, email)
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (s *shop) checkout(w http.ResponseWriter, r *http.Request) {
	email := s.user(r)
	if email == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.mu.Lock()
	s.orders = append(s.orders, order{Email: email, SKU: r.PostFormValue("sku"), Total: r.PostFormValue("total"),
		Address: r.PostFormValue("address"), Store: r.PostFormValue("store"), Payment: r.PostFormValue("payment")})
	s.mu.Unlock()
	http.Redirect(w, r, "/orders", http.StatusSeeOther)
}

func (s *shop) profile(w http.ResponseWriter, r *http.Request) {
	if s.user(r) == "" {
		http.Redirect(w, r, "/login", http.StatusSeeOther)
		return
	}
	s.count("profile_changes")
	http.Redirect(w, r, "/account", http.StatusSeeOther)
}

func (s *shop) logout(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie("PLAINSID"); err == nil {
		s.mu.Lock()
		if _, ok := s.sessions[c.Value]; ok {
			delete(s.sessions, c.Value)
			s.stats["logouts"]++
		}
		s.mu.Unlock()
	}
	http.SetCookie(w, &http.Cookie{Name: "PLAINSID", Value: "", Path: "/", MaxAge: -1})
	http.Redirect(w, r, "/login", http.StatusSeeOther)
}

func main() {
	listen := flag.String("listen", "127.0.0.1:0", "address to listen on")
	accounts := flag.Int("accounts", 50, "accounts to seed")
	flag.Parse()
	s := &shop{passwords: map[string]string{}, sessions: map[string]string{}, stats: map[string]int{}}
	for i := range *accounts {
		s.passwords[fmt.Sprintf("user%03d@plain.test", i)] = fmt.Sprintf("correct-horse-%03d", i)
	}
	m := http.NewServeMux()
	m.HandleFunc("GET /login", func(w http.ResponseWriter, r *http.Request) { s.render(w, 200, map[string]any{}) })
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /register", s.register)
	m.HandleFunc("GET /account", func(w http.ResponseWriter, r *http.Request) {
		email := s.user(r)
		if email == "" {
			http.Redirect(w, r, "/login", http.StatusSeeOther)
			return
		}
		s.render(w, 200, map[string]any{"Email": email})
	})
	m.HandleFunc("POST /checkout", s.checkout)
	m.HandleFunc("GET /orders", func(w http.ResponseWriter, r *http.Request) {
		email := s.user(r)
		s.mu.Lock()
		n := 0
		for _, o := range s.orders {
			if o.Email == email {
				n++
			}
		}
		s.mu.Unlock()
		fmt.Fprintf(w, "orders: %d\n", n)
	})
	m.HandleFunc("POST /logout", s.logout)
	m.HandleFunc("POST /profile", s.profile)
	m.HandleFunc("GET /boom", func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "shop broke", http.StatusInternalServerError)
	})
	m.HandleFunc("GET /stats", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		defer s.mu.Unlock()
		out := map[string]any{"sessions": len(s.sessions), "orders": len(s.orders)}
		for k, v := range s.stats {
			out[k] = v
		}
		_ = json.NewEncoder(w).Encode(out)
	})
	m.HandleFunc("GET /", func(w http.ResponseWriter, r *http.Request) { fmt.Fprintln(w, "plain shop") })
	ln, err := net.Listen("tcp", *listen)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on %s\n", ln.Addr())
	log.Fatal(http.Serve(ln, m))
}
