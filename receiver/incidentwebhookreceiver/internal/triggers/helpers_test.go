package triggers

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// testNow is the receive time used by the tests.
var testNow = time.Date(2026, 3, 10, 12, 0, 0, 0, time.UTC)

func fixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	require.NoError(t, err)
	return b
}

func ts(s string) time.Time {
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		panic(err)
	}
	return t.UTC()
}

// expectedHash recomputes a derived ID independently of hashID.
func expectedHash(prefix, key string) string {
	sum := sha256.Sum256([]byte(key))
	return prefix + hex.EncodeToString(sum[:8])
}

// checkResult verifies the invariants every accepted payload must keep:
// at least one event, only valid IDs, valid incidents and deploys, and
// events that can be written to events.jsonl.
func checkResult(res Result) error {
	if len(res.Events) == 0 {
		return errors.New("no event recorded")
	}
	for _, inc := range res.Open {
		if err := inc.Validate(); err != nil {
			return fmt.Errorf("open %q: %w", inc.ID, err)
		}
	}
	for _, r := range res.Resolve {
		if err := incident.ValidateID(r.ID); err != nil {
			return fmt.Errorf("resolve: %w", err)
		}
		if r.At.IsZero() {
			return fmt.Errorf("resolve %q: zero time", r.ID)
		}
	}
	for _, d := range res.Deploys {
		if err := d.Validate(); err != nil {
			return fmt.Errorf("deploy %q: %w", d.ID, err)
		}
	}
	for i, ev := range res.Events {
		if ev.Source == "" || ev.Kind == "" || ev.Time.IsZero() {
			return fmt.Errorf("event %d lacks kind, source or time: %+v", i, ev)
		}
		if len(ev.Payload) == 0 || !json.Valid(ev.Payload) {
			return fmt.Errorf("event %d payload is not JSON", i)
		}
		if ev.IncidentID != "" {
			if err := incident.ValidateID(ev.IncidentID); err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
		}
		if ev.DeployID != "" {
			if err := incident.ValidateID(ev.DeployID); err != nil {
				return fmt.Errorf("event %d: %w", i, err)
			}
		}
		if ev.Note != nil {
			if err := ev.Note.Validate(); err != nil {
				return fmt.Errorf("event %d note: %w", i, err)
			}
		}
		if _, err := json.Marshal(ev); err != nil {
			return fmt.Errorf("event %d cannot be written: %w", i, err)
		}
	}
	return nil
}

// checkError verifies that a parser error is an *Error with a 4xx status.
func checkError(err error) error {
	e, ok := AsError(err)
	if !ok {
		return fmt.Errorf("error %w (%T) is not an *Error", err, err)
	}
	if e.Status < 400 || e.Status > 499 {
		return fmt.Errorf("error %w has status %d", e, e.Status)
	}
	if e.Reason == "" {
		return fmt.Errorf("error %w has no reason", e)
	}
	return nil
}

func requireResult(t *testing.T, res Result, err error) {
	t.Helper()
	require.NoError(t, err)
	require.NoError(t, checkResult(res))
}

func requireReason(t *testing.T, err error, status int, reason, field string) {
	t.Helper()
	require.Error(t, err)
	require.NoError(t, checkError(err))
	e, _ := AsError(err)
	require.Equal(t, reason, e.Reason, "error: %v", err)
	require.Equal(t, status, e.Status, "error: %v", err)
	if field != "" {
		require.Equal(t, field, e.Field, "error: %v", err)
	}
	require.NotEmpty(t, e.Error())
}

func kinds(res Result) []incident.EventKind {
	out := make([]incident.EventKind, len(res.Events))
	for i, ev := range res.Events {
		out[i] = ev.Kind
	}
	return out
}

// mustJSON marshals v for building payloads in tests.
func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return b
}
