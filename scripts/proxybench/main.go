// Command proxybench is the baseline of scripts/proxy-bench.sh: a bare
// httputil.ReverseProxy to the same shop, nothing else. With -load it is
// instead the script's fixed-rate load: failed logins, each from its own
// address, sent at -rate a second whatever the answers' pace (wrk keeps a
// fixed number of requests in flight and cannot hold a rate), with each
// latency counted from when its request was due, so a stall is not hidden.
package main

import (
	"flag"
	"fmt"
	"io"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:19001", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:19000", "the shop")
	load := flag.String("load", "", "send logins to this base URL instead of serving")
	rate := flag.Float64("rate", 500, "logins a second (-load)")
	duration := flag.Duration("duration", 10*time.Second, "how long to send (-load)")
	conns := flag.Int("conns", 64, "most requests in flight (-load)")
	flag.Parse()
	if *load != "" {
		if err := run(os.Stdout, *load, *rate, *duration, *conns); err != nil {
			log.Fatal(err)
		}
		return
	}
	u, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	rp := &httputil.ReverseProxy{Transport: tr, Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }}
	log.Fatal(http.ListenAndServe(*listen, rp))
}

// run sends failed logins to base at rate a second for d with at most
// conns in flight, and prints the rate reached and the latencies.
func run(w io.Writer, base string, rate float64, d time.Duration, conns int) error {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = conns
	c := &http.Client{Transport: tr, Timeout: 30 * time.Second,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	n := int(rate * d.Seconds())
	due := make(chan int, n)
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		wg   sync.WaitGroup
	)
	start := time.Now().Add(50 * time.Millisecond)
	at := func(i int) time.Time { return start.Add(time.Duration(float64(i) / rate * float64(time.Second))) }
	for range conns {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range due {
				err := login(c, base, i)
				took := time.Since(at(i))
				mu.Lock()
				lat = append(lat, took)
				if err != nil {
					errs++
				}
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		time.Sleep(time.Until(at(i)))
		due <- i
	}
	close(due)
	wg.Wait()
	took := time.Since(start)
	slices.Sort(lat)
	q := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	fmt.Fprintf(w, "%.0f req/s (asked %.0f)   p50 %v   p90 %v   p99 %v   errors %d\n",
		float64(len(lat))/took.Seconds(), rate, q(0.5).Round(time.Microsecond), q(0.9).Round(time.Microsecond), q(0.99).Round(time.Microsecond), errs)
	return nil
}

// login sends the i-th failed login, from its own address, as a browser.
func login(c *http.Client, base string, i int) error {
	form := url.Values{"email": {fmt.Sprintf("user%d@plain.test", i%50)}, "password": {"wrong"}}
	req, err := http.NewRequest("POST", base+"/login", strings.NewReader(form.Encode()))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("User-Agent", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/142.0.0.0 Safari/537.36")
	req.Header.Set("Accept-Language", "ja-JP")
	req.Header.Set("Accept", "text/html")
	req.Header.Set("X-Forwarded-For", fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255))
	resp, err := c.Do(req)
	if err != nil {
		return err
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("status %d", resp.StatusCode)
	}
	return nil
}
