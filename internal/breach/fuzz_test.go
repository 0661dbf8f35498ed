package breach

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

func FuzzParseHIBPLine(f *testing.F) {
	for _, s := range []string{
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:9545824",
		"5baa61e4c9b93f3f0682250b6cf8331b7ee68fd8:3\r",
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8",
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:",
		"5BAA61E4C9B93F3F0682250B6CF8331B7EE68FD8:999999999999999999",
		"8846F7EAEE8FB117AD06BDD830B7586C:1",
		"password",
		"",
		"\r",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, line []byte) {
		h, n, err := ParseHIBPLine(line)
		if err != nil {
			if h != ([20]byte{}) && n != 0 {
				t.Fatalf("error %v with a count %d", err, n)
			}
			return
		}
		if n < 0 {
			t.Fatalf("negative count %d", n)
		}
		// A parsed line formats back to an equivalent line.
		again := fmt.Sprintf("%X:%d", h, n)
		h2, n2, err := ParseHIBPLine([]byte(again))
		if err != nil || h2 != h || n2 != n {
			t.Fatalf("%q parsed as %X:%d, which reparses as %X:%d, %v", line, h, n, h2, n2, err)
		}
		if !bytes.EqualFold(bytes.TrimSuffix(line, []byte("\r"))[:40], []byte(again[:40])) {
			t.Fatalf("%q: digest %X does not match the line", line, h)
		}
	})
}

func FuzzParsePrefix(f *testing.F) {
	for _, s := range []string{"5BAA6", "5baa6", "00000", "FFFFF", "5BAA", "5BAA61", "5BAG6", "", "５BAA6", "%35BAA"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		p, err := ParsePrefix(s)
		if err != nil {
			return
		}
		if p >= NumPrefixes {
			t.Fatalf("%q parsed to %d, over the range", s, p)
		}
		if !strings.EqualFold(p.String(), s) {
			t.Fatalf("%q parsed to %s", s, p)
		}
	})
}
