// Command scorereplay scores the IPs a tool flagged on a log written by
// scripts/genaccesslog against its ground truth: recall of the burst's IP
// and of the campaign's IPs, benign IPs flagged, and the attackers'
// successful logins from flagged IPs. The flagged IPs come from
// `atoguard replay --emit ips`, from fail2ban-regex rows (a jail of
// -maxretry failures in -findtime, emulated) or from a plain list.
//
//	go run ./scripts/scorereplay -truth truth.json -ips flagged.txt
//	go run ./scripts/scorereplay -truth truth.json -f2b-rows rows.txt
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"log"
	"os"
	"regexp"
	"strconv"
	"time"
)

type hit struct {
	Time time.Time `json:"time"`
	IP   string    `json:"ip"`
}

type truth struct {
	BenignIPs         int      `json:"benign_ips"`
	BurstIP           string   `json:"burst_ip"`
	BurstSuccesses    []hit    `json:"burst_successes"`
	CampaignIPs       []string `json:"campaign_ips"`
	CampaignSuccesses []hit    `json:"campaign_successes"`
}

func main() {
	var (
		truthFile = flag.String("truth", "truth.json", "ground truth from scripts/genaccesslog")
		ipsFile   = flag.String("ips", "", "flagged IPs, one a line")
		rowsFile  = flag.String("f2b-rows", "", "fail2ban-regex -o row output: a jail is emulated over its failures")
		maxRetry  = flag.Int("maxretry", 5, "jail: failures that ban")
		findTime  = flag.Duration("findtime", 10*time.Minute, "jail: window of the failures")
	)
	flag.Parse()
	var tr truth
	data, err := os.ReadFile(*truthFile)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.Unmarshal(data, &tr); err != nil {
		log.Fatal(err)
	}
	var flagged map[string]bool
	switch {
	case *ipsFile != "":
		flagged, err = readList(*ipsFile)
	case *rowsFile != "":
		flagged, err = jail(*rowsFile, *maxRetry, *findTime)
	default:
		log.Fatal("give -ips or -f2b-rows")
	}
	if err != nil {
		log.Fatal(err)
	}
	camp := map[string]bool{}
	for _, ip := range tr.CampaignIPs {
		camp[ip] = true
	}
	campFlagged, benign := 0, 0
	for ip := range flagged {
		switch {
		case camp[ip]:
			campFlagged++
		case ip != tr.BurstIP:
			benign++
		}
	}
	caught := func(hs []hit) int {
		n := 0
		for _, h := range hs {
			if flagged[h.IP] {
				n++
			}
		}
		return n
	}
	burst := 0
	if flagged[tr.BurstIP] {
		burst = 1
	}
	fmt.Printf("flagged IPs: %d\n", len(flagged))
	fmt.Printf("burst IP: %d/1\n", burst)
	fmt.Printf("campaign IPs: %d/%d (%.1f%%)\n", campFlagged, len(tr.CampaignIPs), pct(campFlagged, len(tr.CampaignIPs)))
	fmt.Printf("benign IPs flagged: %d/%d (%.3f%%)\n", benign, tr.BenignIPs, pct(benign, tr.BenignIPs))
	fmt.Printf("campaign successful logins from flagged IPs: %d/%d (%.1f%%)\n", caught(tr.CampaignSuccesses), len(tr.CampaignSuccesses), pct(caught(tr.CampaignSuccesses), len(tr.CampaignSuccesses)))
	fmt.Printf("burst successful logins from flagged IPs: %d/%d\n", caught(tr.BurstSuccesses), len(tr.BurstSuccesses))
}

func pct(n, of int) float64 {
	if of == 0 {
		return 0
	}
	return 100 * float64(n) / float64(of)
}

func readList(name string) (map[string]bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	out := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if s := sc.Text(); s != "" {
			out[s] = true
		}
	}
	return out, sc.Err()
}

// row matches a line of fail2ban-regex -o row: ['IP',	UNIXTIME,	{...}],
var row = regexp.MustCompile(`^\['([^']+)',\s*([0-9.]+),`)

// jail bans an IP once it has maxRetry failures within findTime, as a
// fail2ban jail would.
func jail(name string, maxRetry int, findTime time.Duration) (map[string]bool, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	recent := map[string][]float64{}
	banned := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		m := row.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		ip := m[1]
		t, _ := strconv.ParseFloat(m[2], 64)
		if banned[ip] {
			continue
		}
		w := append(recent[ip], t)
		for len(w) > 0 && t-w[0] > findTime.Seconds() {
			w = w[1:]
		}
		recent[ip] = w
		if len(w) >= maxRetry {
			banned[ip] = true
			delete(recent, ip)
		}
	}
	return banned, sc.Err()
}
