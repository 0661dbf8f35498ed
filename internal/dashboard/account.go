package dashboard

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/netip"
	"slices"
	"time"

	"github.com/atoguard/atoguard/internal/store"
)

// maxAccountEvents is how many of an account's latest events its page reads.
const maxAccountEvents = 200

// seenRow is a device or network an account used, from its audit records.
type seenRow struct {
	Value       string
	First, Last time.Time
	Events      int
	Trusted     int // events allowed or passed: the owner's, most likely
}

type eventRow struct {
	store.AuditRecord
	DeviceID  string
	UserAgent string
}

// accountPage shows an account's recent decisions with their reasons, and
// the devices and networks its events came from.
func (s *Server) accountPage(w http.ResponseWriter, r *http.Request) error {
	account := r.PathValue("account")
	recs, err := s.records.ListAudit(r.Context(), store.AuditQuery{Account: account, Limit: maxAccountEvents})
	if err != nil {
		return fmt.Errorf("listing audit records: %w", err)
	}
	devices := map[string]*seenRow{}
	networks := map[string]*seenRow{}
	var events []eventRow
	note := func(m map[string]*seenRow, key string, rec store.AuditRecord) {
		if key == "" {
			return
		}
		row, ok := m[key]
		if !ok {
			row = &seenRow{Value: key, First: rec.OccurredAt, Last: rec.OccurredAt}
			m[key] = row
		}
		row.Events++
		if rec.Decision == "allow" {
			row.Trusted++
		}
		if rec.OccurredAt.Before(row.First) {
			row.First = rec.OccurredAt
		}
		if rec.OccurredAt.After(row.Last) {
			row.Last = rec.OccurredAt
		}
	}
	for _, rec := range recs {
		var ev struct {
			Context struct {
				DeviceID  string `json:"device_id"`
				UserAgent string `json:"user_agent"`
			} `json:"context"`
		}
		_ = json.Unmarshal(rec.Event, &ev) // best effort: older records may lack it
		events = append(events, eventRow{AuditRecord: rec, DeviceID: ev.Context.DeviceID, UserAgent: ev.Context.UserAgent})
		note(devices, ev.Context.DeviceID, rec)
		note(networks, network(rec.IP), rec)
	}
	s.render(w, r, http.StatusOK, "account", map[string]any{
		"Account": account, "Events": events, "Devices": sortSeen(devices), "Networks": sortSeen(networks),
		"Limit": maxAccountEvents,
	})
	return nil
}

// network is the /24 (IPv4) or /64 (IPv6) of ip, or "".
func network(ip string) string {
	a, err := netip.ParseAddr(ip)
	if err != nil {
		return ""
	}
	bits := 64
	if a.Is4() || a.Is4In6() {
		a, bits = a.Unmap(), 24
	}
	p, err := a.Prefix(bits)
	if err != nil {
		return ""
	}
	return p.String()
}

func sortSeen(m map[string]*seenRow) []seenRow {
	out := make([]seenRow, 0, len(m))
	for _, r := range m {
		out = append(out, *r)
	}
	slices.SortFunc(out, func(a, b seenRow) int {
		if a.Trusted != b.Trusted {
			return b.Trusted - a.Trusted
		}
		return b.Last.Compare(a.Last)
	})
	return out
}
