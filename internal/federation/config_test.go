package federation

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestConfigProblems(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string // "" for none
	}{
		{Config{}, ""},
		{Config{KeyFile: "k", Subjects: SubjectEmail, FactTTL: map[Kind]time.Duration{ComboListed: time.Hour}}, ""},
		{Config{KeyFile: "k", Subjects: "plain"}, `federation.subjects: "plain" is not login_hash or email`},
		{Config{KeyFile: "k", FactTTL: map[Kind]time.Duration{"x": time.Hour}}, `federation.fact_ttl: "x" is not a fact kind`},
		{Config{KeyFile: "k", FactTTL: map[Kind]time.Duration{DropPoint: -1}}, "federation.fact_ttl.drop_point: -1ns is negative"},
		{Config{KeyFile: "k", MaxFacts: -1}, "federation.max_facts: -1 is negative"},
		{Config{MaxFacts: 5}, "federation.key_file: empty, yet other federation settings are given"},
	}
	for _, tt := range tests {
		got := ""
		if err := errors.Join(tt.cfg.Problems()...); err != nil {
			got = err.Error()
		}
		if got != tt.want {
			t.Errorf("%+v: got %q, want %q", tt.cfg, got, tt.want)
		}
	}
}

func TestConfigTTLAndKey(t *testing.T) {
	c := Config{FactTTL: map[Kind]time.Duration{DropPoint: time.Hour}}
	if got := c.TTL(DropPoint); got != time.Hour {
		t.Errorf("TTL(drop_point) = %v", got)
	}
	if got := c.TTL(CampaignSource); got != 48*time.Hour {
		t.Errorf("TTL(campaign_source) = %v", got)
	}
	if got := c.TTL(CredentialCompromised); got != DefaultTTL {
		t.Errorf("TTL(credential_compromised) = %v", got)
	}
	dir := t.TempDir()
	short := filepath.Join(dir, "short")
	os.WriteFile(short, []byte("short"), 0o600)
	if _, err := (Config{KeyFile: short}).LoadKey(); err == nil || !strings.Contains(err.Error(), "federation.key_file") {
		t.Errorf("short key: %v", err)
	}
	good := filepath.Join(dir, "good")
	os.WriteFile(good, []byte(strings.Repeat("k", 32)), 0o600)
	if k, err := (Config{KeyFile: good}).LoadKey(); err != nil || len(k) != 32 {
		t.Errorf("good key: %v", err)
	}
}
