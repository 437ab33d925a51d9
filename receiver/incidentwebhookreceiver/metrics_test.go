package incidentwebhookreceiver

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadatatest"
)

func TestMetrics(t *testing.T) {
	env := newTestEnv(t, nil)
	decodeOK(t, env.post("/v1/alertmanager", fixture(t, "alertmanager_firing.json")))
	decodeOK(t, env.post("/v1/alertmanager", fixture(t, "alertmanager_warning.json")))
	decodeOK(t, env.post("/v1/deploys", fixture(t, "deploy.json")))
	decodeError(t, env.post("/v1/alertmanager", []byte(`{`)), http.StatusBadRequest)
	decodeError(t, env.post("/v1/incidents", []byte(`{"id": "a/b"}`)), http.StatusBadRequest)
	decodeError(t, env.post("/nowhere", []byte(`{}`)), http.StatusNotFound)

	src := func(s string) attribute.KeyValue { return attribute.String("source", s) }
	set := attribute.NewSet
	opts := []metricdatatest.Option{metricdatatest.IgnoreTimestamp()}

	metadatatest.AssertEqualReceiverIncidentWebhookRequests(t, env.tel, []metricdata.DataPoint[int64]{
		{Attributes: set(src("alertmanager")), Value: 3},
		{Attributes: set(src("deploy")), Value: 1},
		{Attributes: set(src("generic")), Value: 1},
		{Attributes: set(src("unknown")), Value: 1},
	}, opts...)
	metadatatest.AssertEqualReceiverIncidentWebhookRequestsRefused(t, env.tel, []metricdata.DataPoint[int64]{
		{Attributes: set(src("alertmanager"), attribute.String("reason", "malformed_json")), Value: 1},
		{Attributes: set(src("generic"), attribute.String("reason", "invalid_id")), Value: 1},
		{Attributes: set(src("unknown"), attribute.String("reason", "not_found")), Value: 1},
	}, opts...)
	metadatatest.AssertEqualReceiverIncidentWebhookEventsAccepted(t, env.tel, []metricdata.DataPoint[int64]{
		{Attributes: set(src("alertmanager"), attribute.String("event", "incident.opened")), Value: 1},
		{Attributes: set(src("alertmanager"), attribute.String("event", "alert")), Value: 1},
		{Attributes: set(src("deploy"), attribute.String("event", "deploy")), Value: 1},
	}, opts...)
	metadatatest.AssertEqualReceiverIncidentWebhookRequestDuration(t, env.tel, []metricdata.HistogramDataPoint[float64]{
		{Attributes: set(src("alertmanager"))},
		{Attributes: set(src("deploy"))},
		{Attributes: set(src("generic"))},
		{Attributes: set(src("unknown"))},
	}, append(opts, metricdatatest.IgnoreValue())...)

	// The standard receiver metrics of receiverhelper.ObsReport.
	got, err := env.tel.GetMetric("otelcol_receiver_accepted_log_records")
	require.NoError(t, err)
	sum, ok := got.Data.(metricdata.Sum[int64])
	require.True(t, ok)
	var total int64
	for _, dp := range sum.DataPoints {
		total += dp.Value
	}
	require.Equal(t, int64(3), total)
}

func TestMetricsFailed(t *testing.T) {
	env := newTestEnv(t, nil)
	env.r.registry = nil
	decodeError(t, env.post("/v1/deploys", fixture(t, "deploy.json")), http.StatusServiceUnavailable)
	metadatatest.AssertEqualReceiverIncidentWebhookRequestsFailed(t, env.tel, []metricdata.DataPoint[int64]{
		{Attributes: attribute.NewSet(attribute.String("source", "deploy"), attribute.String("reason", "not_ready")), Value: 1},
	}, metricdatatest.IgnoreTimestamp())
}
