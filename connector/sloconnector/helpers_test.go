package sloconnector

import (
	"context"
	"fmt"
	"math/rand/v2"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/consumer/consumertest"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadatatest"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
)

// lifecycleHost offers an in-memory incidents registry as "incidents".
func lifecycleHost() component.Host {
	return incidentsapitest.NewHost(incidentsapitest.NewRegistry("test", nil), nil)
}

// fakeClock is a settable clock for the connector's bucket times.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// testConfig is one availability SLO on service checkout (99.9%), with the
// default policy.
func testConfig() *Config {
	cfg := createDefaultConfig().(*Config)
	cfg.SLOs = []SLOConfig{{
		Name:      "checkout-availability",
		Signal:    SignalTraces,
		Selector:  SelectorConfig{Resource: map[string]string{"service.name": "checkout"}},
		SLI:       SLIConfig{Bad: []string{"status.code == STATUS_CODE_ERROR"}},
		Objective: 99.9,
		Period:    30 * 24 * time.Hour,
	}}
	return cfg
}

// rig is a started connector on a fake clock and an in-memory registry.
type rig struct {
	c     *sloConnector
	reg   *incidentsapitest.Registry
	host  *incidentsapitest.Host
	sink  *consumertest.MetricsSink
	clock *fakeClock
	tel   *componenttest.Telemetry
}

func newRig(t *testing.T, cfg *Config, more map[component.ID]component.Component) *rig {
	t.Helper()
	return newRigOn(t, cfg, incidentsapitest.NewRegistry("collector-a", nil), newFakeClock(), more)
}

// newRigOn starts a connector on an existing registry and clock (a restart).
func newRigOn(t *testing.T, cfg *Config, reg *incidentsapitest.Registry, clock *fakeClock, more map[component.ID]component.Component) *rig {
	t.Helper()
	require.NoError(t, cfg.Validate())
	r := &rig{reg: reg, sink: new(consumertest.MetricsSink), clock: clock}
	r.host = incidentsapitest.NewHost(r.reg, more)
	r.tel = componenttest.NewTelemetry()
	t.Cleanup(func() { require.NoError(t, r.tel.Shutdown(context.Background())) })
	set := metadatatest.NewSettings(r.tel)
	c, err := newConnector(set, cfg, r.sink)
	require.NoError(t, err)
	c.now = r.clock.Now
	r.c = c
	require.NoError(t, c.Start(context.Background(), r.host))
	t.Cleanup(func() { require.NoError(t, c.Shutdown(context.Background())) })
	return r
}

// traces builds one batch: for each service, n spans of which bad have
// status Error; attributes and IDs vary as in real traffic.
func traces(rng *rand.Rand, service string, n, bad int) ptrace.Traces {
	td := ptrace.NewTraces()
	rs := td.ResourceSpans().AppendEmpty()
	rs.Resource().Attributes().PutStr("service.name", service)
	rs.Resource().Attributes().PutStr("host.name", fmt.Sprintf("host-%d", rng.IntN(8)))
	ss := rs.ScopeSpans().AppendEmpty()
	ss.Scope().SetName("test")
	start := pcommon.NewTimestampFromTime(time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC))
	for i := range n {
		sp := ss.Spans().AppendEmpty()
		var tid [16]byte
		var sid [8]byte
		for j := range tid {
			tid[j] = byte(rng.IntN(256))
		}
		for j := range sid {
			sid[j] = byte(rng.IntN(256))
		}
		sp.SetTraceID(tid)
		sp.SetSpanID(sid)
		sp.SetName([]string{"GET /cart", "POST /checkout", "GET /items"}[rng.IntN(3)])
		sp.SetKind(ptrace.SpanKindServer)
		sp.SetStartTimestamp(start)
		sp.SetEndTimestamp(start + pcommon.Timestamp(rng.IntN(200))*pcommon.Timestamp(time.Millisecond))
		sp.Attributes().PutStr("http.request.method", "GET")
		code := int64(200)
		if i < bad {
			sp.Status().SetCode(ptrace.StatusCodeError)
			code = 503
		}
		sp.Attributes().PutInt("http.response.status_code", code)
	}
	return td
}

// memStorage is an in-memory storage extension.
type memStorage struct {
	component.StartFunc
	component.ShutdownFunc
	mu   sync.Mutex
	data map[string][]byte
	// getErr fails every Get.
	getErr error
}

var _ storage.Extension = (*memStorage)(nil)

func newMemStorage() *memStorage { return &memStorage{data: map[string][]byte{}} }

func (m *memStorage) GetClient(context.Context, component.Kind, component.ID, string) (storage.Client, error) {
	return &memClient{m: m}, nil
}

type memClient struct{ m *memStorage }

func (c *memClient) Get(_ context.Context, key string) ([]byte, error) {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	if c.m.getErr != nil {
		return nil, c.m.getErr
	}
	return c.m.data[key], nil
}

func (c *memClient) Set(_ context.Context, key string, value []byte) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	c.m.data[key] = append([]byte(nil), value...)
	return nil
}

func (c *memClient) Delete(_ context.Context, key string) error {
	c.m.mu.Lock()
	defer c.m.mu.Unlock()
	delete(c.m.data, key)
	return nil
}

func (c *memClient) Batch(ctx context.Context, ops ...*storage.Operation) error {
	for _, op := range ops {
		var err error
		switch op.Type {
		case storage.Get:
			op.Value, err = c.Get(ctx, op.Key)
		case storage.Set:
			err = c.Set(ctx, op.Key, op.Value)
		case storage.Delete:
			err = c.Delete(ctx, op.Key)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

func (*memClient) Close(context.Context) error { return nil }
