package catalog

import (
	"context"
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store/storetest"
)

func TestList(t *testing.T) {
	st, err := storage.NewFilesystem(t.TempDir())
	require.NoError(t, err)
	start := time.Date(2026, 3, 2, 9, 30, 0, 0, time.UTC)
	put := func(key string, v any) {
		b, err := json.Marshal(v)
		require.NoError(t, err)
		storetest.Put(t, st, key, b)
	}
	for i, id := range []string{"INC-A", "INC-B"} {
		key, err := bundle.IncidentKey(id)
		require.NoError(t, err)
		put(key, incident.Incident{ID: id, Title: "t " + id, Severity: "critical", Source: incident.SourceGeneric,
			Status: incident.StatusOpen, StartedAt: start.Add(time.Duration(i) * time.Hour), UpdatedAt: start})
	}
	m, err := bundle.NewManifest("INC-A", "c1", bundle.Window{Start: start.Add(-30 * time.Minute), End: start.Add(10 * time.Minute)})
	require.NoError(t, err)
	m.Complete = true
	data, err := m.Marshal()
	require.NoError(t, err)
	key, err := bundle.ManifestKey("INC-A", "c1")
	require.NoError(t, err)
	storetest.Put(t, st, key, data)
	key, err = bundle.ManifestKey("INC-B", "c1")
	require.NoError(t, err)
	storetest.Put(t, st, key, []byte("{not json"))

	rows, err := List(context.Background(), st)
	require.NoError(t, err)
	require.Len(t, rows, 2)
	assert.Equal(t, "INC-B", rows[0].ID, "newest first")
	assert.False(t, rows[0].Complete)
	require.Len(t, rows[0].Problems, 1)
	assert.Contains(t, rows[0].Problems[0], "manifest.json")
	a := rows[1]
	assert.Equal(t, "t INC-A", a.Title)
	assert.True(t, a.Complete)
	assert.Equal(t, 1, a.DoneCollectors())
	require.NotNil(t, a.Window)
	assert.Equal(t, start.Add(-30*time.Minute), a.Window.Start)
	assert.True(t, a.ActiveSince(start.Add(24*time.Hour)), "an open incident is active")
}
