package demoshop

import (
	"go/build"
	"slices"
	"strings"
	"testing"
)

// TestReachesTheGuardOnlyThroughTheClient: the shop imports the guard's
// client and leaf packages, never the server's.
func TestReachesTheGuardOnlyThroughTheClient(t *testing.T) {
	const module = "github.com/atoguard/atoguard/internal/"
	server := []string{"api", "dashboard", "engine", "incident", "mailer", "notify", "policy", "stepup", "store"}
	seen := map[string]bool{}
	var walk func(path, dir string, from []string)
	walk = func(path, dir string, from []string) {
		if seen[path] {
			return
		}
		seen[path] = true
		if slices.Contains(server, strings.TrimPrefix(path, module)) {
			t.Errorf("demoshop reaches %s: %s", path, strings.Join(append(from, path), " → "))
		}
		pkg, err := build.Import(path, dir, 0)
		if err != nil {
			t.Fatalf("importing %s: %v", path, err)
		}
		for _, imp := range pkg.Imports {
			if strings.HasPrefix(imp, module) {
				walk(imp, pkg.Dir, append(from, path))
			}
		}
	}
	walk(module+"demoshop", ".", nil)
	if got, want := len(seen) > 1, true; got != want {
		t.Errorf("walked %d packages: the walk found no import", len(seen))
	}
}
