package evidenceexporter

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// putIncidentRecord writes incident.json as the incidents extension does
// (the fake registry does not).
func putIncidentRecord(t *testing.T, h *harness, id string) {
	t.Helper()
	inc := h.reg.Snapshot().Incidents[id]
	require.NotNil(t, inc)
	data, err := json.Marshal(inc)
	require.NoError(t, err)
	key, err := bundle.IncidentKey(id)
	require.NoError(t, err)
	require.NoError(t, h.fs.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
}

// TestSignedChainedParts: with a signing key, every part.json and the
// manifest carry a valid signature of that key, each part names its
// predecessor's SHA-256 and holds the incident record it was frozen with.
func TestSignedChainedParts(t *testing.T) {
	priv, pub, keyID, err := bundle.GenerateKey()
	require.NoError(t, err)
	keyFile := filepath.Join(t.TempDir(), "signing.key")
	require.NoError(t, os.WriteFile(keyFile, priv, 0o600))
	cfg := testConfig(t)
	cfg.PartMaxBytes = 1 // every batch closes its part
	cfg.Signing.KeyFile = keyFile
	h := newHarness(t, cfg, newFakeClock(t0), nil)
	for i := range 3 {
		h.traces(span("s", t0.Add(-time.Duration(i)*time.Minute)))
	}
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(20 * time.Minute))
	m := h.waitComplete("INC-1")
	putIncidentRecord(t, h, "INC-1")
	require.GreaterOrEqual(t, len(m.Parts), 3)

	keys := bundle.NewKeyRing()
	_, err = keys.Add(pub)
	require.NoError(t, err)
	rep, err := bundle.VerifyBundle(context.Background(), h.fs, "INC-1", bundle.VerifyOptions{Keys: keys})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.AllProblems())
	require.Len(t, rep.Collectors, 1)
	c := rep.Collectors[0]
	assert.Equal(t, bundle.SigValid, c.Manifest.State)
	assert.Equal(t, len(m.Parts), c.SignedParts)
	assert.Equal(t, len(m.Parts)-1, c.Chained)
	assert.Equal(t, []string{keyID}, c.KeyIDs)
	require.NotNil(t, rep.IncidentRecord)
	assert.Equal(t, "test INC-1", rep.IncidentRecord.Record.Title)
	assert.Equal(t, len(m.Parts), rep.IncidentRecord.Records)

	for i, p := range h.read("INC-1", m).parts {
		if i == 0 {
			assert.Empty(t, p.Info.PrevPartSHA256)
			continue
		}
		assert.Equal(t, m.Parts[i-1].SHA256, p.Info.PrevPartSHA256, "part %d", i+1)
	}
}

// TestUnsignedWithoutKey: no key configured, nothing is signed, and the
// bundle still verifies (as unsigned).
func TestUnsignedWithoutKey(t *testing.T) {
	h := newHarness(t, testConfig(t), newFakeClock(t0), nil)
	h.traces(span("s", t0.Add(-time.Minute)))
	h.reg.open(t, "INC-1", t0)
	h.flush()
	h.at(t0.Add(20 * time.Minute))
	h.waitComplete("INC-1")
	putIncidentRecord(t, h, "INC-1")
	rep, err := bundle.VerifyBundle(context.Background(), h.fs, "INC-1")
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.AllProblems())
	assert.False(t, rep.Signed())
	assert.Equal(t, bundle.SigUnsigned, rep.Collectors[0].Manifest.State)
}
