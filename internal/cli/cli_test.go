package cli_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/atoguard/atoguard/internal/cli"
	"github.com/atoguard/atoguard/internal/policy"
	"github.com/atoguard/atoguard/internal/store/sqlite"
)

// lockedBuffer is a bytes.Buffer safe for a server goroutine and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func noEnv(string) string { return "" }

// run runs the command line to completion.
func run(t *testing.T, args ...string) (code int, stdout, stderr string) {
	t.Helper()
	var out, errb lockedBuffer
	code = cli.Main(context.Background(), args, &out, &errb, noEnv)
	return code, out.String(), errb.String()
}

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

const goodPolicy = `version: 1
rules:
  - id: automation
    when: Event.IsLogin && Bot.AutomationUA
    decision: deny
    risk: 95
    reasons: [bot.automation_ua]
  - id: campaign
    when: Event.Succeeded && Campaign.Active && !Account.Familiar
    decision: challenge
    risk: 80
    reasons: [campaign.active]
`

const badPolicy = `version: 2
rules:
  - id: one
    when: Event.IsLogin &&
    decision: block
    risk: 120
    reasons: [made.up]
  - id: one
    when: "true"
    decision: allow
  - when: ""
    decision: deny
`

func TestCommands(t *testing.T) {
	good := writeFile(t, "good.yaml", goodPolicy)
	builtin := writeFile(t, "builtin.yaml", string(policy.DefaultYAML()))
	bad := writeFile(t, "bad.yaml", badPolicy)
	tests := []struct {
		name       string
		args       []string
		wantCode   int
		wantStdout []string // substrings
		wantStderr []string
	}{
		{"version", []string{"version"}, 0, []string{"atoguard "}, nil},
		{"version takes no args", []string{"version", "extra"}, 1, nil, []string{"atoguard:"}},
		{"unknown command", []string{"frobnicate"}, 1, nil, []string{"unknown command", "frobnicate"}},
		{"policy check good", []string{"policy", "check", good}, 0, []string{good + ": ok, 2 rules"}, nil},
		{"policy check built-in", []string{"policy", "check", builtin}, 0, []string{": ok, "}, nil},
		{"policy check bad", []string{"policy", "check", bad}, 1, nil, []string{
			"version: 2 is not supported",
			`rules[0] (one): decision "block" is not allow, challenge, review or deny`,
			"rules[0] (one): risk 120 is not within 0-100",
			`rules[0] (one): reason "made.up" is not a known reason code`,
			"rules[0] (one): when:",
			"rules[1] (one): id is used twice",
			"rules[2]: id is empty",
			"rules[2]: when is empty",
		}},
		{"policy check missing file", []string{"policy", "check", filepath.Join(t.TempDir(), "nope.yaml")}, 1, nil, []string{"reading policy"}},
		{"policy check no file", []string{"policy", "check"}, 1, nil, []string{"arg"}},
		{"policy show", []string{"policy", "show"}, 0, []string{"version: 1", "campaign-unfamiliar-login"}, nil},
		{"serve bad clock", []string{"serve", "--clock", "sundial", "--listen", "127.0.0.1:0", "--data", filepath.Join(t.TempDir(), "data")}, 1, nil,
			[]string{"invalid configuration", `clock: clock "sundial": want wall or event`}},
		{"serve bad listen", []string{"serve", "--listen", "8080", "--data", filepath.Join(t.TempDir(), "data")}, 1, nil,
			[]string{"invalid configuration", `listen: "8080" is not host:port`}},
		{"serve bad config", []string{"serve", "--config", writeFile(t, "c.yaml", "lissen: x\n")}, 1, nil, []string{"lissen"}},
		{"serve bad policy", []string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--policy", bad}, 1, nil, []string{"version: 2 is not supported"}},
		{"serve half a TLS pair", []string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(), "--tls-cert-file", good}, 1, nil,
			[]string{"invalid configuration", "tls: cert_file and key_file go together"}},
		{"serve TLS pair that does not load", []string{"serve", "--listen", "127.0.0.1:0", "--data", t.TempDir(),
			"--tls-cert-file", good, "--tls-key-file", good}, 1, nil, []string{"tls: loading TLS certificate " + good}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			code, stdout, stderr := run(t, tt.args...)
			if code != tt.wantCode {
				t.Errorf("exit %d, want %d\nstdout: %s\nstderr: %s", code, tt.wantCode, stdout, stderr)
			}
			for _, s := range tt.wantStdout {
				if !strings.Contains(stdout, s) {
					t.Errorf("stdout lacks %q:\n%s", s, stdout)
				}
			}
			for _, s := range tt.wantStderr {
				if !strings.Contains(stderr, s) {
					t.Errorf("stderr lacks %q:\n%s", s, stderr)
				}
			}
			if tt.wantCode != 0 && stderr == "" {
				t.Error("failed without a message on stderr")
			}
		})
	}
}

func TestServeInvalidClockTouchesNothing(t *testing.T) {
	data := filepath.Join(t.TempDir(), "data")
	if code, _, _ := run(t, "serve", "--clock", "sundial", "--data", data); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if _, err := os.Stat(data); !os.IsNotExist(err) {
		t.Errorf("data directory exists after a rejected configuration: %v", err)
	}
}

func TestPolicyReasons(t *testing.T) {
	code, stdout, stderr := run(t, "policy", "reasons")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	var got, want []string
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		got = append(got, strings.Fields(line)[0])
	}
	for _, c := range policy.ReasonCodes() {
		want = append(want, c.Code)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("reason codes (-want +got):\n%s", diff)
	}
	for _, must := range []string{"campaign.active", "account.new_device", "bot.automation_ua"} {
		if !strings.Contains(stdout, must) {
			t.Errorf("reasons lack %s", must)
		}
	}
}

var secretLine = regexp.MustCompile(`(?m)^secret: (\S+)$`)

func TestKeysCreate(t *testing.T) {
	data := t.TempDir()
	code, stdout, stderr := run(t, "keys", "create", "--data", data, "--name", "shop", "--scopes", "events, challenges,events")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	m := secretLine.FindAllStringSubmatch(stdout, -1)
	if len(m) != 1 {
		t.Fatalf("want one secret line, got %d:\n%s", len(m), stdout)
	}
	secret := m[0][1]
	if !strings.HasPrefix(secret, "agk_") || len(secret) < 40 {
		t.Errorf("secret %q: want agk_ and at least 32 random bytes", secret)
	}
	if n := strings.Count(stdout, secret); n != 1 {
		t.Errorf("secret printed %d times, want once", n)
	}
	if strings.Contains(stderr, secret) {
		t.Error("secret on stderr")
	}

	ctx := context.Background()
	st, err := sqlite.Open(ctx, data, sqlite.Options{})
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256([]byte(secret))
	k, err := st.KeyByHash(ctx, sum[:])
	if err != nil {
		t.Fatalf("KeyByHash(sha256(secret)): %v", err)
	}
	type key struct {
		Name     string
		Scopes   []string
		Disabled bool
	}
	if diff := cmp.Diff(key{Name: "shop", Scopes: []string{"events", "challenges"}}, key{k.Name, k.Scopes, k.Disabled}); diff != "" {
		t.Errorf("stored key (-want +got):\n%s", diff)
	}
	if !strings.HasPrefix(k.ID, "key_") || k.CreatedAt.IsZero() {
		t.Errorf("stored key id %q, created %v", k.ID, k.CreatedAt)
	}
	if err := st.Close(); err != nil {
		t.Fatal(err)
	}

	// The secret is nowhere on disk: not in the database, its WAL, or
	// anything else in the data directory.
	err = filepath.WalkDir(data, func(path string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if bytes.Contains(b, []byte(secret)) || bytes.Contains(b, []byte(strings.TrimPrefix(secret, "agk_"))) {
			t.Errorf("%s holds the secret", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	// keys list shows the key, never the secret.
	code, stdout, stderr = run(t, "keys", "list", "--data", data)
	if code != 0 {
		t.Fatalf("keys list: exit %d: %s", code, stderr)
	}
	if !strings.Contains(stdout, k.ID+"\tshop\tevents,challenges\t") || strings.Contains(stdout, secret) {
		t.Errorf("keys list:\n%s", stdout)
	}
}

func TestKeysCreateErrors(t *testing.T) {
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"bad scope", []string{"--name", "shop", "--scopes", "events,root"}, `scope "root"`},
		{"no scope", []string{"--name", "shop", "--scopes", " , "}, "--scopes"},
		{"no name", []string{"--scopes", "events"}, "--name"},
		{"blank name", []string{"--name", "  ", "--scopes", "events"}, "--name"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data := filepath.Join(t.TempDir(), "data")
			code, stdout, stderr := run(t, append([]string{"keys", "create", "--data", data}, tt.args...)...)
			if code != 1 {
				t.Errorf("exit %d, want 1", code)
			}
			if !strings.Contains(stderr, tt.want) {
				t.Errorf("stderr lacks %q:\n%s", tt.want, stderr)
			}
			if strings.Contains(stdout, "agk_") {
				t.Errorf("a secret was printed:\n%s", stdout)
			}
			if _, err := os.Stat(data); !os.IsNotExist(err) {
				t.Errorf("data directory created for a rejected key: %v", err)
			}
		})
	}
}

// freeAddr returns a loopback address with a port that was free a moment
// ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}
	return addr
}

type server struct {
	base   string
	cancel context.CancelFunc
	done   chan int
	stdout *lockedBuffer
	stderr *lockedBuffer
}

// startServe runs `atoguard serve` in a goroutine and waits until /readyz
// answers 200.
func startServe(t *testing.T, bootstrap string, args ...string) *server {
	t.Helper()
	addr := freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	s := &server{base: "http://" + addr, cancel: cancel, done: make(chan int, 1), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}}
	getenv := func(k string) string {
		if k == "ATOGUARD_API_KEY" {
			return bootstrap
		}
		return ""
	}
	go func() {
		s.done <- cli.Main(ctx, append([]string{"serve", "--listen", addr}, args...), s.stdout, s.stderr, getenv)
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-s.done:
		case <-time.After(15 * time.Second):
			t.Error("serve did not stop")
		}
	})
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(10 * time.Second)
	for {
		select {
		case code := <-s.done:
			s.done <- code
			t.Fatalf("serve exited with %d before it was ready\nstderr: %s", code, s.stderr)
		default:
		}
		resp, err := client.Get(s.base + "/readyz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return s
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("serve not ready after 10 s (last error %v)\nstderr: %s", err, s.stderr)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// stop cancels serve and returns its exit code.
func (s *server) stop(t *testing.T) int {
	t.Helper()
	s.cancel()
	select {
	case code := <-s.done:
		s.done <- code // for the cleanup
		return code
	case <-time.After(15 * time.Second):
		t.Fatal("serve did not stop within 15 s")
		return -1
	}
}

func TestServeSmoke(t *testing.T) {
	const bootstrap = "smoke-test-bootstrap-secret"
	data := t.TempDir()
	s := startServe(t, bootstrap, "--data", data, "--clock", "event")

	body := `{"type": "login.succeeded", "occurred_at": "2026-11-25T10:00:00Z", "login": "taro@example.jp",
	  "user": {"id": "u-1"}, "context": {"ip": "203.0.113.7", "user_agent": "Mozilla/5.0", "accept_language": "ja"},
	  "credential": {"password_sha1": "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8"}}`
	post := func(secret string) *http.Response {
		req, err := http.NewRequest("POST", s.base+"/v1/events", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Authorization", "Bearer "+secret)
		req.Header.Set("Content-Type", "application/json")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp
	}
	if resp := post("wrong-secret"); resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("wrong key: status %d, want 401", resp.StatusCode)
	}
	if resp := post(bootstrap); resp.StatusCode != http.StatusOK {
		t.Fatalf("event: status %d, want 200\nstderr: %s", resp.StatusCode, s.stderr)
	}

	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited with %d, want 0\nstderr: %s", code, s.stderr)
	}
	if out := s.stdout.String(); !strings.Contains(out, "atoguard listening on "+s.base) || !strings.Contains(out, "clock event") {
		t.Errorf("stdout: %s", out)
	}
	if strings.Contains(s.stderr.String(), bootstrap) || strings.Contains(strings.ToLower(s.stderr.String()), "5baa61e4") {
		t.Errorf("log holds a secret:\n%s", s.stderr)
	}
}

// TestServeZeroTickEvery: a config file may give 0 for tick_every, which
// (like every zero value) means the default; it must not crash serve.
func TestServeZeroTickEvery(t *testing.T) {
	data := t.TempDir()
	cfg := writeFile(t, "atoguard.yaml", fmt.Sprintf("tick_every: 0s\nlog_format: json\ndata: %q\n", data))
	s := startServe(t, "", "--config", cfg)
	if code := s.stop(t); code != 0 {
		t.Fatalf("serve exited with %d, want 0\nstderr: %s", code, s.stderr)
	}
	if !strings.Contains(s.stderr.String(), `"msg":"ATOGUARD_API_KEY is not set`) {
		t.Errorf("want a JSON warning about the missing bootstrap key, got:\n%s", s.stderr)
	}
}
