// Package bot recognizes clients that announce or betray automation: tool
// user agents, headless browsers, and requests missing the headers every
// browser sends.
package bot

import "strings"

// Hints are what the request's headers say about automation.
type Hints struct {
	AutomationUA   bool   // the user agent names an HTTP library, attack tool or headless browser, or is empty
	Tool           string // the matched tool, for the reason detail
	MissingHeaders bool   // no Accept-Language, or a Chromium UA without Client Hints when the shop sends headers
}

// automation lists lower-case fragments of user agents sent by HTTP
// libraries, attack tools and headless browsers.
var automation = []string{
	"python-requests", "python-urllib", "python-httpx", "aiohttp", "httpx/",
	"curl/", "wget/", "go-http-client", "java/", "okhttp", "apache-httpclient",
	"libwww-perl", "lwp::", "ruby", "php/", "axios/", "node-fetch", "undici",
	"postmanruntime", "insomnia", "hydra", "patator", "medusa", "ncrack",
	"sqlmap", "nikto", "burp", "zgrab", "masscan", "nmap", "headlesschrome",
	"phantomjs", "selenium", "webdriver", "puppeteer", "playwright",
	"scrapy", "httpclient", "openbullet", "silverbullet", "sentry.io", "mechanize",
}

// Inspect looks at a user agent, the Accept-Language value and the other
// headers the shop forwarded (keys lower-case).
func Inspect(userAgent, acceptLanguage string, headers map[string]string) Hints {
	var h Hints
	ua := strings.ToLower(strings.TrimSpace(userAgent))
	if ua == "" {
		h.AutomationUA, h.Tool = true, "empty user agent"
	} else {
		for _, frag := range automation {
			if strings.Contains(ua, frag) {
				h.AutomationUA, h.Tool = true, strings.TrimRight(frag, "/:")
				break
			}
		}
	}
	if strings.TrimSpace(acceptLanguage) == "" {
		h.MissingHeaders = true
	}
	if len(headers) > 0 && strings.Contains(ua, "chrome/") && !strings.Contains(ua, "mobile") {
		if _, ok := headers["sec-ch-ua"]; !ok {
			h.MissingHeaders = true
		}
	}
	return h
}
