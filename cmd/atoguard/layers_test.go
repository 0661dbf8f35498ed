package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestLayers pins what a package may import, in the spirit of Tailscale's
// deptest: the detectors and the policy stay free of storage and of the
// engine, step-up and the engine meet only in package challenge, the
// reference shop reaches the guard only through the public client, and the
// public client imports nothing under internal/ (a shop outside this
// module could not build it otherwise).
func TestLayers(t *testing.T) {
	const mod = "github.com/atoguard/atoguard/internal/"
	for _, tc := range []struct {
		pkg    string   // under internal/, or "/client" for the public client
		forbid []string // import path prefixes under internal/
		allow  []string // exceptions to forbid: leaves with no internal imports
	}{
		{"signal/...", []string{"store", "engine", "policy", "incident", "notify", "api"}, nil},
		{"policy", []string{""}, nil}, // no internal package at all
		{"challenge", []string{"engine", "stepup", "api"}, nil},
		{"stepup", []string{"engine", "api", "cli", "guard", "dashboard"}, nil},
		{"engine", []string{"stepup", "api", "cli", "guard", "dashboard", "hot"}, nil},
		{"demoshop", []string{"engine", "store", "api", "stepup", "notify", "policy", "incident", "dashboard", "hot", "guard", "cli"}, nil},
		{"/client", []string{""}, nil}, // public: the standard library only, no internal package
	} {
		t.Run(tc.pkg, func(t *testing.T) {
			dir, public := "../../internal/"+tc.pkg, strings.HasPrefix(tc.pkg, "/")
			if public {
				dir = "../.." + tc.pkg
			}
			out, err := exec.Command("go", "list", "-deps", "-f", "{{.ImportPath}} {{.Standard}}", dir).Output()
			if err != nil {
				t.Fatalf("go list: %v", err)
			}
			self := strings.TrimSuffix(tc.pkg, "/...")
			for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
				path, std, _ := strings.Cut(line, " ")
				if public && std != "true" && !strings.HasPrefix(path, "github.com/atoguard/atoguard/") {
					t.Errorf("%s depends on %s: the public client takes the standard library only", tc.pkg, path)
				}
				dep, ok := strings.CutPrefix(path, mod)
				if !ok || dep == self || strings.HasPrefix(dep, self+"/") || slices.Contains(tc.allow, dep) {
					continue
				}
				for _, f := range tc.forbid {
					if dep == f || strings.HasPrefix(dep, f+"/") || f == "" {
						t.Errorf("%s depends on internal/%s", tc.pkg, dep)
						break
					}
				}
			}
		})
	}
}
