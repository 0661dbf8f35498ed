package logreplay

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// The emitted ban lists are read back by the tools that consume them,
// each against a private server the test starts in a temporary directory
// (its own socket, database and port on loopback; nothing of the
// machine's own configuration or services). The tests skip with a
// message where the tools are not installed (.ci/run installs them).

// readyWithin is how long a private server may take to answer: a
// deadline for a slow shared machine, not a figure anything asserts.
const readyWithin = 60 * time.Second

// replayedSources replays the generated test log and returns its report,
// with an IPv6 source added so both families are read back.
func replayedSources(t *testing.T) *Report {
	t.Helper()
	rep := replayTestLog(t)
	if len(rep.Sources) < 200 {
		t.Fatalf("sources: got %d, want hundreds (more than one fail2ban-client call)", len(rep.Sources))
	}
	rep.Sources = append(rep.Sources, Source{IP: "2001:db8::7", Prefix: "2001:db8::/64", Reason: "source.ip_velocity"})
	return rep
}

func sourceIPs(rep *Report) []string {
	var ips []string
	for _, s := range rep.Sources {
		ips = append(ips, s.IP)
	}
	slices.Sort(ips)
	return ips
}

// diffSets reports the addresses only in want and only in got, a few each.
func diffSets(t *testing.T, what string, got, want []string) {
	t.Helper()
	slices.Sort(got)
	got = slices.Compact(got)
	var missing, extra []string
	for _, ip := range want {
		if _, ok := slices.BinarySearch(got, ip); !ok {
			missing = append(missing, ip)
		}
	}
	for _, ip := range got {
		if _, ok := slices.BinarySearch(want, ip); !ok {
			extra = append(extra, ip)
		}
	}
	if len(missing) > 0 || len(extra) > 0 {
		t.Errorf("%s: got %d addresses, want %d; missing %d (%v), unexpected %d (%v)",
			what, len(got), len(want), len(missing), head(missing), len(extra), head(extra))
	}
}

func head(s []string) []string { return s[:min(len(s), 5)] }

// privateFail2ban starts a fail2ban server in a temporary directory with
// one jail that reads nothing (an empty log, no filter) and bans with an
// action that does nothing (the bans are its state), and returns a
// fail2ban-client pointed at it.
func privateFail2ban(t *testing.T, client, jail string) func(args ...string) (string, error) {
	// A short directory: the server's Unix socket path has a length limit.
	dir, err := os.MkdirTemp("", "f2b")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	sock := filepath.Join(dir, "f2b.sock")
	writeFiles(t, dir, map[string]string{
		"fail2ban.conf": fmt.Sprintf("[Definition]\nloglevel = INFO\nlogtarget = %s\nsyslogsocket = auto\nsocket = %s\npidfile = %s\ndbfile = %s\ndbpurgeage = 1d\nallowipv6 = auto\n",
			filepath.Join(dir, "fail2ban.log"), sock, filepath.Join(dir, "f2b.pid"), filepath.Join(dir, "f2b.sqlite3")),
		"jail.conf":            fmt.Sprintf("[%s]\nenabled = true\nbackend = polling\nlogpath = %s\nfilter =\naction = record\nbantime = 1d\n", jail, filepath.Join(dir, "empty.log")),
		"action.d/record.conf": "[Definition]\nactionstart =\nactionstop =\nactioncheck =\nactionban =\nactionunban =\n",
		"empty.log":            "",
	})
	f2b := func(args ...string) (string, error) {
		out, err := exec.Command(client, append([]string{"-c", dir, "-s", sock}, args...)...).CombinedOutput()
		return string(out), err
	}
	server := exec.Command(client, "-f", "-x", "-c", dir, "-s", sock, "-p", filepath.Join(dir, "f2b.pid"), "start")
	startServer(t, server, dir, func() { _, _ = f2b("stop") }, func() bool {
		out, err := f2b("status", jail)
		return err == nil && strings.Contains(out, "Status for the jail: "+jail)
	})
	return f2b
}

// writeFiles writes files (name: body) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, body := range files {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

// startServer starts a private server with its output in dir, stops it
// when t ends (with stop, or SIGTERM when stop is nil; SIGKILL if it is
// still there after a while), and waits until ready says it answers.
func startServer(t *testing.T, cmd *exec.Cmd, dir string, stop func(), ready func() bool) {
	t.Helper()
	name := filepath.Join(dir, "server.out")
	f, err := os.Create(name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	cmd.Stdout, cmd.Stderr = f, f
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	t.Cleanup(func() {
		if stop != nil {
			stop()
		} else {
			_ = cmd.Process.Signal(syscall.SIGTERM)
		}
		select {
		case <-done:
		case <-time.After(20 * time.Second):
			_ = cmd.Process.Kill()
			<-done
		}
	})
	for deadline := time.Now().Add(readyWithin); !ready(); time.Sleep(200 * time.Millisecond) {
		if time.Now().After(deadline) {
			out, _ := os.ReadFile(name)
			t.Fatalf("%s did not answer within %v:\n%s", filepath.Base(cmd.Path), readyWithin, out)
		}
	}
}

// TestEmitReadBackFail2ban runs `--emit fail2ban`'s commands against a
// private fail2ban server with the jail they name, and checks that the
// jail bans exactly the report's sources.
func TestEmitReadBackFail2ban(t *testing.T) {
	client, err := exec.LookPath("fail2ban-client")
	if err != nil {
		t.Skip("fail2ban-client is not installed (Debian package fail2ban): the fail2ban list is not read back")
	}
	rep := replayedSources(t)
	f2b := privateFail2ban(t, client, "shop")

	var emitted bytes.Buffer
	if err := rep.Emit(&emitted, "fail2ban", EmitOptions{Jail: "shop"}); err != nil {
		t.Fatal(err)
	}
	calls := 0
	for l := range strings.Lines(emitted.String()) {
		f := strings.Fields(l)
		if len(f) < 5 || f[0] != "fail2ban-client" || f[1] != "set" || f[2] != "shop" || f[3] != "banip" {
			t.Fatalf("emitted line %q: want fail2ban-client set shop banip IP...", l)
		}
		// The line as an operator runs it, pointed at the private server.
		if out, err := f2b(f[1:]...); err != nil {
			t.Fatalf("%s: %v\n%s", strings.TrimSpace(l), err, out)
		}
		calls++
	}
	if calls < 2 {
		t.Errorf("fail2ban-client calls: got %d, want several (100 addresses a call)", calls)
	}
	out, err := f2b("get", "shop", "banned")
	if err != nil {
		t.Fatalf("get shop banned: %v\n%s", err, out)
	}
	var banned []string
	for _, m := range regexp.MustCompile(`'([^']+)'`).FindAllStringSubmatch(out, -1) {
		banned = append(banned, m[1])
	}
	diffSets(t, "the jail's banned addresses", banned, sourceIPs(rep))
}

// crowdsecConfig is a private CrowdSec: its local API alone (crowdsec
// -no-cs) on a loopback port, its database and credentials in dir, no
// Central API, no metrics listener.
const crowdsecConfig = `common:
  daemonize: false
  log_media: stdout
  log_level: warning
  working_dir: {{dir}}
config_paths:
  config_dir: {{dir}}/
  data_dir: {{dir}}/data/
  simulation_path: {{dir}}/simulation.yaml
  hub_dir: {{dir}}/hub/
  index_path: {{dir}}/hub/.index.json
db_config:
  type: sqlite
  db_path: {{dir}}/data/crowdsec.db
  use_wal: false
api:
  client:
    credentials_path: {{dir}}/local_api_credentials.yaml
  server:
    log_level: warning
    listen_uri: {{listen}}
    profiles_path: {{dir}}/profiles.yaml
prometheus:
  enabled: false
`

const crowdsecProfiles = `name: default_ip_remediation
filters:
 - Alert.Remediation == true && Alert.GetScope() == "Ip"
decisions:
 - type: ban
   duration: 4h
on_success: break
`

// TestEmitReadBackCrowdSec imports `--emit crowdsec-decisions` with
// `cscli decisions import` into a private CrowdSec local API and checks
// that it holds a ban of the emitted duration for exactly the report's
// sources.
func TestEmitReadBackCrowdSec(t *testing.T) {
	cscli, err := exec.LookPath("cscli")
	if err != nil {
		t.Skip("cscli is not installed (Debian package crowdsec): the CrowdSec decisions are not read back")
	}
	crowdsec, err := exec.LookPath("crowdsec")
	if err != nil {
		t.Skip("crowdsec is not installed (Debian package crowdsec): the CrowdSec decisions are not read back")
	}
	rep := replayedSources(t)
	dir := t.TempDir()
	cs := privateCrowdSec(t, cscli, crowdsec, dir)

	var emitted bytes.Buffer
	if err := rep.Emit(&emitted, "crowdsec-decisions", EmitOptions{Duration: 6 * time.Hour}); err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, "decisions.json")
	if err := os.WriteFile(file, emitted.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := cs("decisions", "import", "-i", file)
	if err != nil {
		t.Fatalf("cscli decisions import: %v\n%s", err, out)
	}
	if want := fmt.Sprintf("%d decisions successfully imported", len(rep.Sources)); !strings.Contains(out, want) {
		t.Errorf("cscli decisions import: got %q, want %q", out, want)
	}
	out, err = cs("decisions", "list", "-a", "-l", "0", "-o", "json")
	if err != nil {
		t.Fatalf("cscli decisions list: %v\n%s", err, out)
	}
	var alerts []struct {
		Decisions []struct {
			Value, Scope, Type, Duration, Scenario string
		} `json:"decisions"`
	}
	if err := json.Unmarshal([]byte(out), &alerts); err != nil {
		t.Fatalf("cscli decisions list: %v\n%s", err, out)
	}
	var values []string
	bad := 0
	for _, a := range alerts {
		for _, d := range a.Decisions {
			values = append(values, d.Value)
			left, err := time.ParseDuration(d.Duration)
			if d.Type != "ban" || !strings.EqualFold(d.Scope, "ip") || err != nil || left <= 5*time.Hour || left > 6*time.Hour ||
				!strings.HasPrefix(d.Scenario, "atoguard replay: ") {
				if bad++; bad == 1 {
					t.Errorf("decision %+v: want an ip ban for about 6h, its reason the replay's", d)
				}
			}
		}
	}
	if bad > 1 {
		t.Errorf("%d decisions like that", bad)
	}
	diffSets(t, "the local API's decisions", values, sourceIPs(rep))
}

// privateCrowdSec starts CrowdSec's local API from a configuration in
// dir, with a machine registered for cscli, and returns a cscli pointed
// at it.
func privateCrowdSec(t *testing.T, cscli, crowdsec, dir string) func(args ...string) (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	listen := l.Addr().String()
	l.Close()
	writeFiles(t, dir, map[string]string{
		"config.yaml":     strings.NewReplacer("{{dir}}", dir, "{{listen}}", listen).Replace(crowdsecConfig),
		"profiles.yaml":   crowdsecProfiles,
		"simulation.yaml": "simulation: false\n",
		"data/.keep":      "",
		"hub/.keep":       "",
	})
	config := filepath.Join(dir, "config.yaml")
	cs := func(args ...string) (string, error) {
		cmd := exec.Command(cscli, append([]string{"-c", config, "--color", "no"}, args...)...)
		cmd.Dir = dir
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	// A machine of the local API, registered in its database, so cscli
	// can log in to push decisions.
	if out, err := cs("machines", "add", "atoguard-test", "--auto", "-f", filepath.Join(dir, "local_api_credentials.yaml")); err != nil {
		t.Fatalf("cscli machines add: %v\n%s", err, out)
	}
	server := exec.Command(crowdsec, "-c", config, "-no-cs")
	server.Dir = dir
	startServer(t, server, dir, nil, func() bool {
		c, err := net.Dial("tcp", listen)
		if err == nil {
			c.Close()
		}
		return err == nil
	})
	return cs
}
