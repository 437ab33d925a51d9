package perf

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

func TestCollectorConfig(t *testing.T) {
	p := Ports{OTLPGRPC: "127.0.0.1:4317", Webhook: "127.0.0.1:8088", Health: "127.0.0.1:13133", MetricsPort: 8888}
	tests := []struct {
		variant    Variant
		processors []any
		exporters  []any
		incidents  bool
	}{
		{VariantPlain, []any{"batch"}, []any{"nop"}, false},
		{VariantBaseline, []any{"batch"}, []any{"nop"}, true},
		{VariantResource, []any{"incident_context/resource", "batch"}, []any{"nop"}, true},
		{VariantRecord, []any{"incident_context/record", "batch"}, []any{"nop"}, true},
		{VariantRecordAll, []any{"incident_context/record_all", "batch"}, []any{"nop"}, true},
		{VariantFull, []any{"incident_context/resource", "batch"}, []any{"evidence", "nop"}, true},
		{VariantFreezing, []any{"incident_context/resource", "batch"}, []any{"evidence", "nop"}, true},
		{VariantFileZstd, []any{"incident_context/resource", "batch"}, []any{"file", "nop"}, true},
	}
	require.Len(t, tests, len(Variants))
	for _, tt := range tests {
		t.Run(string(tt.variant), func(t *testing.T) {
			out, err := CollectorConfig(tt.variant, p, ConfigOptions{Evidence: map[string]any{"flush_interval": "5s"}})
			require.NoError(t, err)
			var cfg struct {
				Extensions map[string]any            `yaml:"extensions"`
				Receivers  map[string]any            `yaml:"receivers"`
				Processors map[string]map[string]any `yaml:"processors"`
				Exporters  map[string]map[string]any `yaml:"exporters"`
				Service    struct {
					Extensions []any `yaml:"extensions"`
					Pipelines  map[string]struct {
						Receivers, Processors, Exporters []any
					} `yaml:"pipelines"`
				} `yaml:"service"`
			}
			require.NoError(t, yaml.Unmarshal([]byte(out), &cfg))
			traces := cfg.Service.Pipelines["traces"]
			assert.Equal(t, []any{"otlp"}, traces.Receivers)
			assert.Equal(t, tt.processors, traces.Processors)
			assert.Equal(t, tt.exporters, traces.Exporters)
			assert.Len(t, cfg.Processors, len(tt.processors), "only used processors are defined")
			_, hasExt := cfg.Extensions["incidents"]
			assert.Equal(t, tt.incidents, hasExt)
			_, hasLogs := cfg.Service.Pipelines["logs"]
			assert.Equal(t, tt.incidents, hasLogs)
			if file, ok := cfg.Exporters["file"]; ok {
				assert.Equal(t, "proto", file["format"])
				assert.Equal(t, "zstd", file["compression"])
			}
			if tt.variant.HasEvidence() {
				assert.Equal(t, "5s", cfg.Exporters["evidence"]["flush_interval"], "options override the variant")
			} else {
				assert.NotContains(t, cfg.Exporters, "evidence")
			}
			if lvl, ok := cfg.Processors["incident_context/record"]; ok {
				assert.Equal(t, "record", lvl["level"])
				assert.Equal(t, map[string]any{"deployment_name": "", "environment": "", "revision": ""}, lvl["keys"],
					"two keys: deployment.id and incident.id")
			}
			if lvl, ok := cfg.Processors["incident_context/record_all"]; ok {
				assert.Equal(t, "record", lvl["level"])
				assert.NotContains(t, lvl, "keys")
			}
		})
	}
}

// TestCollectorConfigEncodings: the freezing variants that name an
// encoding set it, and the others leave the exporter's default.
func TestCollectorConfigEncodings(t *testing.T) {
	p := Ports{OTLPGRPC: "127.0.0.1:4317", Webhook: "127.0.0.1:8088", Health: "127.0.0.1:13133", MetricsPort: 8888}
	for v, want := range map[Variant]any{VariantFreezing: nil, VariantFull: nil, VariantFreezingJSON: "otlp_json", VariantFreezingProto: "otlp_proto"} {
		out, err := CollectorConfig(v, p, ConfigOptions{})
		require.NoError(t, err)
		var cfg struct {
			Exporters map[string]map[string]any `yaml:"exporters"`
		}
		require.NoError(t, yaml.Unmarshal([]byte(out), &cfg))
		assert.Equal(t, want, cfg.Exporters["evidence"]["encoding"], string(v))
		assert.Equal(t, v.Freezes(), cfg.Exporters["evidence"]["flush_interval"] == "10s", string(v))
	}
}

func TestCollectorConfigErrors(t *testing.T) {
	good := Ports{OTLPGRPC: "127.0.0.1:1", Webhook: "127.0.0.1:2", Health: "127.0.0.1:3", MetricsPort: 4}
	_, err := CollectorConfig("nope", good, ConfigOptions{})
	require.ErrorContains(t, err, `unknown variant "nope"`)
	bad := good
	bad.Webhook = "0.0.0.0:8088"
	_, err = CollectorConfig(VariantFull, bad, ConfigOptions{})
	require.ErrorContains(t, err, "loopback")
}
