package timeline

import (
	"bytes"
	"encoding/json"
	"io"
	"testing"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// FuzzJSONL feeds the same bytes to every JSON Lines decoder of an
// evidence directory, builds a timeline from what decodes and renders it:
// no input may panic, and the rendering of what was built never fails.
func FuzzJSONL(f *testing.F) {
	e := scenario()
	line := func(b []byte, err error) []byte {
		if err != nil {
			f.Fatal(err)
		}
		return append(b, '\n')
	}
	f.Add(line((&ptrace.JSONMarshaler{}).MarshalTraces(e.traces[0])))
	f.Add(line((&plog.JSONMarshaler{}).MarshalLogs(e.logs[0])))
	f.Add(line((&pmetric.JSONMarshaler{}).MarshalMetrics(e.metrics[0])))
	f.Add(line(json.Marshal(e.events[0])))
	f.Add(line(json.Marshal(e.events[1])))
	f.Add([]byte(`{"resourceSpans":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"a|b"}}]},` +
		`"scopeSpans":[{"spans":[{"startTimeUnixNano":"18446744073709551615","endTimeUnixNano":"1","status":{"code":2}}]}]}]}`))
	f.Add([]byte(`{"kind":"deploy","time":"0001-01-01T00:00:00Z","deploy":{"id":"x","service":"s","started_at":"9999-12-31T23:59:59Z"}}`))
	f.Add([]byte("\n\n{}\n[]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		in := Input{
			Traces:  jsonl(bytes.NewReader(data), "traces.jsonl", decodeTraces),
			Logs:    jsonl(bytes.NewReader(data), "logs.jsonl", decodeLogs),
			Metrics: jsonl(bytes.NewReader(data), "metrics.jsonl", decodeMetrics),
			Events:  jsonl(bytes.NewReader(data), "events.jsonl", decodeEvent),
		}
		tl, err := Build(in)
		if err != nil {
			return
		}
		if err := tl.WriteMarkdown(io.Discard); err != nil {
			t.Fatal(err)
		}
		var buf bytes.Buffer
		if err := tl.WriteJSON(&buf); err != nil {
			t.Fatal(err)
		}
		var back Timeline
		if err := json.Unmarshal(buf.Bytes(), &back); err != nil {
			t.Fatalf("the JSON output does not decode: %v", err)
		}
	})
}

// FuzzParseIncident checks that incident.json from outside never panics
// and that what it accepts renders.
func FuzzParseIncident(f *testing.F) {
	f.Add([]byte(`{"id":"INC-1","status":"open","source":"generic","started_at":"2026-03-02T10:00:00Z"}`))
	f.Add([]byte(`{"id":"INC-1","title":"a|b\n<x>","status":"resolved","started_at":"2026-03-02T10:00:00Z",` +
		`"resolved_at":"2026-03-02T09:00:00Z","scope":[{"key":"k","value":"v"}],"links":[{"href":"https://x"}]}`))
	f.Add([]byte(`{"id":"../x","status":"open"}`))
	f.Add([]byte(`null`))
	f.Fuzz(func(t *testing.T, data []byte) {
		inc, err := bundle.ParseIncident(data)
		if err != nil {
			return
		}
		if inc.Validate() != nil {
			t.Fatal("bundle.ParseIncident accepted an invalid incident")
		}
		tl, err := Build(Input{Incident: inc})
		if err != nil {
			t.Fatal(err)
		}
		if err := tl.WriteMarkdown(io.Discard); err != nil {
			t.Fatal(err)
		}
	})
}
