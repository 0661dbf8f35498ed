// Command bare is the baseline of the HTTP benchmark: a net/http handler
// that decodes the event JSON with internal/event exactly as atoguard does
// and answers a fixed decision, with no detection and no storage.
//
// It does what atoguard's POST /v1/events does around the engine (check
// the content type, read the body under the same limit, event.Decode,
// marshal an answer of the same shape), so that the ratio of the two
// servers' throughput is the cost of detection, policy and durable
// recording. It never listens anywhere but the address it is given.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"mime"
	"net/http"
	"os"
	"time"

	"github.com/atoguard/atoguard/internal/event"
)

const maxBody = 64 << 10 // atoguard's default api.max_body_bytes

type answer struct {
	EventID  string   `json:"event_id"`
	Decision string   `json:"decision"`
	Risk     int      `json:"risk"`
	Reasons  []string `json:"reasons"`
}

func postEvent(w http.ResponseWriter, r *http.Request) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		http.Error(w, "Content-Type must be application/json", http.StatusUnsupportedMediaType)
		return
	}
	data, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		http.Error(w, "body too large", http.StatusRequestEntityTooLarge)
		return
	case err != nil:
		http.Error(w, "reading body", http.StatusBadRequest)
		return
	}
	if _, err := event.Decode(data); err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	out, err := json.Marshal(answer{EventID: "ev_bare", Decision: "allow", Reasons: []string{}})
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(append(out, '\n'))
}

func main() {
	listen := flag.String("listen", "127.0.0.1:8090", "address to listen on")
	flag.Parse()
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", postEvent)
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintln(w, `{"status":"ready"}`)
	})
	// The same server timeouts as atoguard serve.
	hs := &http.Server{
		Addr:              *listen,
		Handler:           mux,
		ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
	}
	fmt.Fprintf(os.Stdout, "bare listening on http://%s\n", *listen)
	log.Fatal(hs.ListenAndServe())
}
