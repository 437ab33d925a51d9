package incidentsextension

import (
	"bytes"
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/testutil/fakeclock"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componentstatus"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/extension"
	"go.opentelemetry.io/collector/extension/extensiontest"
	"go.uber.org/zap"
	"go.uber.org/zap/zapcore"
	"go.uber.org/zap/zaptest/observer"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadata"
	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// testInterval is the sync interval of the unit tests.
const testInterval = 50 * time.Millisecond

func newFakeClock(t time.Time) *fakeclock.Clock { return fakeclock.New(t) }

// statusHost is a component.Host that records reported component status.
type statusHost struct {
	exts map[component.ID]component.Component

	mu       sync.Mutex
	statuses []componentstatus.Status
	errs     []error
}

func (h *statusHost) GetExtensions() map[component.ID]component.Component { return h.exts }

func (h *statusHost) Report(ev *componentstatus.Event) {
	h.mu.Lock()
	h.statuses = append(h.statuses, ev.Status())
	h.errs = append(h.errs, ev.Err())
	h.mu.Unlock()
}

// lastErr is the error of the last reported status.
func (h *statusHost) lastErr() error {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.errs) == 0 {
		return nil
	}
	return h.errs[len(h.errs)-1]
}

func (h *statusHost) last() componentstatus.Status {
	h.mu.Lock()
	defer h.mu.Unlock()
	if len(h.statuses) == 0 {
		return componentstatus.StatusNone
	}
	return h.statuses[len(h.statuses)-1]
}

// testExt is an extension under test with its observed logs.
type testExt struct {
	*incidentsExtension
	logs *observer.ObservedLogs
	host *statusHost
}

type testOptions struct {
	clock *fakeclock.Clock
	tel   *componenttest.Telemetry
	wrap  func(store.Store) store.Store
	cfg   func(*Config)
}

func testConfig(dir, id string) *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.CollectorID = id
	cfg.Store.Filesystem.Directory = dir
	cfg.SyncInterval = testInterval
	return cfg
}

// newTestExt creates (without starting) a replica over the filesystem
// store in dir.
func newTestExt(t testing.TB, dir, id string, o testOptions) *testExt {
	t.Helper()
	cfg := testConfig(dir, id)
	cfg.Journal.Directory = journalDir(t, dir, id)
	if o.cfg != nil {
		o.cfg(cfg)
	}
	var set extension.Settings
	if o.tel != nil {
		set = metadatatest.NewSettings(o.tel)
	} else {
		set = extensiontest.NewNopSettings(metadata.Type)
	}
	core, logs := observer.New(zapcore.InfoLevel)
	set.Logger = zap.New(core)
	e, err := newExtension(cfg, set)
	require.NoError(t, err)
	e.syncLookback = time.Second
	if o.clock != nil {
		e.now = o.clock.Now
	}
	if o.wrap != nil {
		e.openStore = func(ctx context.Context, c storage.Config) (store.Store, error) {
			st, err := storage.Open(ctx, c)
			if err != nil {
				return nil, err
			}
			return o.wrap(st), nil
		}
	}
	return &testExt{incidentsExtension: e, logs: logs, host: &statusHost{}}
}

// journalDirs keeps one journal directory per replica (store directory and
// collector ID), so that a replica restarted in a test finds its journal.
var journalDirs sync.Map

func journalDir(t testing.TB, dir, id string) string {
	key := t.Name() + "\x00" + dir + "\x00" + id
	if d, ok := journalDirs.Load(key); ok {
		return d.(string)
	}
	d := t.TempDir()
	journalDirs.Store(key, d)
	return d
}

// startTestExt creates and starts a replica; it is shut down when the test
// ends.
func startTestExt(t testing.TB, dir, id string, o testOptions) *testExt {
	t.Helper()
	e := newTestExt(t, dir, id, o)
	require.NoError(t, e.Start(context.Background(), e.host))
	t.Cleanup(func() { require.NoError(t, e.Shutdown(context.Background())) })
	return e
}

// loggedOpened reports whether the replica logged "Incident opened" for id.
func (e *testExt) logged(msg, id string) bool {
	for _, entry := range e.logs.FilterMessage(msg).All() {
		if entry.ContextMap()["incident.id"] == id {
			return true
		}
	}
	return false
}

func (e *testExt) status(id string) incident.Status {
	inc := e.Snapshot().Incidents[id]
	if inc == nil {
		return ""
	}
	return inc.Status
}

// changeRecorder collects the changes delivered to a subscriber.
type changeRecorder struct {
	mu      sync.Mutex
	changes []incidentsapi.Change
}

func (r *changeRecorder) record(c incidentsapi.Change) {
	r.mu.Lock()
	r.changes = append(r.changes, c)
	r.mu.Unlock()
}

func (r *changeRecorder) kinds(id string) []incidentsapi.ChangeKind {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []incidentsapi.ChangeKind
	for _, c := range r.changes {
		if c.Incident.ID == id {
			out = append(out, c.Kind)
		}
	}
	return out
}

// flakyStore fails List, Put and Get while failing is set, and List alone
// while failList is set.
type flakyStore struct {
	store.Store
	failing  atomic.Bool
	failList atomic.Bool
	failPut  atomic.Bool // Put alone: a store that still reads but refuses writes
}

var errInjected = errors.New("injected store failure")

func (f *flakyStore) List(ctx context.Context, prefix, startAfter string) ([]store.ObjectInfo, error) {
	if f.failing.Load() || f.failList.Load() {
		return nil, errInjected
	}
	return f.Store.List(ctx, prefix, startAfter)
}

func (f *flakyStore) Put(ctx context.Context, key string, r io.Reader, size int64, opts store.PutOptions) error {
	if f.failing.Load() || f.failPut.Load() {
		return errInjected
	}
	return f.Store.Put(ctx, key, r, size, opts)
}

func (f *flakyStore) Get(ctx context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	if f.failing.Load() {
		return nil, store.ObjectInfo{}, errInjected
	}
	return f.Store.Get(ctx, key)
}

func genericEvent(kind incident.EventKind) incident.Event {
	return incident.Event{Kind: kind, Source: incident.SourceGeneric, Payload: []byte(`{"from":"test"}`)}
}

// memStore is a small in-memory store.Store for tests that measure or
// stress the registry rather than the filesystem.
type memStore struct {
	mu   sync.Mutex
	objs map[string][]byte
}

func newMemStore() *memStore { return &memStore{objs: map[string][]byte{}} }

func (m *memStore) Put(_ context.Context, key string, r io.Reader, size int64, _ store.PutOptions) error {
	if err := store.ValidateKey(key); err != nil {
		return err
	}
	b, err := io.ReadAll(r)
	if err != nil {
		return err
	}
	if int64(len(b)) != size {
		return store.ErrSizeMismatch
	}
	m.mu.Lock()
	m.objs[key] = b
	m.mu.Unlock()
	return nil
}

func (m *memStore) Get(_ context.Context, key string) (io.ReadCloser, store.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return nil, store.ObjectInfo{}, store.ErrNotFound
	}
	return io.NopCloser(bytes.NewReader(b)), store.ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

func (m *memStore) Stat(_ context.Context, key string) (store.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	b, ok := m.objs[key]
	if !ok {
		return store.ObjectInfo{}, store.ErrNotFound
	}
	return store.ObjectInfo{Key: key, Size: int64(len(b))}, nil
}

func (m *memStore) List(_ context.Context, prefix, startAfter string) ([]store.ObjectInfo, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []store.ObjectInfo
	for k, b := range m.objs {
		if strings.HasPrefix(k, prefix) && k > startAfter {
			out = append(out, store.ObjectInfo{Key: k, Size: int64(len(b))})
		}
	}
	slices.SortFunc(out, func(a, b store.ObjectInfo) int { return strings.Compare(a.Key, b.Key) })
	return out, nil
}

func (m *memStore) Delete(_ context.Context, key string) error {
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}

func (m *memStore) String() string { return "mem://" }

// inMemory makes a test replica use st instead of its filesystem store.
func inMemory(st *memStore) func(store.Store) store.Store {
	return func(store.Store) store.Store { return st }
}
