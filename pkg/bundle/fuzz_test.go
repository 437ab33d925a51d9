package bundle

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// fuzzLimits keep each fuzz run's memory small while still admitting the
// seed parts (whose zstd window is 8 MiB).
var fuzzLimits = Limits{MaxFileSize: 1 << 20, MaxTotalSize: 4 << 20, MaxWindow: 8 << 20}

// FuzzReadPart feeds arbitrary bytes (a downloaded part is outside input)
// to ReadPart and, when it accepts them, to Verify and every decoder.
func FuzzReadPart(f *testing.F) {
	for _, enc := range encodings {
		data, _ := smallPart(f, "c1", 1, enc)
		f.Add(data)
		f.Add(data[:len(data)/2])
		w, err := NewPartWriter(testInfo(enc, 2))
		require.NoError(f, err)
		empty, _, err := w.Finish()
		require.NoError(f, err)
		f.Add(empty)
	}
	f.Add([]byte{})
	f.Add([]byte{0x28, 0xb5, 0x2f, 0xfd})
	f.Fuzz(func(t *testing.T, data []byte) {
		p, err := ReadPartLimits(bytes.NewReader(data), fuzzLimits)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		_ = p.Verify()
		_ = p.Traces(func(ptrace.Traces) error { return nil })
		_ = p.Logs(func(plog.Logs) error { return nil })
		_ = p.Metrics(func(pmetric.Metrics) error { return nil })
		_ = p.Events(func(incident.Event) error { return nil })
	})
}

// FuzzParseKey checks that every accepted key is exactly the key the
// helpers build from its parts, so no accepted key can point elsewhere.
func FuzzParseKey(f *testing.F) {
	for _, s := range []string{
		"incidents/INC-1/incident.json",
		"incidents/INC-1/collectors/c1/manifest.json",
		"incidents/INC-1/collectors/c1/part-000001.tar.zst",
		"incidents/../collectors/c1/part-000001.tar.zst",
		"incidents/a/collectors/b/part-1.tar.zst",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, key string) {
		k, err := ParseKey(key)
		if err != nil {
			return
		}
		var rebuilt string
		switch k.Kind {
		case KindIncident:
			rebuilt, err = IncidentKey(k.IncidentID)
		case KindManifest:
			rebuilt, err = ManifestKey(k.IncidentID, k.CollectorID)
		case KindPart:
			rebuilt, err = PartKey(k.IncidentID, k.CollectorID, k.Part)
		default:
			t.Fatalf("unknown kind %q", k.Kind)
		}
		require.NoError(t, err)
		require.Equal(t, key, rebuilt)
	})
}

// FuzzParseManifest checks that ParseManifest never panics and that an
// accepted manifest survives a write and read unchanged.
func FuzzParseManifest(f *testing.F) {
	m, err := NewManifest("INC-1", "c1", testWindow)
	require.NoError(f, err)
	require.NoError(f, m.AddPart(testRef(1, Counts{Spans: 3})))
	b, err := m.Marshal()
	require.NoError(f, err)
	f.Add(b)
	f.Add([]byte(`{"format":1,"incident_id":"a","collector_id":"b","parts":[],"totals":{}}`))
	f.Add([]byte(`{`))
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseManifest(data)
		if err != nil {
			return
		}
		out, err := m.Marshal()
		require.NoError(t, err)
		again, err := ParseManifest(out)
		require.NoError(t, err)
		require.Equal(t, m.Parts, again.Parts)
		require.Equal(t, m.Totals, again.Totals)
	})
}
