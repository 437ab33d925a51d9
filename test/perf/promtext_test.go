package perf

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const metricsText = `# HELP otelcol_exporter_evidence_buffer_items Spans, log records or data points the ring buffer holds, per signal.
# TYPE otelcol_exporter_evidence_buffer_items gauge
otelcol_exporter_evidence_buffer_items{exporter="evidence",service_name="otelcol-evidence",signal="logs"} 12
otelcol_exporter_evidence_buffer_items{exporter="evidence",service_name="otelcol-evidence",signal="traces"} 100000
otelcol_process_uptime_seconds_total{service_name="otelcol-evidence"} 1.5e+01
target_info{odd="a \"quoted\", \\ value\n",service_name="x"} 1
up 1 1712345678000
`

func TestParseMetrics(t *testing.T) {
	samples, err := ParseMetrics(strings.NewReader(metricsText))
	require.NoError(t, err)
	require.Len(t, samples, 5)
	assert.Equal(t, "a \"quoted\", \\ value\n", samples[3].Labels["odd"])
	assert.Equal(t, "up", samples[4].Name)

	tests := []struct {
		name   string
		metric string
		match  map[string]string
		want   float64
		found  bool
	}{
		{"one label", "otelcol_exporter_evidence_buffer_items", map[string]string{"signal": "traces"}, 100000, true},
		{"all series", "otelcol_exporter_evidence_buffer_items", nil, 100012, true},
		{"float exponent", "otelcol_process_uptime_seconds_total", nil, 15, true},
		{"absent label value", "otelcol_exporter_evidence_buffer_items", map[string]string{"signal": "metrics"}, 0, false},
		{"absent metric", "nope", nil, 0, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, found := Sum(samples, tt.metric, tt.match)
			assert.Equal(t, tt.found, found)
			assert.InDelta(t, tt.want, got, 1e-9)
		})
	}
}

func TestParseMetricsErrors(t *testing.T) {
	for _, tt := range []struct{ name, in, want string }{
		{"no value", "lonely\n", "no metric name and value"},
		{"bad value", "m{a=\"b\"} x\n", "value \"x\""},
		{"unclosed labels", "m{a=\"b\"", "not closed"},
		{"unclosed value", "m{a=\"b} 1\n", "value not closed"},
		{"unquoted label", "m{a=b} 1\n", "label=\"value\""},
		{"too many fields", "m 1 2 3\n", "optional timestamp"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseMetrics(strings.NewReader(tt.in))
			require.ErrorContains(t, err, tt.want)
		})
	}
}

func FuzzParseMetrics(f *testing.F) {
	f.Add(metricsText)
	f.Add("m{a=\"\\\"} 1")
	f.Fuzz(func(_ *testing.T, in string) {
		_, _ = ParseMetrics(strings.NewReader(in)) // must not panic
	})
}

func TestScrapeMetrics(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/metrics" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(metricsText))
	}))
	defer srv.Close()
	defer srv.Client().CloseIdleConnections()
	defer http.DefaultTransport.(*http.Transport).CloseIdleConnections()

	samples, err := ScrapeMetrics(context.Background(), srv.URL+"/metrics")
	require.NoError(t, err)
	v, ok := Sum(samples, "otelcol_exporter_evidence_buffer_items", map[string]string{"signal": "logs"})
	assert.True(t, ok)
	assert.InDelta(t, 12.0, v, 0)

	_, err = ScrapeMetrics(context.Background(), srv.URL+"/other")
	require.ErrorContains(t, err, "404")
	_, err = ScrapeMetrics(context.Background(), "http://example.com:8888/metrics")
	require.ErrorContains(t, err, "loopback")
}
