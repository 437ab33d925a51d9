package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"regexp"
	"strconv"

	"github.com/open-telemetry/opentelemetry-collector-contrib/pkg/ottl"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// Native span conditions.
//
// A few condition shapes make up most availability SLIs: the span status
// (`status.code == STATUS_CODE_ERROR`), an integer attribute compared with
// a number (`attributes["http.response.status_code"] >= 500`), a string
// attribute compared with a literal (`attributes["http.request.method"] ==
// "POST"`), and `and`/`or` combinations of these without parentheses.
// Through pkg/ottl each costs a pooled transform context and a tree of
// getters, about 55 ns a span here for one comparison and about 100 ns for
// two, more than the connector's whole budget. Conditions of exactly these
// shapes are therefore also compiled to a native predicate, used instead
// of the OTTL one: the comparison itself is OTTL's own
// (ottl.NewValueComparator, with direct paths for integer and string
// values), `and` binds tighter than `or` as in OTTL's grammar, and
// TestNativeMatchesOTTL checks on random spans, attribute types included,
// that the native result equals pkg/ottl's. Every condition is still
// parsed by pkg/ottl, so errors and the accepted language are OTTL's; any
// other shape is evaluated by pkg/ottl.

var (
	nativeStatusRe = regexp.MustCompile(`^\s*(?:span\.)?status\.code\s*(==|!=)\s*(STATUS_CODE_UNSET|STATUS_CODE_OK|STATUS_CODE_ERROR)\s*$`)
	nativeAttrRe   = regexp.MustCompile(`^\s*(?:span\.)?attributes\["([^"\\]*)"\]\s*(==|!=|>=|<=|>|<)\s*(-?[0-9]{1,18})\s*$`)
	nativeStrRe    = regexp.MustCompile(`^\s*(?:span\.)?attributes\["([^"\\]*)"\]\s*(==|!=)\s*"([^"\\]*)"\s*$`)
	comparator     = ottl.NewValueComparator()
)

type nativeKind uint8

const (
	nativeStatus nativeKind = iota + 1
	nativeIntAttr
	nativeStrAttr
	nativeAnd
	nativeOr
)

// nativeCond is a compiled condition of one of the native shapes.
type nativeCond struct {
	kind   nativeKind
	op     string
	code   ptrace.StatusCode
	key    string
	lit    int64
	str    string
	litAny any
	// terms are the operands of nativeAnd and nativeOr.
	terms []nativeCond
}

// compileNative returns the native form of a span condition, if it has one.
func compileNative(cond string) (nativeCond, bool) {
	ors, ok := splitBool(cond, "or")
	if !ok {
		return nativeCond{}, false
	}
	if len(ors) > 1 {
		return compileTerms(nativeOr, ors, compileConjunction)
	}
	return compileConjunction(cond)
}

// compileConjunction compiles `a and b and ...` of native atoms.
func compileConjunction(cond string) (nativeCond, bool) {
	ands, ok := splitBool(cond, "and")
	if !ok {
		return nativeCond{}, false
	}
	if len(ands) > 1 {
		return compileTerms(nativeAnd, ands, compileAtom)
	}
	return compileAtom(cond)
}

func compileTerms(kind nativeKind, parts []string, compile func(string) (nativeCond, bool)) (nativeCond, bool) {
	terms := make([]nativeCond, len(parts))
	for i, p := range parts {
		t, ok := compile(p)
		if !ok {
			return nativeCond{}, false
		}
		terms[i] = t
	}
	return nativeCond{kind: kind, terms: terms}, true
}

// splitBool splits cond at the boolean keyword kw (`and` or `or`) where it
// stands outside string literals between white space. It refuses (false)
// conditions with parentheses, `not` or escapes, which only pkg/ottl
// evaluates.
func splitBool(cond, kw string) ([]string, bool) {
	var parts []string
	start, inStr := 0, false
	for i := 0; i < len(cond); i++ {
		c := cond[i]
		switch {
		case c == '\\':
			return nil, false
		case c == '"':
			inStr = !inStr
		case inStr:
		case c == '(' || c == ')':
			return nil, false
		case isSpace(c) && i+len(kw)+1 < len(cond) && cond[i+1:i+1+len(kw)] == kw && isSpace(cond[i+1+len(kw)]):
			parts = append(parts, cond[start:i])
			i += len(kw)
			start = i + 1
		case c == 'n' && (i == 0 || isSpace(cond[i-1])) && len(cond) > i+3 && cond[i:i+3] == "not" && isSpace(cond[i+3]):
			return nil, false
		}
	}
	if inStr {
		return nil, false
	}
	return append(parts, cond[start:]), true
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

// compileAtom compiles one comparison of a native shape.
func compileAtom(cond string) (nativeCond, bool) {
	if m := nativeStatusRe.FindStringSubmatch(cond); m != nil {
		code := map[string]ptrace.StatusCode{
			"STATUS_CODE_UNSET": ptrace.StatusCodeUnset, "STATUS_CODE_OK": ptrace.StatusCodeOk, "STATUS_CODE_ERROR": ptrace.StatusCodeError,
		}[m[2]]
		return nativeCond{kind: nativeStatus, op: m[1], code: code}, true
	}
	if m := nativeAttrRe.FindStringSubmatch(cond); m != nil {
		lit, err := strconv.ParseInt(m[3], 10, 64)
		if err != nil {
			return nativeCond{}, false
		}
		return nativeCond{kind: nativeIntAttr, op: m[2], key: m[1], lit: lit, litAny: lit}, true
	}
	if m := nativeStrRe.FindStringSubmatch(cond); m != nil {
		return nativeCond{kind: nativeStrAttr, op: m[2], key: m[1], str: m[3], litAny: m[3]}, true
	}
	return nativeCond{}, false
}

// evalSpan evaluates the condition on a span.
func (n *nativeCond) evalSpan(span ptrace.Span) bool {
	switch n.kind {
	case nativeStatus:
		eq := span.Status().Code() == n.code
		if n.op == "==" {
			return eq
		}
		return !eq
	case nativeIntAttr:
		v, ok := span.Attributes().Get(n.key)
		if ok && v.Type() == pcommon.ValueTypeInt {
			return compareInts(v.Int(), n.lit, n.op)
		}
		var a any // absent: nil, as OTTL reads it
		if ok {
			a = rawValue(v)
		}
		return compareAny(a, n.litAny, n.op)
	case nativeStrAttr:
		v, ok := span.Attributes().Get(n.key)
		if ok && v.Type() == pcommon.ValueTypeStr {
			return (v.Str() == n.str) == (n.op == "==")
		}
		var a any // absent: nil, as OTTL reads it
		if ok {
			a = rawValue(v)
		}
		return compareAny(a, n.litAny, n.op)
	case nativeAnd:
		for i := range n.terms {
			if !n.terms[i].evalSpan(span) {
				return false
			}
		}
		return true
	case nativeOr:
		for i := range n.terms {
			if n.terms[i].evalSpan(span) {
				return true
			}
		}
		return false
	}
	return false
}

func compareInts(a, b int64, op string) bool {
	switch op {
	case "==":
		return a == b
	case "!=":
		return a != b
	case ">=":
		return a >= b
	case "<=":
		return a <= b
	case ">":
		return a > b
	case "<":
		return a < b
	}
	return false
}

func compareAny(a, b any, op string) bool {
	switch op {
	case "==":
		return comparator.Equal(a, b)
	case "!=":
		return comparator.NotEqual(a, b)
	case ">=":
		return comparator.GreaterEqual(a, b)
	case "<=":
		return comparator.LessEqual(a, b)
	case ">":
		return comparator.Greater(a, b)
	case "<":
		return comparator.Less(a, b)
	}
	return false
}

// rawValue converts an attribute value the way OTTL's attribute getter
// does: maps and slices stay pdata values.
func rawValue(v pcommon.Value) any {
	switch v.Type() {
	case pcommon.ValueTypeStr:
		return v.Str()
	case pcommon.ValueTypeInt:
		return v.Int()
	case pcommon.ValueTypeDouble:
		return v.Double()
	case pcommon.ValueTypeBool:
		return v.Bool()
	case pcommon.ValueTypeBytes:
		return v.Bytes().AsRaw()
	case pcommon.ValueTypeMap:
		return v.Map()
	case pcommon.ValueTypeSlice:
		return v.Slice()
	}
	return nil
}
