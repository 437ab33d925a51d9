package webui

import (
	"archive/tar"
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

func TestBundlePage(t *testing.T) {
	st := newStore(t, small("INC-B"))
	s := newServer(t, StoreEvidence(st))
	res, body := get(t, s, "/incidents/INC-B/bundle")
	require.Equal(t, http.StatusOK, res.Code, body)
	assert.Contains(t, body, "every file matches its recorded SHA-256")
	assert.Equal(t, 3, strings.Count(body, `data-ok="true"`), "incident.json, the manifest, one part")
	assert.NotContains(t, body, `id="b-expires"`, "a filesystem store cannot share")

	// The tar holds the store layout, byte for byte.
	res, body = get(t, s, "/incidents/INC-B/bundle.tar")
	require.Equal(t, http.StatusOK, res.Code)
	tr := tar.NewReader(strings.NewReader(body))
	n := 0
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		require.NoError(t, err)
		data, err := io.ReadAll(tr)
		require.NoError(t, err)
		want, err := os.ReadFile(filepath.Join(st.Dir(), filepath.FromSlash(h.Name)))
		require.NoError(t, err)
		assert.True(t, bytes.Equal(want, data), h.Name)
		n++
	}
	assert.Equal(t, 3, n)

	// A flipped byte in the part: the page names it.
	part, err := bundle.PartKey("INC-B", "collector-0", 1)
	require.NoError(t, err)
	path := filepath.Join(st.Dir(), filepath.FromSlash(part))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	data[len(data)/2] ^= 0xff
	require.NoError(t, os.WriteFile(path, data, 0o600))
	_, body = get(t, s, "/incidents/INC-B/bundle")
	assert.Contains(t, body, `data-ok="false"`)
	assert.Contains(t, body, "problems</strong>")
}

// The bundle page checks the signatures against the trusted keys: valid,
// signed by a key that is not trusted, or not matching what they sign.
func TestBundlePageSignatures(t *testing.T) {
	priv, pub, keyID, err := bundle.GenerateKey()
	require.NoError(t, err)
	signer, err := bundle.NewSigner(priv)
	require.NoError(t, err)
	_, otherPub, otherID, err := bundle.GenerateKey()
	require.NoError(t, err)
	f := small("INC-SIGNED")
	f.signer = signer
	st := newStore(t, f)
	ring := func(pems ...[]byte) *bundle.KeyRing {
		r := bundle.NewKeyRing()
		for _, p := range pems {
			_, err := r.Add(p)
			require.NoError(t, err)
		}
		return r
	}
	page := func(keys *bundle.KeyRing) string {
		s, err := New(Options{Evidence: StoreEvidence(st), Keys: keys})
		require.NoError(t, err)
		defer s.Close()
		res, body := get(t, s, "/incidents/INC-SIGNED/bundle")
		require.Equal(t, http.StatusOK, res.Code)
		return body
	}

	body := page(ring(pub))
	assert.Contains(t, body, `<dd id="signatures">valid: signed by a trusted key</dd>`)
	assert.Contains(t, body, "<td>valid (<code>"+keyID+"</code>)</td>")
	assert.Equal(t, 3, strings.Count(body, `data-ok="true"`))

	body = page(nil)
	assert.Contains(t, body, `<dd id="signatures">signed, not checked: give evidencectl serve the trusted keys (--key)</dd>`)

	body = page(ring(otherPub))
	assert.Contains(t, body, `<dd id="signatures">NOT VALID: signed by a key that is not trusted (`+keyID+`); see the problems below</dd>`)
	assert.Contains(t, body, "<td>unknown_key (<code>"+keyID+"</code>)</td>")
	assert.Contains(t, body, "not by a trusted key ("+otherID+")", "the problem names the key trusted")

	// The manifest's payload edited, its signature kept.
	key, err := bundle.ManifestKey("INC-SIGNED", "collector-0")
	require.NoError(t, err)
	path := filepath.Join(st.Dir(), filepath.FromSlash(key))
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var env map[string]any
	require.NoError(t, json.Unmarshal(data, &env))
	payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
	require.NoError(t, err)
	edited := strings.Replace(string(payload), `"spans": 20000`, `"spans": 10000`, 1)
	require.NotEqual(t, string(payload), edited)
	env["payload"] = base64.StdEncoding.EncodeToString([]byte(edited))
	data, err = json.Marshal(env)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(path, data, 0o600))
	body = page(ring(pub))
	assert.Contains(t, body, `<dd id="signatures">NOT VALID: a signature does not match what it signs; see the problems below</dd>`)
	assert.Contains(t, body, "<td>invalid (<code>"+keyID+"</code>)</td>")
}
