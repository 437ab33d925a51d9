package evidenceexporter

import (
	"context"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/sdk/metric/metricdata"
	"go.opentelemetry.io/otel/sdk/metric/metricdata/metricdatatest"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadatatest"
)

func signalPoint[N int64 | float64](signal string, v N) metricdata.DataPoint[N] {
	return metricdata.DataPoint[N]{Attributes: attribute.NewSet(attribute.String("signal", signal)), Value: v}
}

func TestInternalMetrics(t *testing.T) {
	cfg := testConfig(t)
	clock := newFakeClock(t0.Add(time.Minute))
	h := newHarness(t, cfg, clock, nil)
	tel := h.tel
	ctx := context.Background()

	clock.Set(t0.Add(-10 * time.Minute))
	h.traces(span("a", t0.Add(-10*time.Minute)), span("b", t0.Add(-time.Hour)))
	clock.Set(t0.Add(time.Minute))
	require.NoError(t, h.exp.consumeLogs(ctx, makeLogs("l", t0, false)))
	require.NoError(t, h.exp.consumeMetrics(ctx, makeGauge("m", t0)))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.waitParts("INC-1", 1)
	require.Eventually(t, func() bool { p, _ := h.exp.uploader.spooled(); return p == 0 }, 5*time.Second, time.Millisecond)

	ignore := []metricdatatest.Option{metricdatatest.IgnoreTimestamp(), metricdatatest.IgnoreExemplars()}
	metadatatest.AssertEqualExporterEvidenceFreezes(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, ignore...)
	metadatatest.AssertEqualExporterEvidencePartsWritten(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, ignore...)
	metadatatest.AssertEqualExporterEvidencePartsUploaded(t, tel, []metricdata.DataPoint[int64]{{Value: 1}}, ignore...)
	metadatatest.AssertEqualExporterEvidenceItemsFrozen(t, tel, []metricdata.DataPoint[int64]{
		signalPoint[int64]("traces", 1), signalPoint[int64]("logs", 1), signalPoint[int64]("metrics", 1),
	}, ignore...)
	metadatatest.AssertEqualExporterEvidenceBufferItems(t, tel, []metricdata.DataPoint[int64]{
		signalPoint[int64]("traces", 2), signalPoint[int64]("logs", 1), signalPoint[int64]("metrics", 1),
	}, ignore...)
	metadatatest.AssertEqualExporterEvidenceBufferEvictedItems(t, tel, []metricdata.DataPoint[int64]{
		signalPoint[int64]("traces", 0), signalPoint[int64]("logs", 0), signalPoint[int64]("metrics", 0),
	}, ignore...)
	metadatatest.AssertEqualExporterEvidenceBufferBytes(t, tel, []metricdata.DataPoint[int64]{
		signalPoint[int64]("traces", 0), signalPoint[int64]("logs", 0), signalPoint[int64]("metrics", 0),
	}, append(ignore, metricdatatest.IgnoreValue())...)
	// The first block arrived at T-10m, the clock is at T+1m.
	metadatatest.AssertEqualExporterEvidenceBufferLookback(t, tel, []metricdata.DataPoint[float64]{{Value: 660}}, ignore...)
	metadatatest.AssertEqualExporterEvidenceSpoolParts(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, ignore...)
	metadatatest.AssertEqualExporterEvidenceSpoolBytes(t, tel, []metricdata.DataPoint[int64]{{Value: 0}}, ignore...)
	metadatatest.AssertEqualExporterEvidenceUploadDuration(t, tel, []metricdata.HistogramDataPoint[float64]{{}},
		append(ignore, metricdatatest.IgnoreValue())...)

	// Eviction: the age limit drops the T-10m block once it is 35m old.
	clock.Set(t0.Add(26 * time.Minute))
	h.traces(span("c", t0.Add(26*time.Minute)))
	metadatatest.AssertEqualExporterEvidenceBufferEvictedItems(t, tel, []metricdata.DataPoint[int64]{
		signalPoint[int64]("traces", 2), signalPoint[int64]("logs", 0), signalPoint[int64]("metrics", 0),
	}, ignore...)
}
