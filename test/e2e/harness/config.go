package harness

import (
	"maps"
	"testing"

	"github.com/stretchr/testify/require"
	"go.yaml.in/yaml/v3"
)

// Token is the bearer token the harness configures for the webhook receiver.
const Token = "e2e-token"

// Options shape the standard test configuration built by Config.
type Options struct {
	// CollectorID for the incidents extension ("" = the default, the host name).
	CollectorID string
	// Store replaces incidents.store (default: filesystem ./var/evidence).
	Store map[string]any
	// SinkEndpoint, when set, adds an otlp exporter to that endpoint to every
	// pipeline, so a test sees exactly what the collector exported.
	SinkEndpoint string
	// Override is deep-merged over the generated configuration.
	Override map[string]any
}

// Config returns a collector configuration with all four otel-evidence
// components in traces, logs and metrics pipelines, every endpoint on the
// given loopback ports, and the webhook receiver behind a bearer token.
func Config(t testing.TB, p Ports, o Options) string {
	t.Helper()
	store := o.Store
	if store == nil {
		store = map[string]any{"backend": "filesystem", "filesystem": map[string]any{"directory": "./var/evidence"}}
	}
	incidents := map[string]any{"store": store, "sync_interval": "500ms"}
	if o.CollectorID != "" {
		incidents["collector_id"] = o.CollectorID
	}
	exporters := []any{"evidence", "nop"}
	cfg := map[string]any{
		"extensions": map[string]any{
			"health_check":            map[string]any{"endpoint": p.Health},
			"bearertokenauth/webhook": map[string]any{"token": Token},
			"incidents":               incidents,
		},
		"receivers": map[string]any{
			"otlp": map[string]any{"protocols": map[string]any{
				"grpc": map[string]any{"endpoint": p.OTLPGRPC},
				"http": map[string]any{"endpoint": p.OTLPHTTP},
			}},
			"incident_webhook": map[string]any{
				"endpoint": p.Webhook,
				"auth":     map[string]any{"authenticator": "bearertokenauth/webhook"},
			},
		},
		"processors": map[string]any{
			"incident_context": map[string]any{},
			"batch":            map[string]any{"timeout": "200ms"},
		},
		"exporters": map[string]any{
			"evidence": map[string]any{
				"spool":          map[string]any{"directory": "./var/spool"},
				"flush_interval": "1s",
			},
			"nop": map[string]any{},
		},
		"service": map[string]any{
			"extensions": []any{"health_check", "bearertokenauth/webhook", "incidents"},
			"telemetry": map[string]any{
				"logs": map[string]any{"level": "info"},
				"metrics": map[string]any{"readers": []any{map[string]any{"pull": map[string]any{
					"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": portOf(t, p.Metrics)}},
				}}}},
			},
		},
	}
	if o.SinkEndpoint != "" {
		cfg["exporters"].(map[string]any)["otlp_grpc/sink"] = map[string]any{
			"endpoint": o.SinkEndpoint,
			"tls":      map[string]any{"insecure": true},
		}
		exporters = append(exporters, "otlp_grpc/sink")
	}
	pipelines := map[string]any{}
	for _, sig := range []string{"traces", "metrics", "logs"} {
		receivers := []any{"otlp"}
		if sig == "logs" {
			receivers = append(receivers, "incident_webhook")
		}
		pipelines[sig] = map[string]any{
			"receivers":  receivers,
			"processors": []any{"incident_context", "batch"},
			"exporters":  exporters,
		}
	}
	cfg["service"].(map[string]any)["pipelines"] = pipelines
	merge(cfg, o.Override)
	out, err := yaml.Marshal(cfg)
	require.NoError(t, err)
	return string(out)
}

// merge deep-merges src into dst: maps merge, anything else replaces.
func merge(dst, src map[string]any) {
	for k, v := range src {
		sm, sok := v.(map[string]any)
		dm, dok := dst[k].(map[string]any)
		if sok && dok {
			merge(dm, sm)
			continue
		}
		if sok {
			v = maps.Clone(sm)
		}
		dst[k] = v
	}
}
