// Package testserver starts private PostgreSQL and Redis servers on free
// local ports for tests that must stop and restart a server, leaving the
// shared ones alone, and gives tests an empty schema on the shared
// PostgreSQL (PostgresSchema).
package testserver

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
)

// startTimeout bounds how long a server may take to start answering.
const startTimeout = 30 * time.Second

// PG is a private PostgreSQL cluster in a temporary directory, listening
// on 127.0.0.1 only, with trust authentication for the user postgres.
type PG struct {
	t    testing.TB
	bin  string // directory of initdb, pg_ctl and postgres
	base string // temporary directory: data dir, socket, log
	port int
	run  []string // prefix that runs a command as the postgres OS user

	mu      sync.Mutex
	running bool
}

// Postgres initializes and starts a private PostgreSQL cluster for t, and
// stops and removes it when t ends. It skips t when the PostgreSQL server
// binaries are not installed.
func Postgres(t testing.TB) *PG {
	t.Helper()
	bin := pgBinDir()
	if bin == "" {
		t.Skip("testserver: PostgreSQL binaries not found in /usr/lib/postgresql/*/bin or PATH")
	}
	pg := &PG{t: t, bin: bin}
	base, err := os.MkdirTemp("", "atoguard-pg-*")
	if err != nil {
		t.Fatalf("testserver: %v", err)
	}
	pg.base = base
	t.Cleanup(func() {
		pg.stop("immediate")
		_ = os.RemoveAll(base)
	})
	if os.Geteuid() == 0 { // initdb and postgres refuse to run as root
		u, err := user.Lookup("postgres")
		if err != nil {
			t.Skipf("testserver: running as root and there is no postgres OS user to run PostgreSQL: %v", err)
		}
		uid, _ := strconv.Atoi(u.Uid)
		gid, _ := strconv.Atoi(u.Gid)
		if err := os.Chown(base, uid, gid); err != nil {
			t.Fatalf("testserver: %v", err)
		}
		runuser, err := exec.LookPath("runuser")
		if err != nil {
			t.Skip("testserver: running as root and runuser is not installed")
		}
		pg.run = []string{runuser, "-u", "postgres", "--"}
	}
	if pg.port, err = freePort(); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	if out, err := pg.command("initdb", "-D", pg.dataDir(), "-U", "postgres", "-A", "trust",
		"-E", "UTF8", "--no-sync").CombinedOutput(); err != nil {
		t.Fatalf("testserver: initdb: %v\n%s", err, out)
	}
	pg.Start()
	return pg
}

// pgBinDir returns the newest /usr/lib/postgresql/*/bin holding pg_ctl,
// else the directory of a pg_ctl in PATH, else "".
func pgBinDir() string {
	dirs, _ := filepath.Glob("/usr/lib/postgresql/*/bin")
	slices.SortFunc(dirs, func(a, b string) int { return version(b) - version(a) })
	for _, d := range dirs {
		if _, err := os.Stat(filepath.Join(d, "pg_ctl")); err == nil {
			return d
		}
	}
	if p, err := exec.LookPath("pg_ctl"); err == nil {
		return filepath.Dir(p)
	}
	return ""
}

// version returns the major version in /usr/lib/postgresql/N/bin.
func version(dir string) int {
	n, _ := strconv.Atoi(filepath.Base(filepath.Dir(dir)))
	return n
}

func (pg *PG) dataDir() string { return filepath.Join(pg.base, "data") }

func (pg *PG) command(name string, args ...string) *exec.Cmd {
	argv := append(slices.Clone(pg.run), filepath.Join(pg.bin, name))
	argv = append(argv, args...)
	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Dir = pg.base
	return cmd
}

// URL returns the server's connection URL, for database postgres as user
// postgres, without TLS.
func (pg *PG) URL() string {
	return fmt.Sprintf("postgres://postgres@127.0.0.1:%d/postgres?sslmode=disable", pg.port)
}

// Port returns the TCP port the server listens on.
func (pg *PG) Port() int { return pg.port }

// Start starts the server on its data directory and port, and waits until
// it accepts connections. Starting a running server does nothing.
func (pg *PG) Start() {
	pg.t.Helper()
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if pg.running {
		return
	}
	opts := fmt.Sprintf("-p %d -k %s -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off",
		pg.port, pg.base)
	out, err := pg.command("pg_ctl", "-D", pg.dataDir(), "-l", filepath.Join(pg.base, "log"),
		"-w", "-t", strconv.Itoa(int(startTimeout/time.Second)), "-o", opts, "start").CombinedOutput()
	if err != nil {
		log, _ := os.ReadFile(filepath.Join(pg.base, "log"))
		pg.t.Fatalf("testserver: pg_ctl start: %v\n%s\n%s", err, out, log)
	}
	pg.running = true
}

// Stop stops the server (fast shutdown: sessions are ended, nothing
// committed is lost) and waits until it has exited. Stopping a stopped
// server does nothing.
func (pg *PG) Stop() {
	pg.t.Helper()
	if err := pg.stop("fast"); err != nil {
		pg.t.Fatalf("testserver: %v", err)
	}
}

func (pg *PG) stop(mode string) error {
	pg.mu.Lock()
	defer pg.mu.Unlock()
	if !pg.running {
		return nil
	}
	out, err := pg.command("pg_ctl", "-D", pg.dataDir(), "-w", "-m", mode, "stop").CombinedOutput()
	if err != nil {
		return fmt.Errorf("pg_ctl stop: %v\n%s", err, out)
	}
	pg.running = false
	return nil
}

// RedisServer is a private redis-server without persistence, listening
// on 127.0.0.1 only. Its data does not survive Stop.
type RedisServer struct {
	t    testing.TB
	bin  string
	dir  string
	port int

	mu     sync.Mutex
	cmd    *exec.Cmd  // nil while stopped
	exited chan error // receives cmd's exit
}

// Redis starts a private redis-server for t and stops it when t ends. It
// skips t when redis-server is not installed.
func Redis(t testing.TB) *RedisServer {
	t.Helper()
	bin, err := exec.LookPath("redis-server")
	if err != nil {
		t.Skip("testserver: redis-server not found in PATH")
	}
	r := &RedisServer{t: t, bin: bin, dir: t.TempDir()}
	if r.port, err = freePort(); err != nil {
		t.Fatalf("testserver: %v", err)
	}
	t.Cleanup(func() { _ = r.stop() })
	r.Start()
	return r
}

// Addr returns the server's host:port.
func (r *RedisServer) Addr() string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(r.port)) }

// URL returns the server's URL, database 0.
func (r *RedisServer) URL() string { return "redis://" + r.Addr() + "/0" }

// Start starts the server on its port and waits until it answers PING.
// Starting a running server does nothing.
func (r *RedisServer) Start() {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd != nil {
		return
	}
	cmd := exec.Command(r.bin, "--port", strconv.Itoa(r.port), "--bind", "127.0.0.1",
		"--save", "", "--appendonly", "no", "--dir", r.dir, "--logfile", filepath.Join(r.dir, "log"))
	if err := cmd.Start(); err != nil {
		r.t.Fatalf("testserver: starting redis-server: %v", err)
	}
	exited := make(chan error, 1)
	go func() { exited <- cmd.Wait() }()
	deadline := time.Now().Add(startTimeout)
	for {
		if err := Ping(r.Addr()); err == nil {
			break
		}
		select {
		case err := <-exited:
			log, _ := os.ReadFile(filepath.Join(r.dir, "log"))
			r.t.Fatalf("testserver: redis-server exited: %v\n%s", err, log)
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			_ = cmd.Process.Kill()
			<-exited
			r.t.Fatalf("testserver: redis-server did not answer within %v", startTimeout)
		}
	}
	r.cmd = cmd
	r.exited = exited
}

// Pause freezes the server (SIGSTOP): it keeps its connections but
// answers nothing, as a hung server does, until Resume.
func (r *RedisServer) Pause() { r.signal(syscall.SIGSTOP) }

// Resume lets a paused server go on (SIGCONT).
func (r *RedisServer) Resume() { r.signal(syscall.SIGCONT) }

func (r *RedisServer) signal(sig syscall.Signal) {
	r.t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		r.t.Fatal("testserver: redis-server is not running")
	}
	if err := r.cmd.Process.Signal(sig); err != nil {
		r.t.Fatalf("testserver: signalling redis-server: %v", err)
	}
}

// Stop stops the server and waits until it has exited. Stopping a stopped
// server does nothing.
func (r *RedisServer) Stop() {
	r.t.Helper()
	if err := r.stop(); err != nil {
		r.t.Fatalf("testserver: %v", err)
	}
}

func (r *RedisServer) stop() error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.cmd == nil {
		return nil
	}
	_ = r.cmd.Process.Signal(syscall.SIGCONT) // a paused server cannot act on the interrupt
	_ = r.cmd.Process.Signal(os.Interrupt)
	select {
	case <-r.exited:
	case <-time.After(10 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exited
	}
	r.cmd = nil
	return nil
}

// Ping sends a Redis PING to addr over a new connection and checks for
// +PONG.
func Ping(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(time.Second))
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if strings.TrimSpace(line) != "+PONG" {
		return fmt.Errorf("redis ping: got %q, want +PONG", strings.TrimSpace(line))
	}
	return nil
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("finding a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// PostgresSchema returns the URL of an empty schema on the shared test
// server (ATOGUARD_TEST_POSTGRES, or this machine's on 127.0.0.1:5432),
// dropped when t ends; it skips t when no server answers. For tests that
// need PostgreSQL but never stop it.
func PostgresSchema(t testing.TB) string {
	t.Helper()
	base := os.Getenv("ATOGUARD_TEST_POSTGRES")
	if base == "" {
		base = "postgres://postgres@127.0.0.1:5432/postgres?sslmode=disable"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, base)
	if err != nil {
		t.Skipf("PostgreSQL is not reachable (set ATOGUARD_TEST_POSTGRES to a server's URL): %v", err)
	}
	defer conn.Close(context.Background())
	var b [8]byte
	_, _ = rand.Read(b[:])
	schema := "atoguard_test_" + hex.EncodeToString(b[:])
	if _, err := conn.Exec(ctx, "CREATE SCHEMA "+schema); err != nil {
		t.Fatalf("creating schema %s: %v", schema, err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, base)
		if err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
			return
		}
		defer conn.Close(context.Background())
		if _, err := conn.Exec(ctx, "DROP SCHEMA "+schema+" CASCADE"); err != nil {
			t.Errorf("dropping schema %s: %v", schema, err)
		}
	})
	sep := "?"
	if strings.Contains(base, "?") {
		sep = "&"
	}
	return base + sep + "search_path=" + schema
}

// DeleteRedisKeys deletes the keys under prefix (prefix + ":*") from the
// Redis at url when t ends, so tests sharing a Redis leave nothing behind.
func DeleteRedisKeys(t testing.TB, url, prefix string) {
	t.Helper()
	opts, err := redis.ParseURL(url)
	if err != nil {
		t.Fatalf("parsing %s: %v", url, err)
	}
	opts.DisableIdentity = true
	opts.MaintNotificationsConfig = &maintnotifications.Config{Mode: maintnotifications.ModeDisabled}
	t.Cleanup(func() {
		rdb := redis.NewClient(opts)
		defer rdb.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		iter := rdb.Scan(ctx, 0, prefix+":*", 1000).Iterator()
		for iter.Next(ctx) {
			rdb.Del(ctx, iter.Val())
		}
		if err := iter.Err(); err != nil {
			t.Logf("deleting Redis keys %s:*: %v", prefix, err)
		}
	})
}
