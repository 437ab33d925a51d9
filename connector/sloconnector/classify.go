package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"context"
	"fmt"
	"slices"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottllog"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/contexts/ottlspan"
	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl/ottlfuncs"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// verdict is the classification of one event.
type verdict uint8

const (
	// verdictNone: the SLO has good conditions and neither kind held.
	verdictNone verdict = iota
	verdictGood
	verdictBad
	// verdictFailed: a condition could not be evaluated; the event is dropped and
	// counted (reason condition_error).
	verdictFailed
)

// classifier applies one SLO's SLI to events. The OTTL conditions are
// parsed once by contrib's pkg/ottl with the standard converters; the
// latency threshold is compared natively, as it is the common case and
// costs one subtraction.
type classifier struct {
	latencyNanos uint64 // 0: no latency threshold

	spanBad, spanGood []spanCond
	// spanNative: every span condition has a native form, so no OTTL
	// transform context is ever needed.
	spanNative      bool
	logBad, logGood []*ottl.Condition[*ottllog.TransformContext]
}

// spanCond is a span condition: native when it has a native form (see
// native.go), else pkg/ottl's.
type spanCond struct {
	native *nativeCond
	ottl   *ottl.Condition[*ottlspan.TransformContext]
}

func spanConds(parsed []*ottl.Condition[*ottlspan.TransformContext], src []string) []spanCond {
	out := make([]spanCond, len(parsed))
	for i, c := range parsed {
		out[i].ottl = c
		if n, ok := compileNative(src[i]); ok {
			out[i].native = &n
		}
	}
	return out
}

func newClassifier(s *SLOConfig, set component.TelemetrySettings) (*classifier, error) {
	c := &classifier{latencyNanos: uint64(max(s.SLI.LatencyThreshold, 0))}
	switch s.Signal {
	case SignalTraces:
		p, err := ottlspan.NewParser(ottlfuncs.StandardConverters[*ottlspan.TransformContext](), set)
		if err != nil {
			return nil, err
		}
		parsedBad, err := parseConditions(&p, "bad", s.SLI.Bad)
		if err != nil {
			return nil, err
		}
		parsedGood, err := parseConditions(&p, "good", s.SLI.Good)
		if err != nil {
			return nil, err
		}
		c.spanBad, c.spanGood = spanConds(parsedBad, s.SLI.Bad), spanConds(parsedGood, s.SLI.Good)
		c.spanNative = true
		for _, sc := range append(slices.Clone(c.spanBad), c.spanGood...) {
			c.spanNative = c.spanNative && sc.native != nil
		}
	case SignalLogs:
		p, err := ottllog.NewParser(ottlfuncs.StandardConverters[*ottllog.TransformContext](), set)
		if err != nil {
			return nil, err
		}
		if c.logBad, err = parseConditions(&p, "bad", s.SLI.Bad); err != nil {
			return nil, err
		}
		if c.logGood, err = parseConditions(&p, "good", s.SLI.Good); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// parseConditions parses each condition on its own, so that the error
// names the key of the one that failed.
func parseConditions[K any](p *ottl.Parser[K], key string, conds []string) ([]*ottl.Condition[K], error) {
	out := make([]*ottl.Condition[K], 0, len(conds))
	for i, s := range conds {
		c, err := p.ParseCondition(s)
		if err != nil {
			return nil, fmt.Errorf("'%s[%d]' %q: %w", key, i, s, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// anyHolds reports whether any condition holds.
func anyHolds[K any](ctx context.Context, conds []*ottl.Condition[K], tCtx K) (bool, error) {
	for _, c := range conds {
		ok, err := c.Eval(ctx, tCtx)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

// classifySpan classifies one span: bad if the latency threshold is
// exceeded or a bad condition holds; else good, unless good conditions are
// configured and none holds.
func (c *classifier) classifySpan(ctx context.Context, rs ptrace.ResourceSpans, ss ptrace.ScopeSpans, span ptrace.Span) verdict {
	if c.latencyNanos > 0 {
		if s, e := span.StartTimestamp(), span.EndTimestamp(); e > s && uint64(e-s) > c.latencyNanos {
			return verdictBad
		}
	}
	if c.spanNative {
		return c.classifyNative(span)
	}
	e := spanEval{rs: rs, ss: ss, span: span}
	defer e.close()
	return decide(len(c.spanGood) > 0, func(badConds bool) (bool, error) {
		if badConds {
			return e.anyHolds(ctx, c.spanBad)
		}
		return e.anyHolds(ctx, c.spanGood)
	})
}

// classifyNative is classifySpan when every condition is native: the
// same rules, without a transform context, defer or closure.
func (c *classifier) classifyNative(span ptrace.Span) verdict {
	for i := range c.spanBad {
		if c.spanBad[i].native.evalSpan(span) {
			return verdictBad
		}
	}
	if len(c.spanGood) == 0 {
		return verdictGood
	}
	for i := range c.spanGood {
		if c.spanGood[i].native.evalSpan(span) {
			return verdictGood
		}
	}
	return verdictNone
}

// spanEval evaluates conditions on one span, creating the OTTL transform
// context only when a condition without a native form needs it.
type spanEval struct {
	rs   ptrace.ResourceSpans
	ss   ptrace.ScopeSpans
	span ptrace.Span
	tCtx *ottlspan.TransformContext
}

func (e *spanEval) anyHolds(ctx context.Context, conds []spanCond) (bool, error) {
	for i := range conds {
		c := &conds[i]
		if c.native != nil {
			if c.native.evalSpan(e.span) {
				return true, nil
			}
			continue
		}
		if e.tCtx == nil {
			e.tCtx = ottlspan.NewTransformContext(e.rs, e.ss, e.span)
		}
		ok, err := c.ottl.Eval(ctx, e.tCtx)
		if err != nil {
			return false, err
		}
		if ok {
			return true, nil
		}
	}
	return false, nil
}

func (e *spanEval) close() {
	if e.tCtx != nil {
		e.tCtx.Close()
	}
}

// classifyLog classifies one log record like classifySpan.
func (c *classifier) classifyLog(ctx context.Context, rl plog.ResourceLogs, sl plog.ScopeLogs, lr plog.LogRecord) verdict {
	tCtx := ottllog.NewTransformContext(rl, sl, lr)
	defer tCtx.Close()
	return decide(len(c.logGood) > 0, func(badConds bool) (bool, error) {
		if badConds {
			return anyHolds(ctx, c.logBad, tCtx)
		}
		return anyHolds(ctx, c.logGood, tCtx)
	})
}

// decide combines an event's conditions: bad if a bad condition holds;
// else good, unless good conditions exist (hasGood) and none holds; a
// condition that fails to evaluate fails the event. holds(true) evaluates
// the bad conditions, holds(false) the good ones.
func decide(hasGood bool, holds func(badConds bool) (bool, error)) verdict {
	isBad, err := holds(true)
	if err != nil {
		return verdictFailed
	}
	if isBad {
		return verdictBad
	}
	if !hasGood {
		return verdictGood
	}
	isGood, err := holds(false)
	switch {
	case err != nil:
		return verdictFailed
	case isGood:
		return verdictGood
	}
	return verdictNone
}
