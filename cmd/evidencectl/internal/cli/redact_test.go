package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// TestRedact: a signed bundle, downloaded, redacted and verified as a
// derived bundle against the collector's key; the blocked values are gone;
// an edit of the copy, or another key, fails.
func TestRedact(t *testing.T) {
	priv, pub, _, err := bundle.GenerateKey()
	require.NoError(t, err)
	signer, err := bundle.NewSigner(priv)
	require.NoError(t, err)
	keyDir := t.TempDir()
	pubFile := filepath.Join(keyDir, "evidence.pub")
	require.NoError(t, os.WriteFile(pubFile, pub, 0o600))
	_, otherPub, _, err := bundle.GenerateKey()
	require.NoError(t, err)
	otherFile := filepath.Join(keyDir, "other.pub")
	require.NoError(t, os.WriteFile(otherFile, otherPub, 0o600))

	st, storeURL := newFSStore(t)
	f := twoCollectorFixture("INC-R")
	f.signer = signer
	f.editIncident = func(inc *incident.Incident) {
		inc.Title = "card 4111-1111-1111-1111 declined"
		inc.Labels = map[string]string{"owner": "ann@example.com", "team": "pay"}
	}
	f.write(t, st)
	dir := filepath.Join(t.TempDir(), "inc")
	run(t, "--store", storeURL, "get", "INC-R", "-o", dir, "--key", pubFile).requireCode(t, ExitOK)

	rules := filepath.Join(keyDir, "rules.yaml")
	require.NoError(t, os.WriteFile(rules, []byte("blocked_key_patterns: ['^service\\.name$', '^owner$']\nblocked_values: ['[0-9]{4}(-[0-9]{4}){3}']\n"), 0o600))
	out := filepath.Join(t.TempDir(), "shared")
	r := run(t, "redact", dir, "--rules", rules, "--out", out, "--key", pubFile).requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Redacted copy of INC-R in "+out+": 2 collector(s), 4 part(s)")

	r = run(t, "verify", out, "--key", pubFile).requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Derived bundle (evidencectl redact) of collector collector-a")
	assert.Contains(t, r.stdout, "signature valid")

	// Nothing blocked is left: not in the incident record, not in a part.
	inc, err := os.ReadFile(filepath.Join(out, "incidents", "INC-R", "incident.json"))
	require.NoError(t, err)
	assert.Contains(t, string(inc), "card **** declined")
	assert.NotContains(t, string(inc), "ann@example.com")
	partFile := filepath.Join(out, "incidents", "INC-R", "collectors", "collector-a", "part-000001.tar.zst")
	data, err := os.ReadFile(partFile)
	require.NoError(t, err)
	p, err := bundle.ReadPart(bytes.NewReader(data))
	require.NoError(t, err)
	spans := 0
	require.NoError(t, p.Traces(func(td ptrace.Traces) error {
		for _, rs := range td.ResourceSpans().All() {
			v, ok := rs.Resource().Attributes().Get("service.name")
			require.True(t, ok)
			assert.Equal(t, "****", v.Str())
			spans += td.SpanCount()
		}
		return nil
	}))
	assert.Positive(t, spans)
	assert.NotEmpty(t, p.Info.SourcePartSHA256)

	// Another trusted key: the source manifests' signatures are unknown.
	r = run(t, "verify", out, "--key", otherFile).requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "the source manifest it was derived from: signed by unknown key")

	// An edited copy fails.
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(partFile, data, 0o600))
	r = run(t, "verify", out, "--key", pubFile).requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "BAD  "+partFile)

	// The copy is written to a new directory only, from verified evidence.
	r = run(t, "redact", dir, "--rules", rules, "--out", out).requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "exists")
	r = run(t, "redact", dir, "--rules", rules, "--out", filepath.Join(t.TempDir(), "x"), "--key", otherFile).requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stderr, "does not verify")
}
