package cli_test

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestPasswordsImportLookupInfo(t *testing.T) {
	data := t.TempDir()
	hibp := writeFile(t, "pwned.txt", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824\r\n21BD12DC183F740EE76F27B78EB39C8AD972A757:52579\r\n")
	list := writeFile(t, "list.txt", "hunter2\nhunter2\ncorrect horse\n")

	code, out, errOut := run(t, "passwords", "import", "--data", data, hibp, list)
	if code != 0 {
		t.Fatalf("import: exit %d: %s", code, errOut)
	}
	if !strings.Contains(out, "imported 2 files: 5 lines (0 skipped), 4 digests (4 new)") ||
		!strings.Contains(out, filepath.Join(data, "passwords", "index.agpw")) {
		t.Errorf("import output:\n%s", out)
	}
	if strings.Contains(out+errOut, "hunter2") {
		t.Error("the import printed a clear-text password")
	}

	for _, tt := range []struct{ arg, want string }{
		{"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8: breached, seen 9545824 times\n"},
		// hunter2: twice in the list, and in the built-in list with the larger count 3
		{"F3BBBD66A63D4BF1747940578EC3D0103530E21D", "F3BBBD66A63D4BF1747940578EC3D0103530E21D: breached, seen 3 times\n"},
		{"7C4A8D09CA3762AF61E59520943DC26494F8941B", "7C4A8D09CA3762AF61E59520943DC26494F8941B: breached, seen 20000 times\n"}, // 123456, built in
		{"0000000000000000000000000000000000000000", "0000000000000000000000000000000000000000: not found\n"},
	} {
		code, out, errOut := run(t, "passwords", "lookup", "--data", data, tt.arg)
		if code != 0 || out != tt.want {
			t.Errorf("lookup %s: exit %d, %q %s; want %q", tt.arg, code, out, errOut, tt.want)
		}
	}
	if code, _, errOut := run(t, "passwords", "lookup", "--data", data, "hunter2"); code == 0 || !strings.Contains(errOut, "not a SHA-1") {
		t.Errorf("lookup of a clear-text argument: exit %d, %s", code, errOut)
	}

	code, out, errOut = run(t, "passwords", "info", "--data", data)
	if code != 0 || !strings.Contains(out, "digests: 4\n") || !strings.Contains(out, "built-in list: 20000 common passwords") {
		t.Errorf("info: exit %d:\n%s%s", code, out, errOut)
	}

	cfg := writeFile(t, "atoguard.yaml", "data: "+data+"\npasswords:\n  disable_builtin: true\n")
	code, out, _ = run(t, "passwords", "lookup", "--config", cfg, "7C4A8D09CA3762AF61E59520943DC26494F8941B")
	if code != 0 || !strings.HasSuffix(out, ": not found\n") {
		t.Errorf("lookup without the built-in list: exit %d, %q", code, out)
	}

	if code, _, errOut := run(t, "passwords", "import", "--data", data, "--format", "csv", hibp); code == 0 || !strings.Contains(errOut, `format "csv"`) {
		t.Errorf("bad format: exit %d, %s", code, errOut)
	}
	bad := writeFile(t, "bad.txt", "5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:1\nnot a hash line\n")
	if code, _, errOut := run(t, "passwords", "import", "--data", data, bad); code == 0 || !strings.Contains(errOut, "line 2") {
		t.Errorf("bad line: exit %d, %s", code, errOut)
	}
}
