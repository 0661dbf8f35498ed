package proxy

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	shopclient "github.com/atoguard/atoguard/client"
	"github.com/atoguard/atoguard/internal/config"
)

// benchLogins sends b.N failed logins through base, each from its own
// address: one at a time, or from 16 goroutines with parallel.
func benchLogins(b *testing.B, base string, parallel bool) {
	var n atomic.Int64
	tr := &http.Transport{MaxIdleConnsPerHost: 64}
	c := &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	one := func() {
		i := n.Add(1)
		form := url.Values{"email": {fmt.Sprintf("user%d@plain.test", i%50)}, "password": {"wrong"}}
		req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36")
		req.Header.Set("Accept-Language", "ja-JP")
		req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
		resp, err := c.Do(req)
		if err != nil {
			b.Error(err)
			return
		}
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	cpu0 := cpuTime()
	b.ResetTimer()
	defer func() { b.ReportMetric(float64((cpuTime()-cpu0).Microseconds())/float64(b.N), "cpu-µs/op") }()
	if !parallel {
		for range b.N {
			one()
		}
		return
	}
	b.SetParallelism(8) // 16 goroutines on 2 CPUs, as wrk's 16 connections
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			one()
		}
	})
}

// cpuTime is the CPU time this process has used (user and system): the
// client, the proxy and an in-process guard, not the shop. It moves far
// less with a busy machine than the wall clock does.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkLoginThroughTheProxy: a failed login through the proxy, the
// plain shop and a guard in-process; profile it with -cpuprofile (the
// figures to compare are scripts/proxy-bench.sh's, against a bare proxy).
func BenchmarkLoginThroughTheProxy(b *testing.B) { benchLoginRoute(b, false) }

// BenchmarkLoginsInParallel is BenchmarkLoginThroughTheProxy with 16
// logins in flight: ns/op is the inverse of the throughput.
func BenchmarkLoginsInParallel(b *testing.B) { benchLoginRoute(b, true) }

func benchLoginRoute(b *testing.B, parallel bool) {
	shop := startPlainShop(b)
	b.Run("bare", func(b *testing.B) {
		u, _ := url.Parse(shop)
		srv := httptest.NewServer(&httputil.ReverseProxy{Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }})
		defer srv.Close()
		benchLogins(b, srv.URL, parallel)
	})
	b.Run("fake-guard", func(b *testing.B) {
		_, srv := behind(b, plainConfig, shop, &fakeGuard{})
		benchLogins(b, srv.URL, parallel)
	})
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run("guard-"+sync, func(b *testing.B) {
			_, srv := behind(b, plainConfig, shop, startGuardWith(b, func(c *config.Config) { c.Synchronous = sync }))
			benchLogins(b, srv.URL, parallel)
		})
	}
}

// BenchmarkPassThrough: GET / through a bare httputil.ReverseProxy and
// through the proxy (a route it does not watch), to the plain shop.
// allocs/op is the figure that does not depend on the machine's load.
func BenchmarkPassThrough(b *testing.B) {
	shop := startPlainShop(b)
	get := func(b *testing.B, base string) {
		c := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
		b.ReportAllocs()
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			for pb.Next() {
				resp, err := c.Get(base + "/")
				if err != nil {
					b.Fatal(err)
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				_ = resp.Body.Close()
			}
		})
	}
	b.Run("bare", func(b *testing.B) {
		u, _ := url.Parse(shop)
		tr := http.DefaultTransport.(*http.Transport).Clone()
		tr.MaxIdleConnsPerHost = 256
		srv := httptest.NewServer(&httputil.ReverseProxy{Transport: tr, Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }})
		defer srv.Close()
		get(b, srv.URL)
	})
	b.Run("atoguard", func(b *testing.B) {
		_, srv := behind(b, plainConfig, shop, &fakeGuard{})
		get(b, srv.URL)
	})
}

// BenchmarkGuardCall: one login.attempt to the guard through the public
// client, one at a time: the floor under a guarded login's overhead (the
// proxy asks once before the shop; the failure goes after the answer).
func BenchmarkGuardCall(b *testing.B) {
	for _, sync := range []string{"FULL", "NORMAL"} {
		b.Run(sync, func(b *testing.B) {
			gc := startGuardWith(b, func(c *config.Config) { c.Synchronous = sync })
			ctx := context.Background()
			b.ResetTimer()
			for i := range b.N {
				ev := shopclient.Event{Type: shopclient.LoginAttempt, OccurredAt: time.Now().UTC(), Login: fmt.Sprintf("user%d@plain.test", i%50),
					Context: shopclient.Context{IP: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), UserAgent: "Mozilla/5.0 (X11; Linux x86_64) Chrome/142.0.0.0"}}
				if _, err := gc.Assess(ctx, ev); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
