package cli

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// TestVerifyKeys: --key, EVIDENCECTL_KEYS and the collector configuration
// of --config name the trusted keys; a bundle signed by another key, or not
// signed, fails with them; keygen makes a pair that works.
func TestVerifyKeys(t *testing.T) {
	keyDir := t.TempDir()
	prefix := filepath.Join(keyDir, "evidence")
	var kg keygenResult
	run(t, "--output", "json", "keygen", "--out", prefix).requireCode(t, ExitOK).jsonOut(t, &kg)
	assert.Len(t, kg.KeyID, 64)
	st, err := os.Stat(prefix + ".key")
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), st.Mode().Perm())
	r := run(t, "keygen", "--out", prefix).requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "exists")

	priv, err := os.ReadFile(prefix + ".key")
	require.NoError(t, err)
	signer, err := bundle.NewSigner(priv)
	require.NoError(t, err)
	require.Equal(t, kg.KeyID, signer.KeyID())

	fsStore, storeURL := newFSStore(t)
	f := twoCollectorFixture("INC-K")
	f.signer = signer
	f.write(t, fsStore)
	unsigned, unsignedURL := newFSStore(t)
	twoCollectorFixture("INC-K").write(t, unsigned)
	otherPrefix := filepath.Join(keyDir, "other")
	run(t, "keygen", "--out", otherPrefix).requireCode(t, ExitOK)

	r = run(t, "--store", storeURL, "verify", "INC-K", "--in-store", "--key", prefix+".pub").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Signatures: valid, key "+kg.KeyID)
	// Rotation: the old key among others.
	run(t, "--store", storeURL, "verify", "INC-K", "--in-store", "--key", otherPrefix+".pub", "--key", prefix+".pub").requireCode(t, ExitOK)
	r = runWith(t, runOpts{env: map[string]string{envKeys: otherPrefix + ".pub" + string(filepath.ListSeparator) + prefix + ".pub"}},
		"--store", storeURL, "verify", "INC-K", "--in-store").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Signatures: valid")

	r = run(t, "--store", storeURL, "verify", "INC-K", "--in-store", "--key", otherPrefix+".pub").requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "manifest.json: signed by unknown key "+kg.KeyID)
	assert.Contains(t, r.stdout, "part-000001.tar.zst: part.json: signed by unknown key")
	r = run(t, "--store", unsignedURL, "verify", "INC-K", "--in-store", "--key", prefix+".pub").requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stdout, "the signature is missing")
	r = run(t, "--store", unsignedURL, "verify", "INC-K", "--in-store").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Signatures: none")
	r = run(t, "--store", storeURL, "verify", "INC-K", "--in-store").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "NOT CHECKED")

	// The collector's own configuration: the public half of its key.
	cfg := filepath.Join(keyDir, "collector.yaml")
	require.NoError(t, os.WriteFile(cfg, []byte(`extensions:
  incidents:
    store:
      backend: filesystem
      filesystem: {directory: `+fsStore.Dir()+`}
exporters:
  evidence:
    signing: {key_file: evidence.key}
`), 0o600))
	r = run(t, "--config", cfg, "verify", "INC-K", "--in-store").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Signatures: valid")

	r = run(t, "--store", storeURL, "verify", "INC-K", "--in-store", "--key", filepath.Join(keyDir, "nope.pub")).requireCode(t, ExitNotFound)
	assert.Contains(t, r.stderr, "--key")
	r = run(t, "--store", storeURL, "verify", "INC-K", "--in-store", "--key", cfg).requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "Ed25519 public key")
}
