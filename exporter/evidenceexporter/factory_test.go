package evidenceexporter

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/component/componenttest"
	"go.opentelemetry.io/collector/exporter/exportertest"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadata"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
)

func TestFactorySharesOneRecorderAcrossSignals(t *testing.T) {
	f := NewFactory()
	cfg := testConfig(t)
	set := exportertest.NewNopSettings(metadata.Type)
	ctx := context.Background()

	te, err := f.CreateTraces(ctx, set, cfg)
	require.NoError(t, err)
	le, err := f.CreateLogs(ctx, set, cfg)
	require.NoError(t, err)
	me, err := f.CreateMetrics(ctx, set, cfg)
	require.NoError(t, err)
	assert.False(t, te.Capabilities().MutatesData)

	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	host := hostWith(newFakeRegistry(fs))
	for _, c := range []component.Component{te, le, me} {
		require.NoError(t, c.Start(ctx, host))
	}
	td := makeTraces(span("s", t0))
	td.MarkReadOnly()
	require.NoError(t, te.ConsumeTraces(ctx, td))
	require.NoError(t, le.ConsumeLogs(ctx, makeLogs("l", t0, false)))
	require.NoError(t, me.ConsumeMetrics(ctx, makeGauge("m", t0)))

	exporters.mu.Lock()
	shared := exporters.m[set.ID]
	exporters.mu.Unlock()
	require.NotNil(t, shared)
	stats := shared.ring.Stats()
	assert.Equal(t, int64(3), stats.Total().Blocks, "one ring for the three signals")

	require.NoError(t, te.Shutdown(ctx))
	require.NoError(t, le.Shutdown(ctx))
	assert.NotNil(t, shared.ring, "still in use by the metrics pipeline")
	require.NoError(t, me.Shutdown(ctx))
	assert.Nil(t, shared.ring)
	exporters.mu.Lock()
	assert.Empty(t, exporters.m)
	exporters.mu.Unlock()
}

func TestStartErrors(t *testing.T) {
	fs, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	tests := []struct {
		name    string
		host    component.Host
		cfg     func(*Config)
		wantErr error
		wantMsg string
	}{
		{name: "no extension", host: componenttest.NewNopHost(), wantErr: incidentsapi.ErrNotFound},
		{
			name:    "wrong type",
			host:    incidentsapitest.NewHost(componentNop{}, nil),
			wantErr: incidentsapi.ErrWrongType,
		},
		{
			name:    "unusable spool",
			host:    hostWith(newFakeRegistry(fs)),
			cfg:     func(c *Config) { c.Spool.Directory = "/dev/null/spool" },
			wantMsg: "'spool.directory'",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := testConfig(t)
			if tt.cfg != nil {
				tt.cfg(cfg)
			}
			e, err := newEvidenceExporter(cfg, exportertest.NewNopSettings(metadata.Type), defaultOptions())
			require.NoError(t, err)
			err = e.start(context.Background(), tt.host)
			if tt.wantErr != nil {
				require.ErrorIs(t, err, tt.wantErr)
			}
			require.ErrorContains(t, err, tt.wantMsg)
			require.NoError(t, e.shutdown(context.Background()))
		})
	}
}

type componentNop struct {
	component.StartFunc
	component.ShutdownFunc
}
