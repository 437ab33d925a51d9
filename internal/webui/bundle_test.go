package webui

import (
	"archive/tar"
	"bytes"
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
