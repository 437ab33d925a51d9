package e2e

import (
	"encoding/base64"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// The bundle page of a bundle the real collector signed with a key from
// `evidencectl keygen` (the exporter's signing.key_file), as the
// incident owner sees it in Chromium: valid with the signing key trusted,
// signed by a key that is not trusted when only another key is, and a
// bad signature once the manifest is edited under its signature.
func TestWebUISignatures(t *testing.T) {
	browser := chromiumPath(t)
	bin := evidencectlBinary(t)
	harness.Binary(t)
	keys := t.TempDir()
	keygen := func(name string) (prefix, keyID string) {
		prefix = filepath.Join(keys, name)
		r := runEvidencectl(t, bin, nil, "--output", "json", "keygen", "--out", prefix)
		require.Equalf(t, 0, r.code, "%s%s", r.stdout, r.stderr)
		var res struct {
			KeyID string `json:"key_id"`
		}
		require.NoError(t, json.Unmarshal([]byte(r.stdout), &res), r.stdout)
		require.NotEmpty(t, res.KeyID)
		return prefix, res.KeyID
	}
	signing, keyID := keygen("signing")
	other, otherID := keygen("other")
	const id = "INC-WEB-SIGNED"
	storeDir := freezeSigned(t, id, map[string]any{"key_file": signing + ".key"})

	// page opens the bundle page served with the trusted key given, and
	// returns what it says of the signatures: the verdict and the
	// manifest's state.
	page := func(name, dir, trusted string) (verdict, manifest string) {
		base := startServe(t, bin, []string{"EVIDENCECTL_KEYS=" + trusted}, "--store", "file://"+dir)
		b := newBrowser(t, browser, base)
		b.open("/incidents/" + id + "/bundle")
		b.noConsoleErrors("/incidents/" + id + "/bundle")
		b.screenshot(name)
		return b.text("#signatures"), b.text("#collectors tbody tr td:nth-of-type(4)")
	}

	verdict, manifest := page("bundle-valid", storeDir, signing+".pub")
	assert.Equal(t, "valid: signed by a trusted key", verdict)
	assert.Equal(t, "valid ("+keyID+")", manifest)

	verdict, manifest = page("bundle-unknown-key", storeDir, other+".pub")
	assert.Equal(t, "NOT VALID: signed by a key that is not trusted ("+keyID+"); see the problems below", verdict)
	assert.Equal(t, "unknown_key ("+keyID+")", manifest)
	assert.NotContains(t, verdict, otherID)

	// The manifest edited under its signature: "complete" turned false.
	edited := copyTree(t, storeDir)
	matches, err := filepath.Glob(filepath.Join(edited, "incidents", id, "collectors", "*", "manifest.json"))
	require.NoError(t, err)
	require.Len(t, matches, 1)
	data, err := os.ReadFile(matches[0])
	require.NoError(t, err)
	var env map[string]any
	require.NoError(t, json.Unmarshal(data, &env))
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	require.NoError(t, err)
	changed := strings.Replace(string(payload), `"complete": true`, `"complete": false`, 1)
	require.NotEqual(t, string(payload), changed)
	env["payload"] = base64.StdEncoding.EncodeToString([]byte(changed))
	data, err = json.Marshal(env)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(matches[0], data, 0o600))

	verdict, manifest = page("bundle-bad-signature", edited, signing+".pub")
	assert.Equal(t, "NOT VALID: a signature does not match what it signs; see the problems below", verdict)
	assert.Equal(t, "invalid ("+keyID+")", manifest)
}
