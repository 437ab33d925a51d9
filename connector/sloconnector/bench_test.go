package sloconnector

import (
	"context"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/connector/connectortest"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadata"
	"github.com/otel-evidence/otel-evidence/internal/testutil/threadcpu"
)

// benchSpans is the batch size of the benchmarks: spans per ConsumeTraces.
const benchSpans = 100

// nopFactory is the peer: a traces-to-metrics connector that does nothing
// with what it receives, built through the same connector API.
func nopFactory() connector.Factory {
	typ := component.MustNewType("nop_slo_peer")
	return connector.NewFactory(typ, func() component.Config { return &struct{}{} },
		connector.WithTracesToMetrics(func(context.Context, connector.Settings, component.Config, consumer.Metrics) (connector.Traces, error) {
			return nopTraces{}, nil
		}, component.StabilityLevelDevelopment))
}

type nopTraces struct {
	component.StartFunc
	component.ShutdownFunc
}

func (nopTraces) Capabilities() consumer.Capabilities                { return consumer.Capabilities{} }
func (nopTraces) ConsumeTraces(context.Context, ptrace.Traces) error { return nil }

// BenchmarkConsumeTraces measures the connector's cost per span beside a
// no-op connector in the same run: batches of 100 spans of varied services
// (two selected by the SLOs), 1% errors, random IDs and durations.
// cpu-ns/span (the thread's CPU time) is the figure; make bench reports
// each case minus nop.
func BenchmarkConsumeTraces(b *testing.B) {
	rng := rand.New(rand.NewPCG(1, 2))
	batches := make([]ptrace.Traces, 64)
	for i := range batches {
		batches[i] = traces(rng, []string{"checkout", "cart", "search"}[i%3], benchSpans, rng.IntN(3))
	}
	cases := []struct {
		name string
		make func(b *testing.B) connector.Traces
	}{
		{"nop", func(b *testing.B) connector.Traces {
			f := nopFactory()
			c, err := f.CreateTracesToMetrics(context.Background(), connectortest.NewNopSettings(f.Type()), f.CreateDefaultConfig(), consumertest.NewNop())
			require.NoError(b, err)
			return c
		}},
		{"slo_status", func(b *testing.B) connector.Traces {
			return benchConnector(b, SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR"}})
		}},
		{"slo_http_status", func(b *testing.B) connector.Traces {
			return benchConnector(b, SLIConfig{Bad: []string{`attributes["http.response.status_code"] >= 500`}})
		}},
		{"slo_compound", func(b *testing.B) connector.Traces {
			return benchConnector(b, SLIConfig{Bad: []string{`attributes["http.request.method"] == "POST" and status.code == STATUS_CODE_ERROR`}})
		}},
		// The same condition in parentheses, which only pkg/ottl evaluates.
		{"slo_ottl", func(b *testing.B) connector.Traces {
			return benchConnector(b, SLIConfig{Bad: []string{`(attributes["http.request.method"] == "POST" and status.code == STATUS_CODE_ERROR)`}})
		}},
		{"slo_latency", func(b *testing.B) connector.Traces { return benchConnector(b, SLIConfig{LatencyThreshold: 150e6}) }},
	}
	for _, tc := range cases {
		b.Run(tc.name, func(b *testing.B) {
			c := tc.make(b)
			require.NoError(b, c.Start(context.Background(), lifecycleHost()))
			defer func() { require.NoError(b, c.Shutdown(context.Background())) }()
			ctx := context.Background()
			b.ReportAllocs()
			// The thread's CPU time, far less sensitive than wall time to
			// other work on a shared machine (the hot path runs on the
			// calling goroutine).
			defer threadcpu.Lock()()
			cpuStart, _ := threadcpu.Now()
			i := 0
			for b.Loop() {
				if err := c.ConsumeTraces(ctx, batches[i%len(batches)]); err != nil {
					b.Fatal(err)
				}
				i++
			}
			cpuEnd, _ := threadcpu.Now()
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*benchSpans), "ns/span")
			b.ReportMetric(float64(cpuEnd-cpuStart)/float64(b.N*benchSpans), "cpu-ns/span")
		})
	}
}

func benchConnector(b *testing.B, sli SLIConfig) connector.Traces {
	cfg := testConfig()
	cfg.SLOs[0].Selector = SelectorConfig{GroupBy: []string{"service.name"}}
	cfg.SLOs[0].SLI = sli
	require.NoError(b, cfg.Validate())
	c, err := NewFactory().CreateTracesToMetrics(context.Background(), connectortest.NewNopSettings(metadata.Type), cfg, consumertest.NewNop())
	require.NoError(b, err)
	return c
}
