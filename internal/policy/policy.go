// Package policy turns the facts about an event into a decision with a
// risk score and stable reasons, following rules written as data (YAML
// with expressions) and validated when loaded.
package policy

import (
	"bytes"
	_ "embed"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/vm"
	"go.yaml.in/yaml/v3"
)

// Decision is the answer to an event.
type Decision string

// The decisions, from the mildest to the most severe.
const (
	Allow     Decision = "allow"
	Challenge Decision = "challenge"
	Review    Decision = "review"
	Deny      Decision = "deny"
)

func (d Decision) severity() int {
	switch d {
	case Challenge:
		return 1
	case Review:
		return 2
	case Deny:
		return 3
	}
	return 0
}

//go:embed default.yaml
var defaultYAML []byte

// DefaultYAML returns the built-in policy's source.
func DefaultYAML() []byte { return bytes.Clone(defaultYAML) }

// Rule is one rule of a policy file.
type Rule struct {
	ID          string   `yaml:"id"`
	Description string   `yaml:"description"`
	When        string   `yaml:"when"`
	Decision    Decision `yaml:"decision"`
	Risk        int      `yaml:"risk"`
	Reasons     []string `yaml:"reasons"`
}

type file struct {
	Version int    `yaml:"version"`
	Rules   []Rule `yaml:"rules"`
}

// Policy is a compiled, validated set of rules. It is safe for concurrent
// use.
type Policy struct {
	rules []compiled
	// machines are the expression machines Evaluate runs the rules on,
	// one event at a time each: a machine keeps its stack between runs.
	machines sync.Pool
}

type compiled struct {
	Rule
	prog  *vm.Program
	fired atomic.Int64
}

// Default returns the built-in policy.
func Default() (*Policy, error) {
	p, err := Parse(defaultYAML)
	if err != nil {
		return nil, fmt.Errorf("built-in policy: %w", err)
	}
	return p, nil
}

// Load reads and compiles a policy file.
func Load(path string) (*Policy, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading policy: %w", err)
	}
	p, err := Parse(data)
	if err != nil {
		return nil, fmt.Errorf("policy %s: %w", path, err)
	}
	return p, nil
}

// Parse compiles a policy from YAML, reporting every problem at once.
func Parse(data []byte) (*Policy, error) {
	var f file
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&f); err != nil {
		return nil, fmt.Errorf("decoding YAML: %w", err)
	}
	var errs []error
	if f.Version != 1 {
		errs = append(errs, fmt.Errorf("version: %d is not supported, want 1", f.Version))
	}
	if len(f.Rules) == 0 {
		errs = append(errs, errors.New("rules: none given"))
	}
	p := &Policy{rules: make([]compiled, len(f.Rules))}
	seen := map[string]bool{}
	for i, r := range f.Rules {
		at := fmt.Sprintf("rules[%d]", i)
		if r.ID != "" {
			at = fmt.Sprintf("rules[%d] (%s)", i, r.ID)
		}
		switch {
		case r.ID == "":
			errs = append(errs, fmt.Errorf("%s: id is empty", at))
		case seen[r.ID]:
			errs = append(errs, fmt.Errorf("%s: id is used twice", at))
		}
		seen[r.ID] = true
		if r.Decision.severity() == 0 && r.Decision != Allow {
			errs = append(errs, fmt.Errorf("%s: decision %q is not allow, challenge, review or deny", at, r.Decision))
		}
		if r.Risk < 0 || r.Risk > 100 {
			errs = append(errs, fmt.Errorf("%s: risk %d is not within 0-100", at, r.Risk))
		}
		for _, c := range r.Reasons {
			if _, ok := reasons[c]; !ok {
				errs = append(errs, fmt.Errorf("%s: reason %q is not a known reason code", at, c))
			}
		}
		if strings.TrimSpace(r.When) == "" {
			errs = append(errs, fmt.Errorf("%s: when is empty", at))
			continue
		}
		prog, err := expr.Compile(r.When, expr.Env(Input{}), expr.AsBool(), expr.MaxNodes(1000))
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: when: %w", at, err))
			continue
		}
		p.rules[i].Rule = r
		p.rules[i].prog = prog
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return p, nil
}

// Result is a decision and why.
type Result struct {
	Decision Decision
	Risk     int
	Reasons  []Reason
	Rules    []string // ids of the rules that fired, in order
}

// Evaluate applies every rule to in. The decision is the most severe of
// the rules that fired (allow when none did), the risk their highest, and
// the reasons those they name that apply, each once, in rule order.
func (p *Policy) Evaluate(in *Input) (Result, error) {
	res := Result{Decision: Allow}
	// The rules read one copy of the input, boxed once: a field read
	// from a value that is not addressable is not copied again (reflect
	// copies those of an addressable one, an allocation per fact read).
	env := any(*in)
	m, _ := p.machines.Get().(*vm.VM)
	if m == nil {
		m = new(vm.VM)
	}
	defer p.machines.Put(m)
	for i := range p.rules {
		r := &p.rules[i]
		out, err := m.Run(r.prog, env)
		if err != nil {
			return Result{}, fmt.Errorf("rule %s: %w", r.ID, err)
		}
		if fired, _ := out.(bool); !fired {
			continue
		}
		r.fired.Add(1)
		res.Rules = append(res.Rules, r.ID)
		if r.Decision.severity() > res.Decision.severity() {
			res.Decision = r.Decision
		}
		res.Risk = max(res.Risk, r.Risk)
		for _, c := range r.Reasons {
			def := reasons[c]
			if slices.ContainsFunc(res.Reasons, func(r Reason) bool { return r.Code == c }) || !def.applies(in) {
				continue
			}
			res.Reasons = append(res.Reasons, Reason{Code: c, Detail: def.detail(in)})
		}
	}
	return res, nil
}

// RuleStat is a rule and how often it fired since start.
type RuleStat struct {
	Rule
	Fired int64
}

// Stats lists the rules with their counts, in policy order.
func (p *Policy) Stats() []RuleStat {
	out := make([]RuleStat, len(p.rules))
	for i := range p.rules {
		out[i] = RuleStat{Rule: p.rules[i].Rule, Fired: p.rules[i].fired.Load()}
	}
	return out
}
