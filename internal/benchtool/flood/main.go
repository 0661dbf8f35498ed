// Command flood is the load of the memory benchmark (scripts/bench-memory.sh):
// it sends a credential-stuffing flood of failed logins for unknown
// accounts, each from a distinct source IP, to an atoguard running on the
// event clock on this machine, through POST /v1/events:batch, then prints
// what /metrics says about the bounded per-source tables.
//
// A quiet warm-up (a few failures per minute from a handful of addresses)
// comes first so that the campaign detector has a baseline and opens an
// incident when the flood starts, as it would in production: the flood
// then also exercises the incident's per-account list. It only ever
// connects to a loopback address, and every loop is bounded by -events
// and -timeout.
package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

const (
	userAgent = "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36"
	// spread is odd, so i*spread mod 2^24 is a permutation: distinct i
	// give distinct addresses, spread over all /24s of 11.0.0.0/8.
	spread = 2654435761
)

type options struct {
	base       string
	key        string
	events     int
	batch      int
	workers    int
	start      time.Time
	span       time.Duration
	warmup     time.Duration
	warmupRate int // events per minute of event time
	timeout    time.Duration
}

func main() {
	var o options
	var start string
	flag.StringVar(&o.base, "url", "http://127.0.0.1:18081", "atoguard base URL (loopback only)")
	flag.IntVar(&o.events, "events", 1_000_000, "flood events, each from a distinct IP")
	flag.IntVar(&o.batch, "batch", 1000, "events per POST /v1/events:batch")
	flag.IntVar(&o.workers, "workers", 2, "batches in flight")
	flag.StringVar(&start, "start", "2026-11-25T09:00:00Z", "event time the flood starts (RFC 3339)")
	flag.DurationVar(&o.span, "span", time.Hour, "event time the flood covers")
	flag.DurationVar(&o.warmup, "warmup", 30*time.Minute, "event time of quiet traffic before the flood (0: none)")
	flag.IntVar(&o.warmupRate, "warmup-rate", 6, "warm-up events per minute of event time")
	flag.DurationVar(&o.timeout, "timeout", 15*time.Minute, "give up after this much wall time")
	flag.Parse()
	o.key = os.Getenv("ATOGUARD_API_KEY")
	t, err := time.Parse(time.RFC3339, start)
	if err == nil {
		o.start = t
		err = o.check()
	}
	if err == nil {
		err = run(o)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "flood:", err)
		os.Exit(1)
	}
}

func (o options) check() error {
	u, err := url.Parse(o.base)
	if err != nil {
		return fmt.Errorf("-url: %w", err)
	}
	ip := net.ParseIP(u.Hostname())
	if u.Scheme != "http" || ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: only http://<loopback address>:port is allowed", o.base)
	}
	switch {
	case o.key == "":
		return errors.New("ATOGUARD_API_KEY is not set")
	case o.events <= 0 || o.events > 1<<24:
		return errors.New("-events must be within 1..16777216")
	case o.batch <= 0 || o.batch > 10000:
		return errors.New("-batch must be within 1..10000")
	case o.workers <= 0 || o.workers > 64:
		return errors.New("-workers must be within 1..64")
	case o.span <= 0 || o.timeout <= 0 || o.warmup < 0 || o.warmupRate <= 0:
		return errors.New("-span and -timeout must be positive, -warmup not negative, -warmup-rate positive")
	}
	return nil
}

func run(o options) error {
	ctx, cancel := context.WithTimeout(context.Background(), o.timeout)
	defer cancel()
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: o.workers}}

	// Warm-up: a few unknown-account failures per minute from 16 addresses.
	warm := int(o.warmup.Minutes()) * o.warmupRate
	if warm > 0 {
		step := o.warmup / time.Duration(warm)
		var evs [][]byte
		for i := range warm {
			at := o.start.Add(-o.warmup + time.Duration(i)*step)
			evs = append(evs, failed(at, fmt.Sprintf("198.51.100.%d", 1+i%16), fmt.Sprintf("typo%d@mail.example", i)))
			if len(evs) == o.batch || i == warm-1 {
				if err := post(ctx, client, o, evs); err != nil {
					return fmt.Errorf("warm-up: %w", err)
				}
				evs = evs[:0]
			}
		}
	}

	began := time.Now()
	batches := (o.events + o.batch - 1) / o.batch
	var next atomic.Int64
	var sent atomic.Int64
	errc := make(chan error, o.workers)
	var wg sync.WaitGroup
	for range o.workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			evs := make([][]byte, 0, o.batch)
			for {
				b := int(next.Add(1) - 1)
				if b >= batches || ctx.Err() != nil {
					return
				}
				evs = evs[:0]
				for i := b * o.batch; i < min((b+1)*o.batch, o.events); i++ {
					at := o.start.Add(time.Duration(int64(o.span) * int64(i) / int64(o.events)))
					evs = append(evs, failed(at, floodIP(i), "combo"+strconv.Itoa(i)+"@mail.example"))
				}
				if err := post(ctx, client, o, evs); err != nil {
					errc <- fmt.Errorf("batch %d: %w", b, err)
					cancel()
					return
				}
				sent.Add(int64(len(evs)))
			}
		}()
	}
	wg.Wait()
	close(errc)
	if err := <-errc; err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("stopped after %d of %d events: %w", sent.Load(), o.events, err)
	}
	took := time.Since(began)
	fmt.Printf("flood_warmup_events %d\n", warm)
	fmt.Printf("flood_events %d\n", sent.Load())
	fmt.Printf("flood_distinct_ips %d\n", sent.Load())
	fmt.Printf("flood_event_time_span %s\n", o.span)
	fmt.Printf("flood_wall_seconds %.1f\n", took.Seconds())
	fmt.Printf("flood_events_per_second %.0f\n", float64(sent.Load())/took.Seconds())
	if err := printMetrics(ctx, client, o.base); err != nil {
		return err
	}
	return printIncidents(ctx, client, o)
}

// printIncidents prints the open incident as the API reports it.
func printIncidents(ctx context.Context, client *http.Client, o options) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, o.base+"/v1/incidents?state=open", nil)
	if err != nil {
		return err
	}
	req.Header.Set("Authorization", "Bearer "+o.key)
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("listing incidents: %w", err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	fmt.Printf("open_incidents_json %.2000s\n", bytes.TrimSpace(data))
	return nil
}

// floodIP returns the distinct source address of flood event i.
func floodIP(i int) string {
	v := uint32(11)<<24 | uint32(uint64(i)*spread)&0xFFFFFF
	return strconv.Itoa(int(v>>24)) + "." + strconv.Itoa(int(v>>16&0xFF)) + "." +
		strconv.Itoa(int(v>>8&0xFF)) + "." + strconv.Itoa(int(v&0xFF))
}

// failed returns the JSON of a failed login for an unknown account.
func failed(at time.Time, ip, login string) []byte {
	var b bytes.Buffer
	b.WriteString(`{"type":"login.failed","occurred_at":"`)
	b.WriteString(at.UTC().Format(time.RFC3339Nano))
	b.WriteString(`","login":"`)
	b.WriteString(login)
	b.WriteString(`","context":{"ip":"`)
	b.WriteString(ip)
	b.WriteString(`","user_agent":"` + userAgent + `","accept_language":"en-US,en;q=0.9"},`)
	fmt.Fprintf(&b, `"credential":{"password_sha1":"%040X"},`, uint64(len(login))*0x9E3779B97F4A7C15^uint64(at.UnixNano()))
	b.WriteString(`"properties":{"reason":"unknown_account"}}`)
	return b.Bytes()
}

func post(ctx context.Context, client *http.Client, o options, evs [][]byte) error {
	body := make([]byte, 0, 16+len(evs)*300)
	body = append(body, `{"events":[`...)
	for i, e := range evs {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, e...)
	}
	body = append(body, "]}"...)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.base+"/v1/events:batch", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+o.key)
	resp, err := client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s: %.300s", resp.Status, data)
	}
	return nil
}

// printMetrics prints the series of /metrics that the memory benchmark
// reports.
func printMetrics(ctx context.Context, client *http.Client, base string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/metrics", nil)
	if err != nil {
		return err
	}
	resp, err := client.Do(req)
	if err != nil {
		return fmt.Errorf("reading metrics: %w", err)
	}
	defer resp.Body.Close()
	want := []string{"atoguard_source_keys", "atoguard_open_incidents", "atoguard_events_total", "atoguard_decisions_total",
		"go_memstats_heap_inuse_bytes", "go_memstats_heap_alloc_bytes", "go_memstats_sys_bytes", "process_resident_memory_bytes"}
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		line := sc.Text()
		for _, w := range want {
			if strings.HasPrefix(line, w+" ") || strings.HasPrefix(line, w+"{") {
				fmt.Println(line)
			}
		}
	}
	return sc.Err()
}
