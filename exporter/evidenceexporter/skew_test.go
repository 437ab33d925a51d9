package evidenceexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadatatest"
)

func skewPoint(signal, direction string, v int64) metricdata.DataPoint[int64] {
	return metricdata.DataPoint[int64]{
		Attributes: attribute.NewSet(attribute.String("signal", signal), attribute.String("direction", direction)),
		Value:      v,
	}
}

func TestItemsSkewed(t *testing.T) {
	now := t0
	untimedSpan := func() ptrace.Traces {
		td := makeTraces(span("late", now.Add(-10*time.Minute)))
		td.ResourceSpans().At(0).ScopeSpans().At(0).Spans().AppendEmpty().SetName("no time")
		return td
	}
	tests := []struct {
		name    string
		traces  []ptrace.Traces
		logs    []plog.Logs
		metrics []pmetric.Metrics
		// want is nil when the metric must not be recorded at all.
		want []metricdata.DataPoint[int64]
	}{
		{
			name:    "within the threshold",
			traces:  []ptrace.Traces{makeTraces(span("a", now.Add(-4*time.Minute)), span("b", now.Add(4*time.Minute)), span("c", now))},
			logs:    []plog.Logs{makeLogs("l", now.Add(-time.Minute), false), makeLogs("o", now.Add(time.Minute), true)},
			metrics: []pmetric.Metrics{makeGauge("g", now.Add(-299*time.Second))},
		},
		{
			name:    "exactly at the threshold",
			traces:  []ptrace.Traces{makeTraces(span("a", now.Add(-skewThreshold)), span("b", now.Add(skewThreshold)))},
			logs:    []plog.Logs{makeLogs("l", now.Add(-skewThreshold), false)},
			metrics: []pmetric.Metrics{makeGauge("g", now.Add(skewThreshold))},
		},
		{
			// The batch range crosses the threshold, so each item is
			// looked at: the edges still do not count.
			name: "exactly at the threshold, next to skewed items",
			traces: []ptrace.Traces{makeTraces(span("a", now.Add(-skewThreshold)), span("b", now.Add(skewThreshold)),
				span("c", now.Add(skewThreshold+time.Nanosecond)))},
			logs: []plog.Logs{makeLogs("l", now.Add(-skewThreshold), false), makeLogs("m", now.Add(-skewThreshold-time.Nanosecond), false)},
			want: []metricdata.DataPoint[int64]{skewPoint("traces", "future", 1), skewPoint("logs", "past", 1)},
		},
		{
			name: "past and future, per signal",
			traces: []ptrace.Traces{
				makeTraces(span("old", now.Add(-10*time.Minute)), span("edge", now.Add(-skewThreshold-time.Nanosecond)),
					span("new", now.Add(10*time.Minute)), span("now", now)),
				makeTraces(span("now", now)),
			},
			logs: []plog.Logs{
				// The log record's own time is its timestamp (its observed
				// time is an hour later), or its observed time when unset.
				makeLogs("old", now.Add(-10*time.Minute), false),
				makeLogs("new", now.Add(10*time.Minute), true),
				makeLogs("observed late", now.Add(-61*time.Minute), false),
			},
			metrics: []pmetric.Metrics{makeGauge("g", now.Add(6*time.Minute)), makeGauge("h", now)},
			want: []metricdata.DataPoint[int64]{
				skewPoint("traces", "past", 2), skewPoint("traces", "future", 1),
				skewPoint("logs", "past", 2), skewPoint("logs", "future", 1),
				skewPoint("metrics", "future", 1),
			},
		},
		{
			name:   "items without a time are not skewed",
			traces: []ptrace.Traces{untimedSpan()},
			want:   []metricdata.DataPoint[int64]{skewPoint("traces", "past", 1)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, testConfig(t), newFakeClock(now), nil)
			ctx := context.Background()
			for _, td := range tt.traces {
				require.NoError(t, h.exp.consumeTraces(ctx, td))
			}
			for _, ld := range tt.logs {
				require.NoError(t, h.exp.consumeLogs(ctx, ld))
			}
			for _, md := range tt.metrics {
				require.NoError(t, h.exp.consumeMetrics(ctx, md))
			}
			if tt.want == nil {
				_, err := h.tel.GetMetric("otelcol_exporter_evidence_items_skewed")
				require.Error(t, err, "no item is skewed, so the counter must not be recorded")
				return
			}
			metadatatest.AssertEqualExporterEvidenceItemsSkewed(t, h.tel, tt.want,
				metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars())
		})
	}
}
