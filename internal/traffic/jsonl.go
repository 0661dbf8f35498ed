package traffic

import (
	"bufio"
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

// Actors and phases of a Label.
const (
	ActorOwner    = "owner"
	ActorAttacker = "attacker"
	PhaseWarmup   = "warmup"
	PhaseEval     = "eval"
)

// Label is the ground truth about one generated event.
type Label struct {
	// Actor is owner or attacker.
	Actor string `json:"actor"`
	// Phase is warmup (before Scenario.Start) or eval.
	Phase string `json:"phase"`
	// Attack is the attack kind, for attacker events.
	Attack string `json:"attack,omitempty"`
	// AccountExists is false when the login names no account of the shop.
	AccountExists bool `json:"account_exists"`
	// ValidCredential marks an attacker's login.succeeded with a stolen (or
	// sprayed) password: an account taken over. Always false for owners.
	ValidCredential bool `json:"valid_credential"`
	// NewDevice marks an owner event whose device_id the account had never
	// used in any earlier login of the stream (all events of one login, its
	// failures and its order share the flag).
	NewDevice bool `json:"new_device,omitempty"`
	// NewNetwork is the same for the network: the /24 (IPv4) or /64 (IPv6)
	// of the event's IP.
	NewNetwork bool `json:"new_network,omitempty"`
	// CarrierNAT marks an owner event whose IP is in the mobile carrier's
	// NAT pool, shared by many accounts.
	CarrierNAT bool `json:"carrier_nat,omitempty"`
}

// Labeled is one event with its ground truth. Event is the event exactly as
// POST /v1/events takes it (docs/api.md).
type Labeled struct {
	Label Label           `json:"label"`
	Event json.RawMessage `json:"event"`
}

// maxLine bounds one JSONL line (events are below 2 KiB).
const maxLine = 1 << 20

// WriteJSONL writes ev as JSON Lines, one labelled event per line.
func WriteJSONL(w io.Writer, ev []Labeled) error {
	bw := bufio.NewWriterSize(w, 64<<10)
	for i := range ev {
		line, err := json.Marshal(&ev[i])
		if err != nil {
			return fmt.Errorf("encoding event %d: %w", i, err)
		}
		line = append(line, '\n')
		if _, err := bw.Write(line); err != nil {
			return fmt.Errorf("writing events: %w", err)
		}
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("writing events: %w", err)
	}
	return nil
}

// ReadJSONL reads labelled events written by WriteJSONL. Blank lines are
// skipped; anything else that is not a labelled event is an error naming
// its line.
func ReadJSONL(r io.Reader) ([]Labeled, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64<<10), maxLine)
	var out []Labeled
	n := 0
	for sc.Scan() {
		n++
		line := bytes.TrimSpace(sc.Bytes())
		if len(line) == 0 {
			continue
		}
		l, err := parseLine(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, l)
	}
	if err := sc.Err(); err != nil {
		if errors.Is(err, bufio.ErrTooLong) {
			return nil, fmt.Errorf("line %d: longer than %d bytes", n+1, maxLine)
		}
		return nil, fmt.Errorf("reading events: %w", err)
	}
	return out, nil
}

// parseLine decodes one line strictly and checks its label.
func parseLine(line []byte) (Labeled, error) {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.DisallowUnknownFields()
	var l Labeled
	if err := dec.Decode(&l); err != nil {
		return Labeled{}, fmt.Errorf("not a labelled event: %w", err)
	}
	if rest := bytes.TrimSpace(line[dec.InputOffset():]); len(rest) > 0 {
		return Labeled{}, errors.New("trailing data after the labelled event")
	}
	if l.Label.Actor != ActorOwner && l.Label.Actor != ActorAttacker {
		return Labeled{}, fmt.Errorf("label.actor must be owner or attacker (got %q)", l.Label.Actor)
	}
	if l.Label.Phase != PhaseWarmup && l.Label.Phase != PhaseEval {
		return Labeled{}, fmt.Errorf("label.phase must be warmup or eval (got %q)", l.Label.Phase)
	}
	if len(l.Event) == 0 || l.Event[0] != '{' {
		return Labeled{}, errors.New("event is missing or not a JSON object")
	}
	return l, nil
}
