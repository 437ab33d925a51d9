package perf

import (
	"fmt"
	"maps"

	"go.yaml.in/yaml/v3"
)

// Variant is a collector configuration compared in the CPU runs. Every
// variant has the same traces pipeline shape, otlp -> [processors] ->
// batch -> exporters, with the nop exporter at the end.
type Variant string

// The variants, in the order the report lists them.
const (
	// VariantPlain is otlp -> batch -> nop with no otel-evidence
	// component at all (only health_check).
	VariantPlain Variant = "plain"
	// VariantBaseline is otlp -> batch -> nop, without incident_context
	// and evidence, beside an idle incidents extension and incident_webhook
	// receiver (so it holds the same deploys and incidents as the others).
	VariantBaseline Variant = "baseline"
	// VariantResource adds incident_context at level resource.
	VariantResource Variant = "resource"
	// VariantRecord adds incident_context at level record writing two
	// keys, deployment.id and incident.id: the setting of the issue's
	// reference figures.
	VariantRecord Variant = "record"
	// VariantRecordAll is VariantRecord writing all five keys (the deploy's
	// name, environment and revision too).
	VariantRecordAll Variant = "record_all"
	// VariantFull is otlp -> incident_context -> batch -> evidence + nop.
	VariantFull Variant = "full"
	// VariantFreezing is VariantFull while an incident's window is open,
	// so the evidence exporter freezes what arrives (flush_interval 10s).
	VariantFreezing Variant = "freezing"
	// VariantFreezingJSON and VariantFreezingProto are VariantFreezing with
	// the evidence exporter's encoding set to otlp_json and otlp_proto, so
	// one run compares the encodings interleaved. They run only when
	// PERF_VARIANTS names them.
	VariantFreezingJSON  Variant = "freezing_json"
	VariantFreezingProto Variant = "freezing_proto"
	// VariantFileZstd is VariantFull with contrib's fileexporter writing
	// zstd-compressed OTLP protobuf in evidence's place: what a platform
	// team would run instead to keep a copy of its telemetry.
	VariantFileZstd Variant = "file_zstd"
)

// Variants lists every variant in report order.
var Variants = []Variant{VariantPlain, VariantBaseline, VariantResource, VariantRecord, VariantRecordAll, VariantFull, VariantFreezing, VariantFileZstd}

// ExtraVariants can be named in PERF_VARIANTS but do not run by default.
var ExtraVariants = []Variant{VariantFreezingJSON, VariantFreezingProto}

// Describe returns the pipeline of v in words.
func (v Variant) Describe() string {
	switch v {
	case VariantPlain:
		return "otlp -> batch -> nop, no otel-evidence component"
	case VariantBaseline:
		return "otlp -> batch -> nop (+ idle incidents extension and incident_webhook)"
	case VariantResource:
		return "otlp -> incident_context(resource, all 5 keys) -> batch -> nop"
	case VariantRecord:
		return "otlp -> incident_context(record, 2 keys: deployment.id, incident.id) -> batch -> nop"
	case VariantRecordAll:
		return "otlp -> incident_context(record, all 5 keys) -> batch -> nop"
	case VariantFull:
		return "otlp -> incident_context -> batch -> evidence + nop"
	case VariantFreezing:
		return "full, while an incident window is open (flush_interval 10s)"
	case VariantFreezingJSON:
		return "freezing with encoding otlp_json"
	case VariantFreezingProto:
		return "freezing with encoding otlp_proto"
	case VariantFileZstd:
		return "otlp -> incident_context -> batch -> file (contrib fileexporter, proto, zstd) + nop"
	}
	return string(v)
}

// HasIncidents reports whether v runs the incidents extension and the
// incident_webhook receiver.
func (v Variant) HasIncidents() bool { return v != VariantPlain }

// HasEvidence reports whether v runs the evidence exporter.
func (v Variant) HasEvidence() bool { return v == VariantFull || v.Freezes() }

// Freezes reports whether v runs with an incident window open.
func (v Variant) Freezes() bool {
	return v == VariantFreezing || v == VariantFreezingJSON || v == VariantFreezingProto
}

// Ports are the loopback addresses of one collector.
type Ports struct {
	OTLPGRPC string
	Webhook  string
	Health   string
	// MetricsPort is the port of the Prometheus endpoint of the collector's
	// own telemetry on 127.0.0.1.
	MetricsPort int
	// Pprof, when set, adds the pprof extension on this address so a run
	// can record the collector's CPU profile (PERF_PROFILE_DIR).
	Pprof string
}

// WebhookToken is the bearer token of the incident_webhook receiver.
const WebhookToken = "perf-token"

// CollectorID is the incidents extension's collector ID in every run.
const CollectorID = "perf"

// ConfigOptions complete a variant's configuration.
type ConfigOptions struct {
	// Store is incidents.store (default: filesystem ./var/evidence).
	Store map[string]any
	// Evidence is merged over the evidence exporter's settings (default:
	// the exporter's defaults with spool ./var/spool).
	Evidence map[string]any
	// Webhook is merged over the incident_webhook receiver's settings
	// (default: the endpoint and the bearer token authenticator).
	Webhook map[string]any
}

// CollectorConfig returns the YAML configuration of variant v.
func CollectorConfig(v Variant, p Ports, o ConfigOptions) (string, error) {
	for _, ep := range []string{p.OTLPGRPC, p.Webhook, p.Health} {
		if err := CheckLoopback(ep); err != nil {
			return "", err
		}
	}
	if p.Pprof != "" {
		if err := CheckLoopback(p.Pprof); err != nil {
			return "", err
		}
	}
	var processors []any
	switch v {
	case VariantPlain, VariantBaseline:
	case VariantResource:
		processors = []any{"incident_context/resource"}
	case VariantRecord:
		processors = []any{"incident_context/record"}
	case VariantRecordAll:
		processors = []any{"incident_context/record_all"}
	case VariantFull, VariantFreezing, VariantFreezingJSON, VariantFreezingProto, VariantFileZstd:
		processors = []any{"incident_context/resource"}
	default:
		return "", fmt.Errorf("unknown variant %q", v)
	}
	processors = append(processors, "batch")
	exporters := []any{"nop"}
	cfgExporters := map[string]any{"nop": map[string]any{}}
	switch {
	case v.HasEvidence():
		exporters = []any{"evidence", "nop"}
	case v == VariantFileZstd:
		exporters = []any{"file", "nop"}
		cfgExporters["file"] = map[string]any{"path": "./traces.binpb.zst", "format": "proto", "compression": "zstd"}
	}

	extensions := map[string]any{"health_check": map[string]any{"endpoint": p.Health}}
	serviceExt := []any{"health_check"}
	if p.Pprof != "" {
		extensions["pprof"] = map[string]any{"endpoint": p.Pprof}
		serviceExt = append(serviceExt, "pprof")
	}
	receivers := map[string]any{"otlp": map[string]any{"protocols": map[string]any{
		"grpc": map[string]any{"endpoint": p.OTLPGRPC, "max_recv_msg_size_mib": 64},
	}}}
	pipelines := map[string]any{"traces": map[string]any{
		"receivers": []any{"otlp"}, "processors": processors, "exporters": exporters,
	}}
	cfgProcessors := map[string]any{"batch": map[string]any{}}

	if v.HasIncidents() {
		store := o.Store
		if store == nil {
			store = map[string]any{"backend": "filesystem", "filesystem": map[string]any{"directory": "./var/evidence"}}
		}
		extensions["incidents"] = map[string]any{"collector_id": CollectorID, "store": store}
		extensions["bearertokenauth/webhook"] = map[string]any{"token": WebhookToken}
		serviceExt = append(serviceExt, "bearertokenauth/webhook", "incidents")
		webhook := map[string]any{
			"endpoint": p.Webhook,
			"auth":     map[string]any{"authenticator": "bearertokenauth/webhook"},
		}
		maps.Copy(webhook, o.Webhook)
		receivers["incident_webhook"] = webhook
		pipelines["logs"] = map[string]any{
			"receivers": []any{"incident_webhook"}, "processors": []any{"batch"}, "exporters": exporters,
		}
		cfgProcessors["incident_context/resource"] = map[string]any{"level": "resource"}
		cfgProcessors["incident_context/record"] = map[string]any{"level": "record", "keys": map[string]any{
			"deployment_name": "", "environment": "", "revision": "",
		}}
		cfgProcessors["incident_context/record_all"] = map[string]any{"level": "record"}
	}
	if v.HasEvidence() {
		ev := map[string]any{"spool": map[string]any{"directory": "./var/spool"}}
		if v.Freezes() {
			ev["flush_interval"] = "10s"
		}
		switch v {
		case VariantFreezingJSON:
			ev["encoding"] = "otlp_json"
		case VariantFreezingProto:
			ev["encoding"] = "otlp_proto"
		}
		maps.Copy(ev, o.Evidence)
		cfgExporters["evidence"] = ev
	}
	// Unused processor definitions are an error in the collector.
	used := map[string]bool{}
	for _, pl := range pipelines {
		for _, name := range pl.(map[string]any)["processors"].([]any) {
			used[name.(string)] = true
		}
	}
	maps.DeleteFunc(cfgProcessors, func(k string, _ any) bool { return !used[k] })

	cfg := map[string]any{
		"extensions": extensions,
		"receivers":  receivers,
		"processors": cfgProcessors,
		"exporters":  cfgExporters,
		"service": map[string]any{
			"extensions": serviceExt,
			"pipelines":  pipelines,
			"telemetry": map[string]any{
				"logs": map[string]any{"level": "info"},
				"metrics": map[string]any{"readers": []any{map[string]any{"pull": map[string]any{
					"exporter": map[string]any{"prometheus": map[string]any{"host": "127.0.0.1", "port": p.MetricsPort}},
				}}}},
			},
		},
	}
	out, err := yaml.Marshal(cfg)
	if err != nil {
		return "", err
	}
	return string(out), nil
}
