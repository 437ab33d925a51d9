package triggers

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
)

// MatchType is a label matcher operator, as in Prometheus and Alertmanager.
type MatchType string

// Matcher operators. Regular expressions are anchored at both ends, and an
// absent label matches as the empty string, as in Prometheus.
const (
	MatchEqual     MatchType = "="
	MatchNotEqual  MatchType = "!="
	MatchRegexp    MatchType = "=~"
	MatchNotRegexp MatchType = "!~"
)

// LabelMatcher is one condition on one alert label.
type LabelMatcher struct {
	Name  string
	Type  MatchType
	Value string

	re *regexp.Regexp
}

// NewLabelMatcher builds a matcher, compiling regular expressions.
func NewLabelMatcher(name string, t MatchType, value string) (LabelMatcher, error) {
	if name == "" {
		return LabelMatcher{}, errors.New("label matcher needs a label name")
	}
	m := LabelMatcher{Name: name, Type: t, Value: value}
	switch t {
	case MatchEqual, MatchNotEqual:
	case MatchRegexp, MatchNotRegexp:
		re, err := regexp.Compile("^(?:" + value + ")$")
		if err != nil {
			return LabelMatcher{}, fmt.Errorf("label matcher %s: %w", m, err)
		}
		m.re = re
	default:
		return LabelMatcher{}, fmt.Errorf("label matcher %q: operator %q must be one of =, !=, =~, !~", name, t)
	}
	return m, nil
}

// String renders the matcher in Prometheus syntax: name="value".
func (m LabelMatcher) String() string {
	return m.Name + string(m.Type) + strconv.Quote(m.Value)
}

// Matches reports whether labels satisfy the matcher.
func (m LabelMatcher) Matches(labels map[string]string) bool {
	v := labels[m.Name]
	switch m.Type {
	case MatchEqual:
		return v == m.Value
	case MatchNotEqual:
		return v != m.Value
	case MatchRegexp, MatchNotRegexp:
		re := m.re
		if re == nil { // built as a literal rather than by NewLabelMatcher
			var err error
			if re, err = regexp.Compile("^(?:" + m.Value + ")$"); err != nil {
				return false
			}
		}
		return re.MatchString(v) == (m.Type == MatchRegexp)
	}
	return false
}

// LabelRule holds when all of its matchers hold.
type LabelRule struct {
	Matchers []LabelMatcher
}

// Matches reports whether labels satisfy every matcher of the rule. A rule
// without matchers matches everything.
func (r LabelRule) Matches(labels map[string]string) bool {
	for _, m := range r.Matchers {
		if !m.Matches(labels) {
			return false
		}
	}
	return true
}

// String renders the rule as comma-separated matchers.
func (r LabelRule) String() string {
	parts := make([]string, len(r.Matchers))
	for i, m := range r.Matchers {
		parts[i] = m.String()
	}
	return strings.Join(parts, ",")
}

// ParseLabelRule parses matchers separated by commas, optionally in braces:
//
//	severity=~critical|page
//	{severity="critical", team!="sandbox"}
//
// A value is either double-quoted (Go escapes) or bare, in which case it runs
// to the next comma and is trimmed.
func ParseLabelRule(s string) (LabelRule, error) {
	in := strings.TrimSpace(s)
	if strings.HasPrefix(in, "{") {
		if !strings.HasSuffix(in, "}") {
			return LabelRule{}, fmt.Errorf("label rule %q: missing closing '}'", s)
		}
		in = strings.TrimSpace(in[1 : len(in)-1])
	}
	if in == "" {
		return LabelRule{}, fmt.Errorf("label rule %q has no matchers", s)
	}
	var rule LabelRule
	for in != "" {
		m, rest, err := parseMatcher(in)
		if err != nil {
			return LabelRule{}, fmt.Errorf("label rule %q: %w", s, err)
		}
		rule.Matchers = append(rule.Matchers, m)
		rest = strings.TrimSpace(rest)
		if rest == "" {
			break
		}
		if rest[0] != ',' {
			return LabelRule{}, fmt.Errorf("label rule %q: expected ',' before %q", s, rest)
		}
		in = strings.TrimSpace(rest[1:])
		if in == "" {
			return LabelRule{}, fmt.Errorf("label rule %q: trailing ','", s)
		}
	}
	return rule, nil
}

func parseMatcher(in string) (LabelMatcher, string, error) {
	i := strings.IndexAny(in, "=!")
	if i < 0 {
		return LabelMatcher{}, "", fmt.Errorf("%q has no operator (=, !=, =~, !~)", in)
	}
	name := strings.TrimSpace(in[:i])
	var op MatchType
	switch {
	case strings.HasPrefix(in[i:], "=~"):
		op = MatchRegexp
	case strings.HasPrefix(in[i:], "!~"):
		op = MatchNotRegexp
	case strings.HasPrefix(in[i:], "!="):
		op = MatchNotEqual
	case strings.HasPrefix(in[i:], "="):
		op = MatchEqual
	default:
		return LabelMatcher{}, "", fmt.Errorf("%q has no operator (=, !=, =~, !~)", in)
	}
	rest := strings.TrimLeft(in[i+len(op):], " ")
	var value string
	if strings.HasPrefix(rest, `"`) {
		q, err := strconv.QuotedPrefix(rest)
		if err != nil {
			return LabelMatcher{}, "", fmt.Errorf("label %q: bad quoted value: %w", name, err)
		}
		value, _ = strconv.Unquote(q)
		rest = rest[len(q):]
	} else {
		end := strings.IndexByte(rest, ',')
		if end < 0 {
			end = len(rest)
		}
		value = strings.TrimSpace(rest[:end])
		rest = rest[end:]
	}
	m, err := NewLabelMatcher(name, op, value)
	return m, rest, err
}

// ScopeLabel maps one alert label onto one resource attribute.
type ScopeLabel struct {
	Label     string
	Attribute string
}

// Policy decides which alerts open incidents and how an alert group becomes
// an incident. The zero Policy opens nothing; use DefaultPolicy as a base.
type Policy struct {
	// OpenOn: a firing alert opens an incident when any rule matches its
	// labels. Resolved alerts never open anything.
	OpenOn []LabelRule
	// ScopeLabels turn the group's common labels into the incident scope.
	// Earlier entries win when two labels map to the same attribute (so
	// "service" beats "job"). Nil means DefaultScopeLabels; an empty,
	// non-nil slice means no scope (the incident covers everything).
	ScopeLabels []ScopeLabel
	// IncidentIDLabel names the alert label that carries an explicit
	// incident ID. Empty means DefaultIncidentIDLabel.
	IncidentIDLabel string
}

// DefaultIncidentIDLabel is the label that names an incident explicitly.
const DefaultIncidentIDLabel = "incident_id"

// DefaultScopeLabels maps service-identifying labels onto service.name:
// service, service_name, Sloth's sloth_service, then job.
func DefaultScopeLabels() []ScopeLabel {
	return []ScopeLabel{
		{Label: "service", Attribute: "service.name"},
		{Label: "service_name", Attribute: "service.name"},
		{Label: "sloth_service", Attribute: "service.name"},
		{Label: "job", Attribute: "service.name"},
	}
}

// Default rules: severity critical or page (any case), Sloth SLO alerts
// (sloth_slo) and Pyrra SLO alerts (slo).
var defaultRules = []string{
	`severity=~"(?i)critical|page"`,
	`sloth_slo=~".+"`,
	`slo=~".+"`,
}

// DefaultPolicy opens an incident for a firing alert whose severity is
// critical or page, or that comes from an SLO burn-rate rule generated by
// Sloth (label sloth_slo) or Pyrra (label slo).
func DefaultPolicy() *Policy {
	p := &Policy{ScopeLabels: DefaultScopeLabels(), IncidentIDLabel: DefaultIncidentIDLabel}
	for _, s := range defaultRules {
		r, err := ParseLabelRule(s)
		if err != nil {
			panic(err) // constant input
		}
		p.OpenOn = append(p.OpenOn, r)
	}
	return p
}

// Opens reports whether an alert with these labels opens an incident when
// firing.
func (p *Policy) Opens(labels map[string]string) bool {
	for _, r := range p.OpenOn {
		if r.Matches(labels) {
			return true
		}
	}
	return false
}

// Validate checks the policy's matchers and scope labels.
func (p *Policy) Validate() error {
	for i, r := range p.OpenOn {
		for _, m := range r.Matchers {
			if _, err := NewLabelMatcher(m.Name, m.Type, m.Value); err != nil {
				return fmt.Errorf("'open_on[%d]': %w", i, err)
			}
		}
	}
	for i, s := range p.ScopeLabels {
		if s.Label == "" || s.Attribute == "" {
			return fmt.Errorf("'scope_labels[%d]' needs both a label and an attribute", i)
		}
	}
	return nil
}

func (p *Policy) idLabel() string {
	if p.IncidentIDLabel == "" {
		return DefaultIncidentIDLabel
	}
	return p.IncidentIDLabel
}

func (p *Policy) scopeLabels() []ScopeLabel {
	if p.ScopeLabels == nil {
		return DefaultScopeLabels()
	}
	return p.ScopeLabels
}
