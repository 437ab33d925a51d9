package bundle

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

func newTestSigner(t testing.TB) (*Signer, []byte) {
	t.Helper()
	priv, pub, id, err := GenerateKey()
	require.NoError(t, err)
	s, err := NewSigner(priv)
	require.NoError(t, err)
	require.Equal(t, id, s.KeyID())
	require.Equal(t, pub, s.PublicKeyPEM())
	return s, pub
}

func ring(t testing.TB, pubs ...[]byte) *KeyRing {
	t.Helper()
	k := NewKeyRing()
	for _, p := range pubs {
		_, err := k.Add(p)
		require.NoError(t, err)
	}
	return k
}

// signedPart is smallPart, signed by s.
func signedPart(t testing.TB, s *Signer, cid string, seq int, prev string, inc *incident.Incident) ([]byte, PartInfo) {
	t.Helper()
	info := testInfo(EncodingJSON, seq)
	info.CollectorID = cid
	info.PrevPartSHA256 = prev
	info.CreatedAt = testCreated.Add(time.Duration(seq) * time.Minute)
	w, err := NewPartWriter(info)
	require.NoError(t, err)
	w.SetSigner(s)
	require.NoError(t, w.SetIncident(inc))
	start := testStart.Add(time.Duration(seq) * time.Minute)
	require.NoError(t, w.AddTraces(testgen.Traces(int64(seq), 10, 2, start, time.Second)))
	data, info, err := w.Finish()
	require.NoError(t, err)
	return data, info
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

// writeSigned stores incident.json and collector "a"'s three parts and
// complete manifest, each signed by s, and returns the manifest.
func writeSigned(t testing.TB, st store.Store, s *Signer) *Manifest {
	t.Helper()
	b, err := json.Marshal(fixtureIncident)
	require.NoError(t, err)
	put(t, st, must(IncidentKey(verifyID)), b)
	m, err := NewManifest(verifyID, "a", testWindow)
	require.NoError(t, err)
	prev := ""
	for seq := 1; seq <= 3; seq++ {
		data, info := signedPart(t, s, "a", seq, prev, &fixtureIncident)
		put(t, st, partKey(t, "a", seq), data)
		prev = sha(data)
		ref, err := NewPartRef(info, data)
		require.NoError(t, err)
		require.NoError(t, m.AddPart(ref))
	}
	m.Complete = true
	m.UpdatedAt = testCreated
	putSigned(t, st, m, s)
	return m
}

func putSigned(t testing.TB, st store.Store, m *Manifest, s *Signer) {
	t.Helper()
	b, err := m.MarshalSigned(s)
	require.NoError(t, err)
	put(t, st, manifestKey(t, m.CollectorID), b)
}

func TestSignedBundle(t *testing.T) {
	ctx := context.Background()
	a, pubA := newTestSigner(t)
	_, pubB := newTestSigner(t)
	st := newFakeStore()
	writeSigned(t, st, a)

	rep, err := VerifyBundle(ctx, st, verifyID, VerifyOptions{Keys: ring(t, pubA)})
	require.NoError(t, err)
	require.True(t, rep.OK(), "%v", rep.AllProblems())
	assert.True(t, rep.Signed())
	c := rep.Collectors[0]
	assert.Equal(t, SigValid, c.Manifest.State)
	assert.Equal(t, 3, c.SignedParts)
	assert.Equal(t, 2, c.Chained)
	assert.Equal(t, []string{a.KeyID()}, c.KeyIDs)

	// Rotation: the old key among several trusted ones.
	rep, err = VerifyBundle(ctx, st, verifyID, VerifyOptions{Keys: ring(t, pubB, pubA)})
	require.NoError(t, err)
	assert.True(t, rep.OK(), "%v", rep.AllProblems())

	// Without keys: signed, not checked, no problem.
	rep, err = VerifyBundle(ctx, st, verifyID)
	require.NoError(t, err)
	assert.True(t, rep.OK())
	assert.Equal(t, SigNotChecked, rep.Collectors[0].Manifest.State)

	// Only another key trusted: every document names an unknown key.
	rep, err = VerifyBundle(ctx, st, verifyID, VerifyOptions{Keys: ring(t, pubB)})
	require.NoError(t, err)
	probs := rep.AllProblems()
	require.Len(t, probs, 4, "%v", probs)
	for _, p := range probs {
		assert.Contains(t, p.Reason, "signed by unknown key "+a.KeyID())
	}
}

// TestSignedBundleTampering: every kind of edit to a signed bundle is a
// problem naming the file, with the collector's key trusted.
func TestSignedBundleTampering(t *testing.T) {
	ctx := context.Background()
	a, pubA := newTestSigner(t)
	other, _ := newTestSigner(t)
	incKey := must(IncidentKey(verifyID))
	mKey := manifestKey(t, "a")
	tests := []struct {
		name   string
		mutate func(t *testing.T, st store.Store, m *Manifest)
		file   string
		reason string
	}{
		{"part byte", func(t *testing.T, st store.Store, _ *Manifest) {
			b := get(t, st, partKey(t, "a", 2))
			put(t, st, partKey(t, "a", 2), tamperEntry(t, b, TracesJSONFile, flipByte(40)))
		}, partKey(t, "a", 2), "sha256"},
		{"part.json edited under its signature", func(t *testing.T, st store.Store, _ *Manifest) {
			b := tamperEntry(t, get(t, st, partKey(t, "a", 2)), PartInfoFile, func(b []byte) []byte {
				return []byte(strings.Replace(string(b), `"collector_id": "a"`, `"collector_id":"a"`, 1))
			})
			put(t, st, partKey(t, "a", 2), b)
		}, partKey(t, "a", 2), "bad signature"},
		{"manifest edited", func(t *testing.T, st store.Store, _ *Manifest) {
			b := get(t, st, mKey)
			var env map[string]any
			require.NoError(t, json.Unmarshal(b, &env))
			env["payload"] = "eyJmb3JtYXQiOjJ9" // {"format":2}
			nb, _ := json.Marshal(env)
			put(t, st, mKey, nb)
		}, mKey, ""},
		{"manifest replaced by an unsigned one", func(t *testing.T, st store.Store, m *Manifest) {
			putManifest(t, st, m)
		}, mKey, "signature is missing"},
		{"incident record edited", func(t *testing.T, st store.Store, _ *Manifest) {
			inc := fixtureIncident
			inc.Title = "nothing happened"
			b, _ := json.Marshal(inc)
			put(t, st, incKey, b)
		}, incKey, "tampered with"},
		{"part deleted (manifest rewritten)", func(t *testing.T, st store.Store, m *Manifest) {
			require.NoError(t, st.Delete(ctx, partKey(t, "a", 2)))
			nm, err := NewManifest(verifyID, "a", testWindow)
			require.NoError(t, err)
			require.NoError(t, nm.AddPart(m.Parts[0]))
			require.NoError(t, nm.AddPart(m.Parts[2]))
			nm.Complete = true
			putSigned(t, st, nm, other)
		}, mKey, "unknown key"},
		{"part deleted", func(t *testing.T, st store.Store, _ *Manifest) {
			require.NoError(t, st.Delete(ctx, partKey(t, "a", 2)))
		}, partKey(t, "a", 2), "listed in manifest.json but missing"},
		{"parts swapped", func(t *testing.T, st store.Store, _ *Manifest) {
			p1, p2 := get(t, st, partKey(t, "a", 1)), get(t, st, partKey(t, "a", 2))
			put(t, st, partKey(t, "a", 1), p2)
			put(t, st, partKey(t, "a", 2), p1)
		}, partKey(t, "a", 1), "describes part 2"},
		{"extra part", func(t *testing.T, st store.Store, _ *Manifest) {
			data, _ := signedPart(t, other, "a", 4, sha(get(t, st, partKey(t, "a", 3))), &fixtureIncident)
			put(t, st, partKey(t, "a", 4), data)
		}, partKey(t, "a", 4), "not listed in the complete manifest"},
		{"consistent rewrite with another key", func(t *testing.T, st store.Store, m *Manifest) {
			data, info := signedPart(t, other, "a", 1, "", &fixtureIncident)
			put(t, st, partKey(t, "a", 1), data)
			ref, err := NewPartRef(info, data)
			require.NoError(t, err)
			m.Parts[0] = ref
			putSigned(t, st, m, other)
		}, partKey(t, "a", 1), "unknown key"},
		{"manifest deleted, part forged", func(t *testing.T, st store.Store, _ *Manifest) {
			require.NoError(t, st.Delete(ctx, mKey))
			data, _ := signedPart(t, other, "a", 4, sha(get(t, st, partKey(t, "a", 3))), &fixtureIncident)
			put(t, st, partKey(t, "a", 4), data)
		}, partKey(t, "a", 4), "unknown key"},
		{"reordered: part 3 stored as part 2", func(t *testing.T, st store.Store, _ *Manifest) {
			p3 := get(t, st, partKey(t, "a", 3))
			put(t, st, partKey(t, "a", 2), p3)
			require.NoError(t, st.Delete(ctx, partKey(t, "a", 3)))
		}, partKey(t, "a", 2), "describes part 3"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := newFakeStore()
			m := writeSigned(t, st, a)
			tt.mutate(t, st, m)
			rep, err := VerifyBundle(ctx, st, verifyID, VerifyOptions{Keys: ring(t, pubA)})
			require.NoError(t, err)
			require.False(t, rep.OK())
			probs := rep.AllProblems()
			assert.True(t, slices.ContainsFunc(probs, func(p *VerifyError) bool {
				return p.File == tt.file && strings.Contains(p.Reason, tt.reason)
			}), "want %s: %q; got %v", tt.file, tt.reason, probs)
		})
	}
}

func TestHashChain(t *testing.T) {
	ctx := context.Background()
	a, pubA := newTestSigner(t)
	st := newFakeStore()
	m := writeSigned(t, st, a)
	// Before any manifest: part 2 gone, the rest unlisted.
	require.NoError(t, st.Delete(ctx, manifestKey(t, "a")))
	require.NoError(t, st.Delete(ctx, partKey(t, "a", 2)))
	rep, err := VerifyBundle(ctx, st, verifyID, VerifyOptions{Keys: ring(t, pubA)})
	require.NoError(t, err)
	assert.True(t, slices.ContainsFunc(rep.AllProblems(), func(p *VerifyError) bool {
		return p.File == partKey(t, "a", 3) && strings.Contains(p.Reason, "hash chain broken: part 3 follows a part 2") &&
			strings.Contains(p.Reason, "missing")
	}), "%v", rep.AllProblems())
	_ = m
}

func TestCheckIncident(t *testing.T) {
	at := func(m int) time.Time { return testStart.Add(time.Duration(m) * time.Minute) }
	frozen := fixtureIncident
	frozen.Title = "checkout down"
	frozen.Severity = "critical"
	recs := []FrozenRecord{{Incident: &frozen, File: "p1", FrozenAt: at(1)}}

	same := frozen
	c := CheckIncident(&same, recs)
	assert.Empty(t, c.Changes)
	assert.Empty(t, c.Tampered)

	// The registry's own update: a new title with a later updated_at.
	upd := frozen
	upd.Title = "checkout degraded"
	upd.UpdatedAt = at(5)
	c = CheckIncident(&upd, recs)
	assert.Empty(t, c.Tampered)
	require.Len(t, c.Changes, 2)
	assert.Equal(t, "title", c.Changes[0].Field)
	assert.Contains(t, c.Summary(), "'title'")
	assert.Equal(t, "checkout down", c.Record.Title, "readers show the frozen record")

	// A forged title without a new updated_at.
	forged := frozen
	forged.Title = "nothing happened"
	c = CheckIncident(&forged, recs)
	assert.Contains(t, c.Tampered, "tampered with")
	assert.Contains(t, c.Tampered, "'title'")

	// A forged start.
	forged = frozen
	forged.StartedAt = at(-60)
	c = CheckIncident(&forged, recs)
	assert.Contains(t, c.Tampered, "'started_at'")

	// A resolution is the lifecycle moving on.
	res := frozen
	res.Status = incident.StatusResolved
	r := at(30)
	res.ResolvedAt = &r
	res.UpdatedAt = at(30)
	c = CheckIncident(&res, recs)
	assert.Empty(t, c.Tampered)
	assert.Equal(t, incident.StatusResolved, c.Record.Status)
}
