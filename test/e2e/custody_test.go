package e2e

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

// signedBundle runs the real collector with a signing key (from the
// environment, as a Kubernetes secret gives it), has it freeze an incident
// into at least three parts, and returns the store directory, the public
// key file and the incident ID.
func signedBundle(t *testing.T) (storeDir, pubFile, id string) {
	t.Helper()
	id = "INC-E2E-CUSTODY"
	priv, pub, _, err := bundle.GenerateKey()
	require.NoError(t, err)
	pubFile = filepath.Join(t.TempDir(), "evidence.pub")
	require.NoError(t, os.WriteFile(pubFile, pub, 0o600))
	return freezeSigned(t, id, map[string]any{"key_env": "EVIDENCE_SIGNING_KEY"}, "EVIDENCE_SIGNING_KEY="+string(priv)), pubFile, id
}

// freezeSigned runs the real collector with the exporter's signing
// options given (and the extra environment), has it freeze incident id
// into at least three parts, and returns the store directory.
func freezeSigned(t *testing.T, id string, signing map[string]any, env ...string) (storeDir string) {
	t.Helper()
	p := harness.NewPorts(t)
	cfg := harness.Config(t, p, harness.Options{Override: map[string]any{"exporters": map[string]any{"evidence": map[string]any{
		"window":         map[string]any{"before": "1m", "after": "12s", "extend_until_resolved": false},
		"flush_interval": "1s",
		"signing":        signing,
	}}}})
	c := harness.StartCollector(t, "", cfg, p.Health, env...)
	storeDir = filepath.Join(c.Dir, "var", "evidence")
	T := time.Now().UTC().Truncate(time.Millisecond)
	status, body := harness.PostJSON(t, p.WebhookURL("/v1/incidents"), harness.Token,
		fmt.Sprintf(`{"id":%q,"title":"custody","severity":"critical","started_at":%q}`, id, T.Format(time.RFC3339Nano)))
	require.Equal(t, 200, status, body)
	// Telemetry in three flushes: each adds a part after the first.
	client := harness.NewOTLPClient(t, p.OTLPGRPC)
	for i := range 3 {
		client.SendTraces(testgen.Traces(int64(i+1), 20, 2, time.Now().UTC(), 10*time.Millisecond))
		next := filepath.Join(storeDir, "incidents", id, "collectors", "*", fmt.Sprintf("part-%06d.tar.zst", i+2))
		require.Eventually(t, func() bool {
			m, _ := filepath.Glob(next)
			return len(m) == 1
		}, 20*time.Second, 100*time.Millisecond, "part %d", i+2)
	}
	st, err := storage.NewFilesystem(storeDir)
	require.NoError(t, err)
	rep := harness.WaitBundleComplete(t, st, id, 40*time.Second)
	require.Len(t, rep.Collectors, 1)
	require.GreaterOrEqual(t, rep.Collectors[0].Parts, 3, "parts")
	return storeDir
}

// copyTree copies the store directory (symbolic links as links).
func copyTree(t *testing.T, src string) string {
	t.Helper()
	dst := t.TempDir()
	require.NoError(t, filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o750)
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, b, 0o600)
	}))
	return dst
}

// TestCustodyTampering tampers with every kind of file of a bundle the real
// collector signed: verify --key exits 4 naming the file each time, and get
// refuses (exits 4, naming it).
func TestCustodyTampering(t *testing.T) {
	ctl := evidencectl(t)
	harness.Binary(t)
	storeDir, pubFile, id := signedBundle(t)
	otherPriv, _, _, err := bundle.GenerateKey()
	require.NoError(t, err)
	otherSigner, err := bundle.NewSigner(otherPriv)
	require.NoError(t, err)

	col := "incidents/" + id + "/collectors/"
	entries, err := os.ReadDir(filepath.Join(storeDir, "incidents", id, "collectors"))
	require.NoError(t, err)
	require.Len(t, entries, 1)
	cid := entries[0].Name()
	partRel := func(seq int) string { return fmt.Sprintf("%s%s/part-%06d.tar.zst", col, cid, seq) }
	manifestRel := col + cid + "/manifest.json"
	incRel := "incidents/" + id + "/incident.json"
	path := func(dir, rel string) string { return filepath.Join(dir, filepath.FromSlash(rel)) }

	// The untouched bundle verifies with the key and merges.
	r := ctl(nil, "--store", "file://"+storeDir, "verify", id, "--in-store", "--key", pubFile)
	require.Equalf(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "Signatures: valid")
	r = ctl(nil, "--store", "file://"+storeDir, "get", id, "-o", filepath.Join(t.TempDir(), "ok"), "--key", pubFile)
	require.Equalf(t, 0, r.code, "%s%s", r.stdout, r.stderr)

	readManifest := func(dir string) *bundle.Manifest {
		b, err := os.ReadFile(path(dir, manifestRel))
		require.NoError(t, err)
		m, err := bundle.ParseManifest(b)
		require.NoError(t, err)
		return m
	}
	nParts := len(readManifest(storeDir).Parts)
	forgedPart := func(seq int, prev string) []byte {
		w, err := bundle.NewPartWriter(bundle.PartInfo{IncidentID: id, CollectorID: cid, Seq: seq, Encoding: bundle.EncodingJSON,
			CreatedAt: time.Now().UTC(), PrevPartSHA256: prev})
		require.NoError(t, err)
		w.SetSigner(otherSigner)
		require.NoError(t, w.AddEvent(incident.Event{Kind: incident.EventDeploy, Time: time.Now().UTC(), Source: incident.SourceDeploy, DeployID: "forged"}))
		data, _, err := w.Finish()
		require.NoError(t, err)
		return data
	}
	shaOf := func(dir, rel string) string {
		b, err := os.ReadFile(path(dir, rel))
		require.NoError(t, err)
		ref, err := bundle.NewPartRef(bundle.PartInfo{Seq: 1}, b)
		require.NoError(t, err)
		return ref.SHA256
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, dir string)
		file   string // the file verify must name
	}{
		{"part byte", func(t *testing.T, dir string) {
			p := path(dir, partRel(2))
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			b[len(b)/2] ^= 0xff
			require.NoError(t, os.WriteFile(p, b, 0o600))
		}, partRel(2)},
		{"part.json rewritten", func(t *testing.T, dir string) {
			p := path(dir, partRel(2))
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			part, err := bundle.ReadPart(strings.NewReader(string(b)))
			require.NoError(t, err)
			info := part.Info
			info.Counts, info.Files, info.TimeRange = bundle.Counts{}, nil, bundle.TimeRange{}
			w, err := bundle.NewPartWriter(info)
			require.NoError(t, err)
			inc, err := part.Incident()
			require.NoError(t, err)
			require.NoError(t, w.SetIncident(inc))
			data, _, err := w.Finish()
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, data, 0o600))
		}, partRel(2)},
		{"manifest edited", func(t *testing.T, dir string) {
			p := path(dir, manifestRel)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			var env map[string]any
			require.NoError(t, json.Unmarshal(b, &env))
			payload, err := base64.StdEncoding.DecodeString(env["payload"].(string))
			require.NoError(t, err)
			payload = []byte(strings.Replace(string(payload), `"complete": true`, `"complete": false`, 1))
			env["payload"] = base64.StdEncoding.EncodeToString(payload)
			b, err = json.Marshal(env)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, b, 0o600))
		}, manifestRel},
		{"incident record edited", func(t *testing.T, dir string) {
			p := path(dir, incRel)
			b, err := os.ReadFile(p)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(p, []byte(strings.Replace(string(b), `"custody"`, `"nothing happened"`, 1)), 0o600))
		}, incRel},
		{"part deleted", func(t *testing.T, dir string) {
			require.NoError(t, os.Remove(path(dir, partRel(2))))
		}, partRel(2)},
		{"parts swapped", func(t *testing.T, dir string) {
			a, b := path(dir, partRel(1)), path(dir, partRel(2))
			require.NoError(t, os.Rename(a, a+".tmp"))
			require.NoError(t, os.Rename(b, a))
			require.NoError(t, os.Rename(a+".tmp", b))
		}, partRel(1)},
		{"parts reordered", func(t *testing.T, dir string) {
			require.NoError(t, os.Rename(path(dir, partRel(3)), path(dir, partRel(2))))
		}, partRel(2)},
		{"extra part", func(t *testing.T, dir string) {
			n := len(readManifest(dir).Parts)
			require.NoError(t, os.WriteFile(path(dir, partRel(n+1)), forgedPart(n+1, shaOf(dir, partRel(n))), 0o600))
		}, partRel(nParts + 1)},
		{"consistent rewrite with another key", func(t *testing.T, dir string) {
			m := readManifest(dir)
			data := forgedPart(1, "")
			require.NoError(t, os.WriteFile(path(dir, partRel(1)), data, 0o600))
			part, err := bundle.ReadPart(strings.NewReader(string(data)))
			require.NoError(t, err)
			ref, err := bundle.NewPartRef(part.Info, data)
			require.NoError(t, err)
			nm, err := bundle.NewManifest(id, cid, m.Window)
			require.NoError(t, err)
			require.NoError(t, nm.AddPart(ref))
			nm.Complete = true
			b, err := nm.MarshalSigned(otherSigner)
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(path(dir, manifestRel), b, 0o600))
			for seq := 2; seq <= len(m.Parts); seq++ {
				require.NoError(t, os.Remove(path(dir, partRel(seq))))
			}
		}, manifestRel},
		{"manifest deleted, part forged", func(t *testing.T, dir string) {
			n := len(readManifest(dir).Parts)
			require.NoError(t, os.Remove(path(dir, manifestRel)))
			require.NoError(t, os.WriteFile(path(dir, partRel(n+1)), forgedPart(n+1, shaOf(dir, partRel(n))), 0o600))
		}, partRel(nParts + 1)},
		{"symbolic link in place of a part", func(t *testing.T, dir string) {
			p := path(dir, partRel(2))
			require.NoError(t, os.Remove(p))
			require.NoError(t, os.Symlink(path(dir, partRel(1)), p))
		}, partRel(2)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := copyTree(t, storeDir)
			tt.mutate(t, dir)
			store := "file://" + dir
			r := ctl(nil, "--store", store, "verify", id, "--in-store", "--key", pubFile)
			assert.Equalf(t, 4, r.code, "verify: %s%s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "BAD  "+tt.file)
			r = ctl(nil, "--store", store, "get", id, "-o", filepath.Join(t.TempDir(), "out"), "--key", pubFile)
			assert.Equalf(t, 4, r.code, "get: %s%s", r.stdout, r.stderr)
			assert.Contains(t, r.stdout, "BAD  "+tt.file)
		})
	}

	// Verify names the signature state when no key is given.
	r = ctl(nil, "--store", "file://"+storeDir, "verify", id, "--in-store")
	require.Equalf(t, 0, r.code, "%s%s", r.stdout, r.stderr)
	assert.Contains(t, r.stdout, "NOT CHECKED")
}
