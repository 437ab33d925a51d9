// Package redact makes the redacted copies of evidence that evidencectl
// redact writes: attributes removed, masked or hashed by key, and values
// masked wherever they appear in attributes, log bodies, incident titles
// and event payloads.
//
// The rules follow the OpenTelemetry Collector contrib redaction
// processor's configuration where it fits (allow_all_keys, allowed_keys,
// ignored_keys, blocked_key_patterns, blocked_values, hash_function), so a
// team that redacts in its pipeline can reuse its rules on a bundle.
package redact

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"regexp"
	"slices"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.yaml.in/yaml/v3"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Mask replaces a masked value (as contrib's redaction processor does).
const Mask = "****"

// Hash functions of the rules.
const (
	HashNone   = ""
	HashSHA256 = "sha256"
)

// Rules is the rules file.
type Rules struct {
	// AllowAllKeys keeps every attribute key not otherwise blocked; false
	// removes every attribute whose key is not in AllowedKeys or
	// IgnoredKeys. Unset means true.
	AllowAllKeys *bool `yaml:"allow_all_keys" json:"allow_all_keys"`
	// AllowedKeys are kept when AllowAllKeys is false.
	AllowedKeys []string `yaml:"allowed_keys" json:"allowed_keys"`
	// IgnoredKeys are never removed, masked or hashed.
	IgnoredKeys []string `yaml:"ignored_keys" json:"ignored_keys"`
	// BlockedKeyPatterns are regular expressions: the value of an
	// attribute whose key matches is masked (or hashed).
	BlockedKeyPatterns []string `yaml:"blocked_key_patterns" json:"blocked_key_patterns"`
	// BlockedValues are regular expressions: every match in a string
	// attribute value, a log body, an incident title or an event payload
	// is masked (or hashed).
	BlockedValues []string `yaml:"blocked_values" json:"blocked_values"`
	// HashFunction "sha256" replaces what is blocked by its SHA-256 (hex),
	// so equal values stay recognisably equal; empty masks it with ****.
	HashFunction string `yaml:"hash_function" json:"hash_function"`
}

// Redactor applies compiled rules.
type Redactor struct {
	allowAll    bool
	allowed     map[string]bool
	ignored     map[string]bool
	blockedKeys []*regexp.Regexp
	blockedVals []*regexp.Regexp
	hash        bool
}

// Parse reads a rules file (YAML or JSON) and compiles it. Errors name
// the bad key.
func Parse(data []byte) (*Redactor, error) {
	var r Rules
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&r); err != nil && !errors.Is(err, io.EOF) {
		return nil, fmt.Errorf("rules: %w", err)
	}
	return Compile(r)
}

// Compile checks and compiles rules.
func Compile(r Rules) (*Redactor, error) {
	out := &Redactor{allowAll: r.AllowAllKeys == nil || *r.AllowAllKeys, allowed: set(r.AllowedKeys), ignored: set(r.IgnoredKeys)}
	switch r.HashFunction {
	case HashNone:
	case HashSHA256:
		out.hash = true
	default:
		return nil, fmt.Errorf("rules: 'hash_function' must be %q or empty, got %q", HashSHA256, r.HashFunction)
	}
	var errs []error
	for i, p := range r.BlockedKeyPatterns {
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: 'blocked_key_patterns[%d]': %w", i, err))
			continue
		}
		out.blockedKeys = append(out.blockedKeys, re)
	}
	for i, p := range r.BlockedValues {
		re, err := regexp.Compile(p)
		if err != nil {
			errs = append(errs, fmt.Errorf("rules: 'blocked_values[%d]': %w", i, err))
			continue
		}
		out.blockedVals = append(out.blockedVals, re)
	}
	if !out.allowAll && len(r.AllowedKeys) == 0 {
		errs = append(errs, errors.New("rules: 'allow_all_keys' is false and 'allowed_keys' is empty: every attribute would be removed"))
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return out, nil
}

func set(keys []string) map[string]bool {
	m := make(map[string]bool, len(keys))
	for _, k := range keys {
		m[k] = true
	}
	return m
}

// hide is what a blocked value becomes.
func (r *Redactor) hide(s string) string {
	if r.hash {
		sum := sha256.Sum256([]byte(s))
		return hex.EncodeToString(sum[:])
	}
	return Mask
}

// String masks (or hashes) every blocked value in s.
func (r *Redactor) String(s string) string {
	for _, re := range r.blockedVals {
		s = re.ReplaceAllStringFunc(s, r.hide)
	}
	return s
}

func (r *Redactor) keyBlocked(k string) bool {
	return slices.ContainsFunc(r.blockedKeys, func(re *regexp.Regexp) bool { return re.MatchString(k) })
}

// Attributes applies the key and value rules to m.
func (r *Redactor) Attributes(m pcommon.Map) {
	m.RemoveIf(func(k string, v pcommon.Value) bool {
		if r.ignored[k] {
			return false
		}
		if !r.allowAll && !r.allowed[k] {
			return true
		}
		if r.keyBlocked(k) {
			v.SetStr(r.hide(v.AsString()))
			return false
		}
		r.value(v)
		return false
	})
}

// value masks blocked values inside v (strings, and strings nested in
// maps and slices).
func (r *Redactor) value(v pcommon.Value) {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		if s := r.String(v.Str()); s != v.Str() {
			v.SetStr(s)
		}
	case pcommon.ValueTypeMap:
		r.Attributes(v.Map())
	case pcommon.ValueTypeSlice:
		for _, e := range v.Slice().All() {
			r.value(e)
		}
	}
}

// Traces redacts td in place.
func (r *Redactor) Traces(td ptrace.Traces) {
	for _, rs := range td.ResourceSpans().All() {
		r.Attributes(rs.Resource().Attributes())
		for _, ss := range rs.ScopeSpans().All() {
			r.Attributes(ss.Scope().Attributes())
			for _, s := range ss.Spans().All() {
				r.Attributes(s.Attributes())
				s.SetName(r.String(s.Name()))
				s.Status().SetMessage(r.String(s.Status().Message()))
				for _, e := range s.Events().All() {
					r.Attributes(e.Attributes())
				}
				for _, l := range s.Links().All() {
					r.Attributes(l.Attributes())
				}
			}
		}
	}
}

// Logs redacts ld in place: attributes and bodies.
func (r *Redactor) Logs(ld plog.Logs) {
	for _, rl := range ld.ResourceLogs().All() {
		r.Attributes(rl.Resource().Attributes())
		for _, sl := range rl.ScopeLogs().All() {
			r.Attributes(sl.Scope().Attributes())
			for _, lr := range sl.LogRecords().All() {
				r.Attributes(lr.Attributes())
				r.value(lr.Body())
			}
		}
	}
}

// Metrics redacts md in place: the attributes of every data point.
func (r *Redactor) Metrics(md pmetric.Metrics) {
	for _, rm := range md.ResourceMetrics().All() {
		r.Attributes(rm.Resource().Attributes())
		for _, sm := range rm.ScopeMetrics().All() {
			r.Attributes(sm.Scope().Attributes())
			for _, m := range sm.Metrics().All() {
				switch m.Type() {
				case pmetric.MetricTypeGauge:
					for _, p := range m.Gauge().DataPoints().All() {
						r.Attributes(p.Attributes())
					}
				case pmetric.MetricTypeSum:
					for _, p := range m.Sum().DataPoints().All() {
						r.Attributes(p.Attributes())
					}
				case pmetric.MetricTypeHistogram:
					for _, p := range m.Histogram().DataPoints().All() {
						r.Attributes(p.Attributes())
					}
				case pmetric.MetricTypeExponentialHistogram:
					for _, p := range m.ExponentialHistogram().DataPoints().All() {
						r.Attributes(p.Attributes())
					}
				case pmetric.MetricTypeSummary:
					for _, p := range m.Summary().DataPoints().All() {
						r.Attributes(p.Attributes())
					}
				}
			}
		}
	}
}

// Incident redacts a copy of an incident record: its title and
// description-like strings masked, its labels under the key rules.
func (r *Redactor) Incident(inc *incident.Incident) *incident.Incident {
	c := *inc
	c.Title = r.String(inc.Title)
	if inc.Labels != nil {
		c.Labels = make(map[string]string, len(inc.Labels))
		for k, v := range inc.Labels {
			switch {
			case r.ignored[k]:
				c.Labels[k] = v
			case !r.allowAll && !r.allowed[k]:
			case r.keyBlocked(k):
				c.Labels[k] = r.hide(v)
			default:
				c.Labels[k] = r.String(v)
			}
		}
	}
	c.Scope = slices.Clone(inc.Scope)
	for i := range c.Scope {
		c.Scope[i].Value = r.String(c.Scope[i].Value)
	}
	c.Links = slices.Clone(inc.Links)
	return &c
}

// Event redacts a copy of an event: its incident record and every string
// of its raw payload.
func (r *Redactor) Event(ev incident.Event) (incident.Event, error) {
	if ev.Incident != nil {
		ev.Incident = r.Incident(ev.Incident)
	}
	if len(ev.Payload) > 0 {
		var v any
		if err := json.Unmarshal(ev.Payload, &v); err != nil {
			return ev, fmt.Errorf("event payload: %w", err)
		}
		b, err := json.Marshal(r.jsonValue("", v))
		if err != nil {
			return ev, err
		}
		ev.Payload = b
	}
	return ev, nil
}

// jsonValue applies the rules to a decoded JSON value; key is the object
// key it is under ("" at the top and in arrays).
func (r *Redactor) jsonValue(key string, v any) any {
	switch t := v.(type) {
	case string:
		if key != "" && !r.ignored[key] && r.keyBlocked(key) {
			return r.hide(t)
		}
		return r.String(t)
	case map[string]any:
		for k, e := range t {
			if !r.ignored[k] && !r.allowAll && !r.allowed[k] && isLeaf(e) {
				delete(t, k)
				continue
			}
			t[k] = r.jsonValue(k, e)
		}
		return t
	case []any:
		for i, e := range t {
			t[i] = r.jsonValue("", e)
		}
		return t
	}
	return v
}

func isLeaf(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return false
	}
	return true
}
