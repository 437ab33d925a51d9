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
// Two condition shapes make up most availability SLIs: the span status
// (`status.code == STATUS_CODE_ERROR`) and an integer attribute compared
// with a number (`attributes["http.response.status_code"] >= 500`).
// Through pkg/ottl each costs a pooled transform context and a tree of
// getters, about 55 ns a span here, more than the connector's whole budget.
// Conditions of exactly these shapes are therefore also compiled to a
// native predicate, used instead of the OTTL one: the comparison itself is
// OTTL's own (ottl.NewValueComparator, with a direct path for integer
// values), and TestNativeMatchesOTTL checks on random spans, attribute
// types included, that the native result equals pkg/ottl's. Every
// condition is still parsed by pkg/ottl, so errors and the accepted
// language are OTTL's; any other shape is evaluated by pkg/ottl.

var (
	nativeStatusRe = regexp.MustCompile(`^\s*(?:span\.)?status\.code\s*(==|!=)\s*(STATUS_CODE_UNSET|STATUS_CODE_OK|STATUS_CODE_ERROR)\s*$`)
	nativeAttrRe   = regexp.MustCompile(`^\s*(?:span\.)?attributes\["([^"\\]*)"\]\s*(==|!=|>=|<=|>|<)\s*(-?[0-9]{1,18})\s*$`)
	comparator     = ottl.NewValueComparator()
)

type nativeKind uint8

const (
	nativeStatus nativeKind = iota + 1
	nativeIntAttr
)

// nativeCond is a compiled condition of one of the native shapes.
type nativeCond struct {
	kind   nativeKind
	op     string
	code   ptrace.StatusCode
	key    string
	lit    int64
	litAny any
}

// compileNative returns the native form of a span condition, if it has one.
func compileNative(cond string) (nativeCond, bool) {
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
