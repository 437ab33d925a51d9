package timeline

import (
	"fmt"
	"reflect"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// digest is what an aggregator holds, with variants by key, so that two
// aggregators fed the same items in the same order compare equal.
type digest struct {
	Buckets  map[string]bucket
	ErrSpans []string
	Records  int
	Totals   Totals
}

func digestOf(a *aggregator) digest {
	d := digest{Buckets: map[string]bucket{}, Records: len(a.records), Totals: a.totals}
	for k, b := range a.buckets {
		d.Buckets[fmt.Sprintf("%d/%v", k.minute, a.keys[k.variant])] = *b
	}
	for _, e := range a.errSpans {
		d.ErrSpans = append(d.ErrSpans, fmt.Sprintf("%x/%x/%x/%v/%d", e.trace, e.span, e.parent, a.keys[e.variant], e.at))
	}
	return d
}

// scanned feeds line to a new aggregator by the scan, and reports whether
// the scan took it.
func scanned(l jsonLines, line []byte) (*aggregator, error) {
	a := newAggregator()
	return a, l.scan(a, &scanBatch{}, line)
}

// decoded feeds line to a new aggregator through pdata.
func decoded(l jsonLines, line []byte) (*aggregator, error) {
	a := newAggregator()
	return a, l.decode(&sink{a: a, stopped: new(atomic.Bool)}, line)
}

// TestScanCanonical: what pdata's JSON marshaler writes (the bundle's
// otlp_json) is scanned, never sent back to pdata, and gives exactly what
// decoding it with pdata gives.
func TestScanCanonical(t *testing.T) {
	start := at(10, 0)
	tagged := testgen.WithResourceAttributes(map[string]string{"deployment.id": "D-7", "service.version": "7.0.1"})
	var lines []struct {
		name  string
		l     jsonLines
		bytes []byte
	}
	add := func(name string, l jsonLines, b []byte, err error) {
		require.NoError(t, err)
		lines = append(lines, struct {
			name  string
			l     jsonLines
			bytes []byte
		}{name, l, b})
	}
	for i, opts := range [][]testgen.Option{nil, {tagged}, {testgen.WithErrorRate(0.5)}, {testgen.WithObservedOnlyRate(0.5)}} {
		td := testgen.Traces(int64(i), 500, 7, start, 37*time.Millisecond, opts...)
		b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
		add(fmt.Sprintf("traces %d", i), tracesLines, b, err)
		ld := testgen.Logs(int64(i), 500, 7, start, 37*time.Millisecond, opts...)
		b, err = (&plog.JSONMarshaler{}).MarshalLogs(ld)
		add(fmt.Sprintf("logs %d", i), logsLines, b, err)
		md := testgen.Metrics(int64(i), 500, 7, start, 37*time.Millisecond, opts...)
		b, err = (&pmetric.JSONMarshaler{}).MarshalMetrics(md)
		add(fmt.Sprintf("metrics %d", i), metricsLines, b, err)
	}
	// Item-level tags, as incident_context's record level writes them.
	td := traces(span{service: "api", version: "v1", start: start, latency: time.Millisecond, failed: true, trace: 1, id: 2, parent: 3})
	td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().At(0).Attributes().PutStr("deployment.id", "D-9")
	b, err := (&ptrace.JSONMarshaler{}).MarshalTraces(td)
	add("record-level tags", tracesLines, b, err)
	for _, x := range lines {
		t.Run(x.name, func(t *testing.T) {
			fast, err := scanned(x.l, x.bytes)
			require.NoError(t, err, "the canonical form is scanned")
			slow, err := decoded(x.l, x.bytes)
			require.NoError(t, err)
			assert.Equal(t, digestOf(slow), digestOf(fast))
		})
	}
}

// TestScanRescans: what the scan cannot vouch for goes to pdata, and
// invalid JSON is an error either way.
func TestScanRescans(t *testing.T) {
	span := `{"traceId":"5b8efff798038103d269b633813fc60c","spanId":"eee19b7ec3c1b174","startTimeUnixNano":"1544712660000000000","endTimeUnixNano":"1544712661000000000","status":{"code":2}}`
	res := `{"attributes":[{"key":"service.name","value":{"stringValue":"api"}}]}`
	tests := []struct {
		name string
		line string
		// scan: the scan takes it (nil), hands it to pdata (errRescan) or
		// finds it invalid (other).
		scan error
	}{
		{"canonical", `{"resourceSpans":[{"resource":` + res + `,"scopeSpans":[{"spans":[` + span + `]}]}]}`, nil},
		{"resource after its spans", `{"resourceSpans":[{"scopeSpans":[{"spans":[` + span + `]}],"resource":` + res + `}]}`, nil},
		{"numbers for times", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":1544712660000000000,"status":{"code":2}}]}]}]}`, nil},
		{"snake_case", `{"resource_spans":[]}`, errRescan},
		{"deprecated scope spans", `{"resourceSpans":[{"deprecatedScopeSpans":[]}]}`, errRescan},
		{"unknown key", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"bogus":1}]}]}]}`, errRescan},
		{"status by name", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"status":{"code":"STATUS_CODE_ERROR"}}]}]}]}`, errRescan},
		{"escaped service", `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a\u0062"}}]}}]}`, errRescan},
		{"service as a number", `{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"intValue":"7"}}]}}]}`, errRescan},
		{"escaped key", `{"resourceSpans":[{"resource":{"attributes":[{"ke\u0079":"service.name"}]}}]}`, errRescan},
		{"short trace ID", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"traceId":"abcd"}]}]}]}`, errRescan},
		{"negative time", `{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":-1}]}]}]}`, errRescan},
		{"trailing data", `{"resourceSpans":[]} {}`, errRescan},
		{"unterminated", `{"resourceSpans":[{"scopeSpans":[{"spans":[`, nil},
		{"not JSON", `resourceSpans`, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fast, err := scanned(tracesLines, []byte(tt.line))
			slow, perr := decoded(tracesLines, []byte(tt.line))
			switch {
			case tt.name == "unterminated" || tt.name == "not JSON":
				require.Error(t, err)
				assert.NotErrorIs(t, err, errRescan)
				require.Error(t, perr, "pdata refuses it too")
			case tt.scan == nil:
				require.NoError(t, err)
				require.NoError(t, perr)
				assert.Equal(t, digestOf(slow), digestOf(fast))
			default:
				require.ErrorIs(t, err, errRescan)
				assert.Equal(t, digest{Buckets: map[string]bucket{}}, digestOf(fast), "a rescan leaves the aggregator as it was")
			}
		})
	}
}

// FuzzScan checks the scan against pdata on any input: it never panics,
// and whatever both accept gives the same aggregate. (The scan checks the
// fields it does not read for syntax only, so it may accept what pdata
// refuses; never the other way round, unless it hands the line to pdata.)
func FuzzScan(f *testing.F) {
	e := scenario()
	line := func(b []byte, err error) []byte {
		if err != nil {
			f.Fatal(err)
		}
		return b
	}
	f.Add(byte(0), line((&ptrace.JSONMarshaler{}).MarshalTraces(e.traces[0])))
	f.Add(byte(1), line((&plog.JSONMarshaler{}).MarshalLogs(e.logs[0])))
	f.Add(byte(2), line((&pmetric.JSONMarshaler{}).MarshalMetrics(e.metrics[0])))
	f.Add(byte(0), []byte(`{"resourceSpans":[{"scopeSpans":[{"spans":[{"startTimeUnixNano":"1","endTimeUnixNano":"18446744073709551615","status":{"code":2},"attributes":[{"key":"deployment.id","value":{"stringValue":"x"}}]}]}]}]}`))
	f.Add(byte(1), []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"otel-evidence"}}]},"scopeLogs":[{"logRecords":[{"timeUnixNano":"5","severityText":"ERROR"}]}]}]}`))
	f.Add(byte(2), []byte(`{"resourceMetrics":[{"scopeMetrics":[{"metrics":[{"gauge":{"dataPoints":[{"timeUnixNano":"9"}]},"sum":{}}]}]}]}`))
	lines := []jsonLines{tracesLines, logsLines, metricsLines}
	f.Fuzz(func(t *testing.T, kind byte, data []byte) {
		l := lines[int(kind)%len(lines)]
		fast, err := scanned(l, data)
		if err != nil {
			if reflect.DeepEqual(digest{Buckets: map[string]bucket{}}, digestOf(fast)) {
				return
			}
			t.Fatalf("a refused scan changed the aggregator: %+v", digestOf(fast))
		}
		slow, perr := decoded(l, data)
		if perr != nil {
			return
		}
		if d1, d2 := digestOf(slow), digestOf(fast); !reflect.DeepEqual(d1, d2) {
			t.Fatalf("scan and pdata differ on %q:\n%+v\n%+v", data, d2, d1)
		}
	})
}
