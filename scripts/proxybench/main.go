// Command proxybench is the baseline of scripts/proxy-bench.sh: a bare
// httputil.ReverseProxy to the same shop, nothing else.
package main

import (
	"flag"
	"log"
	"net/http"
	"net/http/httputil"
	"net/url"
)

func main() {
	listen := flag.String("listen", "127.0.0.1:19001", "address to serve on")
	upstream := flag.String("upstream", "http://127.0.0.1:19000", "the shop")
	flag.Parse()
	u, err := url.Parse(*upstream)
	if err != nil {
		log.Fatal(err)
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 256
	rp := &httputil.ReverseProxy{Transport: tr, Rewrite: func(pr *httputil.ProxyRequest) { pr.SetURL(u); pr.SetXForwarded() }}
	log.Fatal(http.ListenAndServe(*listen, rp))
}
