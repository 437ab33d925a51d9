package bundle

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// fakeStore is an in-memory store.Store that lists at most page objects
// per call, to exercise pagination.
type fakeStore struct {
	mu      sync.Mutex
	objs    map[string][]byte
	page    int
	listErr error
}

func newFakeStore() *fakeStore { return &fakeStore{objs: make(map[string][]byte), page: 2} }

func (f *fakeStore) Put(_ context.Context, key string, r io.Reader, size int64, _ store.PutOptions) error {
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return fmt.Errorf("put %q: size %d, got %d bytes", key, size, len(b))
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.objs[key] = b
	return nil
}

func (f *fakeStore) Get(_ context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objs[key]
	if !ok {
		return nil, store.ObjectInfo{}, fmt.Errorf("get %q: %w", key, store.ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(b)), store.ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

func (f *fakeStore) Stat(_ context.Context, key string) (store.ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	b, ok := f.objs[key]
	if !ok {
		return store.ObjectInfo{}, fmt.Errorf("stat %q: %w", key, store.ErrNotFound)
	}
	return store.ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

func (f *fakeStore) List(_ context.Context, prefix, startAfter string) ([]store.ObjectInfo, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.listErr != nil {
		return nil, f.listErr
	}
	var keys []string
	for k := range f.objs {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			keys = append(keys, k)
		}
	}
	slices.Sort(keys)
	var out []store.ObjectInfo
	for _, k := range keys[:min(len(keys), f.page)] {
		out = append(out, store.ObjectInfo{Key: k, Size: int64(len(f.objs[k]))})
	}
	return out, nil
}

func (f *fakeStore) Delete(_ context.Context, key string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	delete(f.objs, key)
	return nil
}

func (f *fakeStore) String() string { return "fake://" }

const verifyID = "INC-42"

// must returns v, panicking on err (for key helpers given valid input).
func must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}

func partKey(_ testing.TB, cid string, seq int) string {
	return must(PartKey(verifyID, cid, seq))
}

func manifestKey(_ testing.TB, cid string) string { return must(ManifestKey(verifyID, cid)) }

func put(t testing.TB, st store.Store, key string, data []byte) {
	t.Helper()
	require.NoError(t, st.Put(context.Background(), key, bytes.NewReader(data), int64(len(data)), store.PutOptions{}))
}

func get(t testing.TB, st store.Store, key string) []byte {
	t.Helper()
	rc, _, err := st.Get(context.Background(), key)
	require.NoError(t, err)
	defer func() { _ = rc.Close() }()
	b, err := io.ReadAll(rc)
	require.NoError(t, err)
	return b
}

// fixtureIncident is the incident.json of the fixture, also frozen into
// its parts.
var fixtureIncident = incident.Incident{ID: verifyID, Source: incident.SourceGeneric, Status: incident.StatusOpen, StartedAt: testStart, UpdatedAt: testStart}

// smallPart builds a small part with a little of everything; prev is the
// SHA-256 of the part before it (none for part 1).
func smallPart(t testing.TB, cid string, seq int, enc string, prev ...string) ([]byte, PartInfo) {
	t.Helper()
	info := testInfo(enc, seq)
	info.IncidentID = verifyID
	info.CollectorID = cid
	if len(prev) > 0 {
		info.PrevPartSHA256 = prev[0]
	}
	w, err := NewPartWriter(info)
	require.NoError(t, err)
	require.NoError(t, w.SetIncident(&fixtureIncident))
	start := testStart.Add(time.Duration(seq) * time.Minute)
	seed := int64(seq) * 10
	require.NoError(t, w.AddTraces(testgen.Traces(seed, 20, 2, start, time.Second)))
	require.NoError(t, w.AddLogs(testgen.Logs(seed+1, 10, 2, start, time.Second)))
	require.NoError(t, w.AddMetrics(testgen.Metrics(seed+2, 9, 3, start, time.Second)))
	require.NoError(t, w.AddEvent(incident.Event{Kind: incident.EventIncidentExtended, Time: start, Source: incident.SourceGeneric, IncidentID: verifyID}))
	data, info, err := w.Finish()
	require.NoError(t, err)
	return data, info
}

func putManifest(t testing.TB, st store.Store, m *Manifest) {
	t.Helper()
	b, err := m.Marshal()
	require.NoError(t, err)
	put(t, st, manifestKey(t, m.CollectorID), b)
}

// writeFixture stores a bundle with two collectors: "a" (JSON, 2 parts,
// complete) and "b" (proto, parts 1-2 listed in an incomplete manifest and
// part 3 not listed yet).
func writeFixture(t testing.TB, st store.Store) map[string]*Manifest {
	t.Helper()
	b, err := json.Marshal(fixtureIncident)
	require.NoError(t, err)
	put(t, st, must(IncidentKey(verifyID)), b)

	manifests := make(map[string]*Manifest)
	for _, c := range []struct {
		id     string
		enc    string
		parts  int
		listed int
	}{{"a", EncodingJSON, 2, 2}, {"b", EncodingProto, 3, 2}} {
		m, err := NewManifest(verifyID, c.id, testWindow)
		require.NoError(t, err)
		prev := ""
		for seq := 1; seq <= c.parts; seq++ {
			data, info := smallPart(t, c.id, seq, c.enc, prev)
			put(t, st, partKey(t, c.id, seq), data)
			sum := sha256.Sum256(data)
			prev = hex.EncodeToString(sum[:])
			if seq <= c.listed {
				ref, err := NewPartRef(info, data)
				require.NoError(t, err)
				require.NoError(t, m.AddPart(ref))
			}
		}
		m.Complete = c.listed == c.parts
		m.UpdatedAt = testCreated
		putManifest(t, st, m)
		manifests[c.id] = m
	}
	return manifests
}

type backend struct {
	name   string
	open   func(t *testing.T) store.Store
	verify func(ctx context.Context, st store.Store, id string) (Report, error)
	// display is how a key appears in a report.
	display func(st store.Store, key string) string
}

func verifyStore(ctx context.Context, st store.Store, id string) (Report, error) {
	return VerifyBundle(ctx, st, id)
}

func backends() []backend {
	fsStore := func(t *testing.T) store.Store {
		st, err := storage.NewFilesystem(t.TempDir())
		require.NoError(t, err)
		return st
	}
	asKey := func(_ store.Store, key string) string { return key }
	return []backend{
		{"fake", func(*testing.T) store.Store { return newFakeStore() }, verifyStore, asKey},
		{"filesystem", fsStore, verifyStore, asKey},
		{
			"dir", fsStore,
			func(ctx context.Context, st store.Store, id string) (Report, error) {
				return VerifyDir(ctx, st.(*storage.Filesystem).Dir(), id)
			},
			func(st store.Store, key string) string {
				return filepath.Join(st.(*storage.Filesystem).Dir(), filepath.FromSlash(key))
			},
		},
	}
}

type wantProblem struct {
	key    string // object key, "" for none
	entry  string
	reason string
}

func TestVerifyBundle(t *testing.T) {
	incKey := must(IncidentKey(verifyID))
	flipAt := func(t *testing.T, st store.Store, key string, at int) {
		b := get(t, st, key)
		b[at%len(b)] ^= 0x40
		put(t, st, key, b)
	}
	tests := []struct {
		name   string
		mutate func(t *testing.T, st store.Store, ms map[string]*Manifest)
		want   []wantProblem
		// atLeast allows further problems besides want (a corrupt
		// compressed stream can fail in several ways at once).
		atLeast bool
		check   func(t *testing.T, rep Report)
	}{
		{
			name: "intact",
			check: func(t *testing.T, rep Report) {
				require.Len(t, rep.Collectors, 2)
				a, b := rep.Collectors[0], rep.Collectors[1]
				assert.Equal(t, "a", a.CollectorID)
				assert.True(t, a.HasManifest)
				assert.True(t, a.Complete)
				assert.Equal(t, 2, a.Parts)
				assert.Empty(t, a.Unlisted)
				assert.Equal(t, Counts{Spans: 40, LogRecords: 20, DataPoints: 18, Events: 2}, a.Totals)
				assert.Equal(t, "b", b.CollectorID)
				assert.False(t, b.Complete)
				assert.Equal(t, 3, b.Parts)
				assert.Equal(t, []int{3}, b.Unlisted)
				assert.False(t, rep.Complete(), "collector b is still writing")
				require.NotNil(t, rep.Incident)
				assert.Equal(t, verifyID, rep.Incident.ID)
				assert.Empty(t, rep.Unexpected)
			},
		},
		{
			name: "all complete",
			mutate: func(t *testing.T, st store.Store, ms map[string]*Manifest) {
				data := get(t, st, partKey(t, "b", 3))
				p, err := ReadPart(bytes.NewReader(data))
				require.NoError(t, err)
				ref, err := NewPartRef(p.Info, data)
				require.NoError(t, err)
				require.NoError(t, ms["b"].AddPart(ref))
				ms["b"].Complete = true
				putManifest(t, st, ms["b"])
			},
			check: func(t *testing.T, rep Report) { assert.True(t, rep.Complete()) },
		},
		{
			name:    "flipped byte in compressed part",
			mutate:  func(t *testing.T, st store.Store, _ map[string]*Manifest) { flipAt(t, st, partKey(t, "a", 1), 700) },
			want:    []wantProblem{{key: partKey(t, "a", 1), reason: "manifest.json says"}},
			atLeast: true,
		},
		{
			name: "flipped hash in manifest",
			mutate: func(t *testing.T, st store.Store, ms map[string]*Manifest) {
				h := []byte(ms["a"].Parts[1].SHA256)
				h[10] = map[bool]byte{true: '1', false: '0'}[h[10] == '0']
				ms["a"].Parts[1].SHA256 = string(h)
				putManifest(t, st, ms["a"])
			},
			want: []wantProblem{{key: partKey(t, "a", 2), reason: "manifest.json says"}},
		},
		{
			name: "tampered file inside part, manifest re-hashed",
			mutate: func(t *testing.T, st store.Store, ms map[string]*Manifest) {
				bad := tamperEntry(t, get(t, st, partKey(t, "b", 2)), TracesProtoFile, flipByte(30))
				put(t, st, partKey(t, "b", 2), bad)
				p, err := ReadPart(bytes.NewReader(bad))
				require.NoError(t, err)
				ref, err := NewPartRef(p.Info, bad)
				require.NoError(t, err)
				ms["b"].Parts[1] = ref
				putManifest(t, st, ms["b"])
			},
			// Part 3 names the SHA-256 of the part 2 the collector wrote.
			want: []wantProblem{
				{key: partKey(t, "b", 2), entry: TracesProtoFile, reason: "sha256"},
				{key: partKey(t, "b", 3), reason: "hash chain broken: part 3 follows a part 2 with SHA-256"},
			},
		},
		{
			name: "truncated part",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				b := get(t, st, partKey(t, "a", 1))
				put(t, st, partKey(t, "a", 1), b[:len(b)/2])
			},
			want: []wantProblem{
				{key: partKey(t, "a", 1), reason: "size"},
				{key: partKey(t, "a", 1), reason: "sha256"},
				{key: partKey(t, "a", 1), reason: "truncated"},
				{key: partKey(t, "a", 2), reason: "hash chain broken"},
			},
		},
		{
			name: "listed part missing",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				require.NoError(t, st.Delete(context.Background(), partKey(t, "a", 2)))
			},
			want: []wantProblem{{key: partKey(t, "a", 2), reason: "listed in manifest.json but missing"}},
		},
		{
			name: "manifest missing",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				require.NoError(t, st.Delete(context.Background(), manifestKey(t, "b")))
			},
			want: []wantProblem{{key: manifestKey(t, "b"), reason: "missing"}},
			check: func(t *testing.T, rep Report) {
				b := rep.Collectors[1]
				assert.False(t, b.HasManifest)
				assert.Equal(t, []int{1, 2, 3}, b.Unlisted)
				assert.Equal(t, 3, b.Parts, "parts are still checked against part.json")
			},
		},
		{
			name: "manifest not JSON",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				put(t, st, manifestKey(t, "a"), []byte("{\"format\":"))
			},
			want: []wantProblem{{key: manifestKey(t, "a"), reason: "not valid JSON"}},
		},
		{
			name: "manifest of another collector",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				put(t, st, manifestKey(t, "a"), get(t, st, manifestKey(t, "b")))
			},
			want: []wantProblem{{key: manifestKey(t, "a"), reason: `names incident "INC-42" and collector "b"`}},
		},
		{
			name: "part copied to another number",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				put(t, st, partKey(t, "a", 3), get(t, st, partKey(t, "a", 1)))
			},
			want: []wantProblem{
				{key: partKey(t, "a", 3), reason: "not listed in the complete manifest.json"},
				{key: partKey(t, "a", 3), entry: PartInfoFile, reason: "describes part 1"},
			},
		},
		{
			name: "incident.json missing",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				require.NoError(t, st.Delete(context.Background(), incKey))
			},
			want: []wantProblem{{key: incKey, reason: "missing"}},
		},
		{
			name: "incident.json of another incident",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				put(t, st, incKey, []byte(`{"id":"INC-7","source":"generic","status":"open","started_at":"2026-03-02T09:30:00Z"}`))
			},
			want: []wantProblem{{key: incKey, reason: `'id' is "INC-7"`}},
		},
		{
			name: "incident.json invalid",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				put(t, st, incKey, []byte(`{"id":"INC-42"}`))
			},
			want: []wantProblem{{key: incKey, reason: "'status'"}},
		},
		{
			name: "unexpected object",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				put(t, st, "incidents/INC-42/notes.txt", []byte("hi"))
			},
			check: func(t *testing.T, rep Report) {
				require.Len(t, rep.Unexpected, 1)
				assert.Contains(t, rep.Unexpected[0], "notes.txt")
			},
		},
		{
			// Notes are people's, not the collectors' evidence; a note of
			// another incident stored here is unexpected.
			name: "notes",
			mutate: func(t *testing.T, st store.Store, _ map[string]*Manifest) {
				put(t, st, "incidents/INC-42/notes/01772445900000000000-0011223344556677.json", []byte(`{"kind":"note"}`))
				put(t, st, "incidents/INC-42/notes/bad name.json", []byte(`{}`))
			},
			check: func(t *testing.T, rep Report) {
				require.Len(t, rep.Unexpected, 1)
				assert.Contains(t, rep.Unexpected[0], "bad name.json")
			},
		},
	}
	for _, be := range backends() {
		for _, tt := range tests {
			t.Run(be.name+"/"+tt.name, func(t *testing.T) {
				st := be.open(t)
				ms := writeFixture(t, st)
				// Another incident must not leak into the report.
				put(t, st, "incidents/INC-420/incident.json", []byte("{}"))
				if tt.mutate != nil {
					tt.mutate(t, st, ms)
				}
				rep, err := be.verify(context.Background(), st, verifyID)
				require.NoError(t, err)
				probs := rep.AllProblems()
				for _, w := range tt.want {
					found := slices.ContainsFunc(probs, func(p *VerifyError) bool {
						return p.File == be.display(st, w.key) && p.Entry == w.entry && strings.Contains(p.Reason, w.reason)
					})
					assert.True(t, found, "want problem %+v; got %v", w, probs)
				}
				if !tt.atLeast {
					assert.Len(t, probs, len(tt.want), "problems: %v", probs)
				}
				assert.Equal(t, len(tt.want) == 0, rep.OK())
				for _, p := range probs {
					require.ErrorIs(t, p, ErrCorrupt)
				}
				if tt.check != nil {
					tt.check(t, rep)
				}
			})
		}
	}
}

// TestVerifyBundleEveryFlip flips single bytes across a part object and its
// manifest: the manifest hash catches every one, including those the zstd
// frame header lets through.
func TestVerifyBundleEveryFlip(t *testing.T) {
	st := newFakeStore()
	writeFixture(t, st)
	key := partKey(t, "a", 1)
	good := get(t, st, key)
	step := max(1, len(good)/150)
	for at := 0; at < len(good); at += step {
		bad := bytes.Clone(good)
		bad[at] ^= 0x01
		put(t, st, key, bad)
		rep, err := VerifyBundle(context.Background(), st, verifyID)
		require.NoError(t, err)
		probs := rep.AllProblems()
		require.NotEmpty(t, probs, "flip at %d", at)
		assert.Equal(t, key, probs[0].File)
	}
}

func TestVerifyBundleErrors(t *testing.T) {
	ctx := context.Background()
	st := newFakeStore()
	_, err := VerifyBundle(ctx, st, verifyID)
	require.ErrorIs(t, err, store.ErrNotFound)
	require.ErrorContains(t, err, verifyID)

	_, err = VerifyBundle(ctx, st, "../etc")
	require.ErrorIs(t, err, incident.ErrInvalidID)

	writeFixture(t, st)
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	_, err = VerifyBundle(canceled, st, verifyID)
	require.ErrorIs(t, err, context.Canceled)

	boom := errors.New("boom")
	st.listErr = boom
	_, err = VerifyBundle(ctx, st, verifyID)
	require.ErrorIs(t, err, boom)

	_, err = VerifyDir(ctx, filepath.Join(t.TempDir(), "nope"), verifyID)
	require.ErrorContains(t, err, "opening evidence directory")
	_, err = VerifyDir(ctx, t.TempDir(), verifyID)
	require.ErrorIs(t, err, store.ErrNotFound)
}

func TestVerifyDirDoesNotFollowLinksOut(t *testing.T) {
	st, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	ms := writeFixture(t, st)
	dir := st.Dir()

	// A valid-looking part outside the directory, linked in as part 3 of "a".
	outside := filepath.Join(t.TempDir(), "part.tar.zst")
	data, info := smallPart(t, "a", 3, EncodingJSON)
	require.NoError(t, os.WriteFile(outside, data, 0o600))
	ref, err := NewPartRef(info, data)
	require.NoError(t, err)
	ms["a"].Complete = false
	require.NoError(t, ms["a"].AddPart(ref))
	putManifest(t, st, ms["a"])
	link := filepath.Join(dir, filepath.FromSlash(partKey(t, "a", 3)))
	require.NoError(t, os.Symlink(outside, link))
	// A directory where a part belongs.
	require.NoError(t, os.Mkdir(filepath.Join(dir, filepath.FromSlash(partKey(t, "b", 4))), 0o700))

	rep, err := VerifyDir(context.Background(), dir, verifyID)
	require.NoError(t, err)
	probs := rep.AllProblems()
	require.Len(t, probs, 1, "problems: %v", probs)
	assert.Equal(t, link, probs[0].File)
	assert.Contains(t, probs[0].Reason, "tampered with: a symbolic link")
}
