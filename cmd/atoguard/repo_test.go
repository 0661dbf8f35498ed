package main

import (
	"go/parser"
	"go/token"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/atoguard/atoguard/internal/policy"
)

const root = "../.."

// TestEveryPackageHasADocComment enforces the house rule: every package
// says in one sentence what it provides.
func TestEveryPackageHasADocComment(t *testing.T) {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			return nil
		}
		if name := d.Name(); path != root && (strings.HasPrefix(name, ".") || name == "testdata") {
			return filepath.SkipDir
		}
		pkgs, err := parser.ParseDir(token.NewFileSet(), path, func(fi fs.FileInfo) bool {
			return !strings.HasSuffix(fi.Name(), "_test.go")
		}, parser.ParseComments|parser.PackageClauseOnly)
		if err != nil {
			return err
		}
		for name, pkg := range pkgs {
			documented := false
			for _, f := range pkg.Files {
				if f.Doc != nil && strings.HasPrefix(f.Doc.Text(), "Package "+name+" ") || f.Doc != nil && name == "main" && strings.HasPrefix(f.Doc.Text(), "Command ") {
					documented = true
				}
			}
			if !documented {
				t.Errorf("%s: package %s has no doc comment (\"Package %s ...\")", path, name, name)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestReadmeListsEveryReasonCode keeps the README's table of reason codes
// equal to the codes the policy can report.
func TestReadmeListsEveryReasonCode(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	// The table under the "### Reason codes" heading, up to the next heading.
	text := string(readme)
	start := strings.Index(text, "### Reason codes")
	if start < 0 {
		t.Fatal(`README has no "### Reason codes" section`)
	}
	section := text[start+len("### Reason codes"):]
	if end := regexp.MustCompile("(?m)^#").FindStringIndex(section); end != nil {
		section = section[:end[0]]
	}
	listed := map[string]bool{}
	for _, m := range regexp.MustCompile("(?m)^\\| `([a-z_]+\\.[a-z_]+)` \\|").FindAllStringSubmatch(section, -1) {
		listed[m[1]] = true
	}
	for _, c := range policy.ReasonCodes() {
		if !listed[c.Code] {
			t.Errorf("README does not list reason code %s", c.Code)
		}
		delete(listed, c.Code)
	}
	for c := range listed {
		t.Errorf("README lists %s, which the policy never reports", c)
	}
}

// TestCIRunsTheReadmeTestCommand keeps .ci/run and the README's test
// command the same.
func TestCIRunsTheReadmeTestCommand(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	ci, err := os.ReadFile(filepath.Join(root, ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`(?m)^# 2\. Run the tests\n(.+)$`).FindStringSubmatch(string(readme))
	if m == nil {
		t.Fatal("README has no '# 2. Run the tests' command")
	}
	cmd := strings.TrimSpace(m[1])
	if !regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(cmd) + `$`).Match(ci) {
		t.Errorf(".ci/run does not run the README's test command %q", cmd)
	}
}

// TestStandsAlone: the repository never points at the workshop it was
// built in, which a clone does not have.
func TestStandsAlone(t *testing.T) {
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && (d.Name() == ".git" || d.Name() == "testdata") {
			return filepath.SkipDir
		}
		if d.IsDir() || !(strings.HasSuffix(path, ".go") || strings.HasSuffix(path, ".md") || strings.HasSuffix(path, ".yaml") || strings.HasSuffix(path, ".sh") || filepath.Base(path) == "run") {
			return nil
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		workshop := ".." + "/shared" // split, so this file does not name it
		if strings.Contains(string(data), workshop) || strings.Contains(string(data), "shared"+"/DESIGN") || strings.Contains(string(data), "shared"+"/API") {
			t.Errorf("%s points outside the repository (the workshop)", path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestOneToolchainEverywhere keeps the toolchain that the README's step 0
// exports the one that .ci/run, the README's test command and every
// script under scripts/ use.
func TestOneToolchainEverywhere(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	export := regexp.MustCompile(`(?m)^export GOTOOLCHAIN=(\S+)$`)
	m := export.FindSubmatch(readme)
	if m == nil {
		t.Fatal("README exports no GOTOOLCHAIN")
	}
	want := string(m[1])
	if !regexp.MustCompile(`(?m)^# 2\. Run the tests\nGOTOOLCHAIN=` + regexp.QuoteMeta(want) + ` `).Match(readme) {
		t.Errorf("the README's test command does not run with GOTOOLCHAIN=%s", want)
	}
	scripts, err := filepath.Glob(filepath.Join(root, "scripts", "*.sh"))
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range append(scripts, filepath.Join(root, ".ci", "run")) {
		b, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		if m := export.FindSubmatch(b); m == nil || string(m[1]) != want {
			t.Errorf("%s does not export GOTOOLCHAIN=%s", p, want)
		}
	}
}
