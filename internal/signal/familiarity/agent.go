package familiarity

import "strings"

// AgentFamily reduces a user agent to browser and platform, without
// versions, so that a browser update does not make an owner unfamiliar:
// "Chrome/Windows", "Safari/iOS". Unrecognized agents give "other/other".
func AgentFamily(ua string) string {
	if ua == "" {
		return ""
	}
	u := strings.ToLower(ua)
	browser := "other"
	for _, b := range []struct{ frag, name string }{
		{"edg/", "Edge"}, {"edga/", "Edge"}, {"edgios/", "Edge"},
		{"opr/", "Opera"}, {"samsungbrowser/", "Samsung"}, {"line/", "LINE"},
		{"fxios/", "Firefox"}, {"firefox/", "Firefox"},
		{"crios/", "Chrome"}, {"chrome/", "Chrome"}, {"chromium/", "Chrome"},
		{"safari/", "Safari"},
	} {
		if strings.Contains(u, b.frag) {
			browser = b.name
			break
		}
	}
	platform := "other"
	for _, p := range []struct{ frag, name string }{
		{"iphone", "iOS"}, {"ipad", "iOS"}, {"android", "Android"},
		{"windows", "Windows"}, {"cros", "ChromeOS"}, {"mac os x", "macOS"},
		{"macintosh", "macOS"}, {"linux", "Linux"},
	} {
		if strings.Contains(u, p.frag) {
			platform = p.name
			break
		}
	}
	return browser + "/" + platform
}
