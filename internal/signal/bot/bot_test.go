package bot

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const chromeUA = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"

func TestInspect(t *testing.T) {
	tests := []struct {
		name    string
		ua, al  string
		headers map[string]string
		want    Hints
	}{
		{"browser", chromeUA, "ja-JP", map[string]string{"sec-ch-ua": `"Chromium";v="131"`}, Hints{}},
		{"browser, shop sends no headers", chromeUA, "ja-JP", nil, Hints{}},
		{"hydra", "Mozilla/4.0 (Hydra)", "", nil, Hints{AutomationUA: true, Tool: "hydra", MissingHeaders: true}},
		{"python", "python-requests/2.31.0", "", nil, Hints{AutomationUA: true, Tool: "python-requests", MissingHeaders: true}},
		{"curl", "curl/8.5.0", "", nil, Hints{AutomationUA: true, Tool: "curl", MissingHeaders: true}},
		{"headless chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/131.0.0.0 Safari/537.36", "en-US", nil, Hints{AutomationUA: true, Tool: "headlesschrome"}},
		{"empty", "", "ja", nil, Hints{AutomationUA: true, Tool: "empty user agent"}},
		{"chrome without client hints", chromeUA, "ja-JP", map[string]string{"accept": "*/*"}, Hints{MissingHeaders: true}},
		{"no accept-language", chromeUA, "", nil, Hints{MissingHeaders: true}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Inspect(tt.ua, tt.al, tt.headers)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Inspect mismatch (-want +got):\n%s", diff)
			}
		})
	}
}
