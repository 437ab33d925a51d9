package bundle

import (
	"archive/tar"
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/goleak"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

var (
	testStart   = testgen.DefaultStart
	testCreated = time.Date(2026, time.March, 2, 10, 15, 30, 123456789, time.UTC)
	testWindow  = Window{Start: testStart.Add(-30 * time.Minute), End: testStart.Add(10 * time.Minute)}
)

func testInfo(enc string, seq int) PartInfo {
	return PartInfo{
		IncidentID:  "INC-42",
		CollectorID: "collector-a",
		Seq:         seq,
		Encoding:    enc,
		CreatedAt:   testCreated,
		Window:      testWindow,
	}
}

// testData is one of each kind of input with known counts and times.
type testData struct {
	traces  []ptrace.Traces
	logs    []plog.Logs
	metrics []pmetric.Metrics
	events  []incident.Event
	counts  Counts
	tr      TimeRange
}

// allTypesMetrics has one metric of every type: 2 gauge points and one
// point of each other type, at the given time (and t+1s for the second
// gauge point).
func allTypesMetrics(t time.Time) pmetric.Metrics {
	md := pmetric.NewMetrics()
	ms := md.ResourceMetrics().AppendEmpty().ScopeMetrics().AppendEmpty().Metrics()
	ts := pcommon.NewTimestampFromTime(t)
	g := ms.AppendEmpty()
	g.SetName("gauge")
	gp := g.SetEmptyGauge().DataPoints()
	gp.AppendEmpty().SetTimestamp(ts)
	p := gp.AppendEmpty()
	p.SetTimestamp(pcommon.NewTimestampFromTime(t.Add(time.Second)))
	p.SetDoubleValue(1.5)
	s := ms.AppendEmpty()
	s.SetName("sum")
	s.SetEmptySum().DataPoints().AppendEmpty().SetTimestamp(ts)
	h := ms.AppendEmpty()
	h.SetName("histogram")
	h.SetEmptyHistogram().DataPoints().AppendEmpty().SetTimestamp(ts)
	e := ms.AppendEmpty()
	e.SetName("exp_histogram")
	e.SetEmptyExponentialHistogram().DataPoints().AppendEmpty().SetTimestamp(ts)
	su := ms.AppendEmpty()
	su.SetName("summary")
	su.SetEmptySummary().DataPoints().AppendEmpty().SetTimestamp(ts)
	ms.AppendEmpty().SetName("empty") // no data, no points
	return md
}

func newTestData() testData {
	step := time.Second
	d := testData{
		traces: []ptrace.Traces{
			testgen.Traces(1, 100, 3, testStart, step),
			testgen.Traces(2, 50, 2, testStart.Add(-time.Hour), step),
		},
		logs: []plog.Logs{testgen.Logs(3, 80, 4, testStart, step)},
		metrics: []pmetric.Metrics{
			testgen.Metrics(4, 60, 5, testStart, step),
			allTypesMetrics(testStart.Add(2 * time.Hour)),
		},
		events: []incident.Event{
			{
				Kind: incident.EventIncidentOpened, Time: testStart.Add(-90 * time.Minute), Source: incident.SourceAlertmanager,
				IncidentID: "INC-42", Payload: json.RawMessage(`{"status": "firing",` + "\n" + ` "labels": {"a": "<b>"}}`),
				Incident: &incident.Incident{ID: "INC-42", Source: incident.SourceAlertmanager, Status: incident.StatusOpen, StartedAt: testStart},
			},
			{Kind: incident.EventDeploy, Time: testStart, Source: incident.SourceDeploy, DeployID: "d-1"},
		},
		counts: Counts{Spans: 150, LogRecords: 80, DataPoints: 66, Events: 2},
	}
	d.tr = TimeRange{Min: testStart.Add(-90 * time.Minute), Max: testStart.Add(2*time.Hour + time.Second)}
	return d
}

func (d testData) write(t testing.TB, enc string) ([]byte, PartInfo) {
	t.Helper()
	return d.writeInfo(t, testInfo(enc, 1))
}

// writeInfo writes the data into a part described by info.
func (d testData) writeInfo(t testing.TB, info PartInfo) ([]byte, PartInfo) {
	t.Helper()
	w, err := NewPartWriter(info)
	require.NoError(t, err)
	for _, td := range d.traces {
		require.NoError(t, w.AddTraces(td))
	}
	for _, ld := range d.logs {
		require.NoError(t, w.AddLogs(ld))
	}
	for _, md := range d.metrics {
		require.NoError(t, w.AddMetrics(md))
	}
	for _, ev := range d.events {
		require.NoError(t, w.AddEvent(ev))
	}
	data, info, err := w.Finish()
	require.NoError(t, err)
	return data, info
}

type tarEntry struct {
	hdr  tar.Header
	data []byte
}

// untar decompresses a part and returns its entries in order.
func untar(t testing.TB, part []byte) []tarEntry {
	t.Helper()
	zr, err := zstd.NewReader(bytes.NewReader(part), zstd.WithDecoderConcurrency(1))
	require.NoError(t, err)
	defer zr.Close()
	tr := tar.NewReader(zr)
	var out []tarEntry
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		require.NoError(t, err)
		b, err := io.ReadAll(tr)
		require.NoError(t, err)
		out = append(out, tarEntry{hdr: *h, data: b})
	}
}

// retar builds a part from entries, as an attacker or a bad disk might.
func retar(t testing.TB, entries []tarEntry) []byte {
	t.Helper()
	var tarBuf bytes.Buffer
	tw := tar.NewWriter(&tarBuf)
	for _, e := range entries {
		h := e.hdr
		if h.Typeflag == tar.TypeReg || h.Typeflag == 0 {
			h.Size = int64(len(e.data))
		}
		require.NoError(t, tw.WriteHeader(&h))
		if len(e.data) > 0 {
			_, err := tw.Write(e.data)
			require.NoError(t, err)
		}
	}
	require.NoError(t, tw.Close())
	return compress(t, tarBuf.Bytes())
}

func compress(t testing.TB, b []byte) []byte {
	t.Helper()
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1))
	require.NoError(t, err)
	out := enc.EncodeAll(b, nil)
	require.NoError(t, enc.Close())
	return out
}
