package evidenceexporter

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// note records a note event at time at (a late one when at is already
// frozen).
func (r *fakeRegistry) note(t *testing.T, id, text string, at time.Time) {
	t.Helper()
	require.NoError(t, r.RecordEvent(context.Background(), incident.Event{
		Kind: incident.EventNote, Time: at, Source: incident.SourceGeneric, IncidentID: id, Note: &incident.Note{Text: text},
	}))
}

// eventTexts lists a bundle's events as "kind id text", in part order.
func eventTexts(t *testing.T, c bundleContent) []string {
	t.Helper()
	var out []string
	for _, p := range c.parts {
		require.NoError(t, p.Events(func(ev incident.Event) error {
			s := string(ev.Kind) + " " + ev.IncidentID
			if ev.Note != nil {
				s += " " + ev.Note.Text
			}
			out = append(out, s)
			return nil
		}))
	}
	return out
}

// TestEventsExactlyOnce: every event of a window is in the bundle once,
// whether it was recorded before the first flush, between flushes, late
// (with a time already frozen), across a restart from the spool, or
// across a restart from a state that lists its events itself.
func TestEventsExactlyOnce(t *testing.T) {
	for _, legacy := range []bool{false, true} {
		t.Run(map[bool]string{false: "events file", true: "events in state.json"}[legacy], func(t *testing.T) {
			cfg := testConfig(t)
			h := newHarness(t, cfg, newFakeClock(t0), nil)
			h.reg.note(t, "INC-A", "before", t0.Add(-time.Minute))
			h.reg.open(t, "INC-A", t0)
			h.flush()

			h.clock.Set(t0.Add(time.Minute))
			h.reg.open(t, "INC-B", t0.Add(time.Minute))
			h.flush()
			h.reg.note(t, "INC-A", "late", t0.Add(-2*time.Minute)) // its time is frozen in both
			h.flush()
			h.flush()
			h.stop()

			dir := filepath.Join(cfg.Spool.Directory, "incidents", "INC-A")
			if legacy {
				asLegacyState(t, dir)
			}
			h.start()
			h.flush() // nothing new: nothing repeated
			h.reg.note(t, "INC-A", "after restart", t0.Add(-3*time.Minute))
			h.flush()
			h.at(t0.Add(40 * time.Minute))

			a := eventTexts(t, h.read("INC-A", h.waitComplete("INC-A")))
			b := eventTexts(t, h.read("INC-B", h.waitComplete("INC-B")))
			assert.ElementsMatch(t, []string{"note INC-A before", "incident.opened INC-A", "incident.opened INC-B",
				"note INC-A late", "note INC-A after restart"}, a)
			assert.ElementsMatch(t, []string{"note INC-A before", "incident.opened INC-A", "incident.opened INC-B",
				"note INC-A late", "note INC-A after restart"}, b)
		})
	}
}

// asLegacyState rewrites an incident's spool state as earlier versions
// wrote it: the hashes of its events in state.json, no events file.
func asLegacyState(t *testing.T, dir string) {
	t.Helper()
	lines, err := os.ReadFile(filepath.Join(dir, eventsFile))
	require.NoError(t, err)
	data, err := os.ReadFile(filepath.Join(dir, stateFile))
	require.NoError(t, err)
	var st map[string]any
	require.NoError(t, json.Unmarshal(data, &st))
	n := int(st["events_count"].(float64))
	hashes := strings.Split(strings.TrimSuffix(string(lines), "\n"), "\n")
	require.Len(t, hashes, n)
	st["events"] = hashes
	delete(st, "events_count")
	data, err = json.Marshal(st)
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, stateFile), data, 0o600))
	require.NoError(t, os.Remove(filepath.Join(dir, eventsFile)))
}

// TestFlushReadsOnlyNewEvents: with many incidents open, every window holds
// every other incident's events; a flush reads from the registry only what
// is new to its incident, not the whole window again. Reading the window
// whole made an idle collector with 1000 open incidents spend more than a
// core re-reading, re-encoding and re-hashing the same events.
func TestFlushReadsOnlyNewEvents(t *testing.T) {
	const n = 40
	cfg := testConfig(t)
	h := newHarness(t, cfg, newFakeClock(t0), nil)
	for i := range n {
		h.reg.open(t, fmt.Sprintf("INC-%02d", i), t0)
	}
	h.flush()
	require.Equal(t, int64(n*n), h.reg.copied.Load(), "each first flush reads the window's events once")

	h.reg.copied.Store(0)
	h.at(t0.Add(time.Minute))
	h.at(t0.Add(2 * time.Minute))
	assert.Zero(t, h.reg.copied.Load(), "flushes with nothing new read no event")

	h.reg.note(t, "INC-00", "new", t0.Add(2*time.Minute))
	h.reg.note(t, "INC-01", "late", t0.Add(-time.Minute)) // a time every window has frozen
	h.at(t0.Add(3 * time.Minute))
	assert.Equal(t, int64(2*n), h.reg.copied.Load(), "each flush reads the two new events")

	h.at(t0.Add(40 * time.Minute))
	texts := eventTexts(t, h.read("INC-07", h.waitComplete("INC-07")))
	assert.Len(t, texts, n+2, "every event once")
	assert.Contains(t, texts, "note INC-00 new")
	assert.Contains(t, texts, "note INC-01 late")
}
