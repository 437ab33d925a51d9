package cli

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// hostile is what an attacker puts in a webhook title, a label or a store
// key: a window-title change (OSC ... BEL), a screen clear, a NUL, a line
// break that forges an "OK" line, and a right-to-left override.
const hostile = "x\x1b]0;pwned\x07\x1b[2J\x00\nOK: forged\u202e"

// requireSafe fails when output carries a control character other than a
// line feed (or a tab, which tables turn into spaces), or a bidirectional
// override.
func requireSafe(t *testing.T, what, out string) {
	t.Helper()
	for i, r := range out {
		if (r < 0x20 && r != '\n' && r != '\t') || r == 0x7f || (r >= 0x80 && r <= 0x9f) || r == 0x202e {
			t.Fatalf("%s: raw %U at byte %d of:\n%q", what, r, i, out)
		}
	}
	assert.NotContains(t, out, "\nOK: forged", "%s: a forged line", what)
}

// TestHumanOutputIsEscaped runs every command that shows evidence on an
// incident whose title, severity, labels and a store key carry terminal
// control sequences: no control character reaches the output, and the
// escaped text shows what is there.
func TestHumanOutputIsEscaped(t *testing.T) {
	st, storeURL := newFSStore(t)
	f := twoCollectorFixture("INC-ESC")
	f.editIncident = func(inc *incident.Incident) {
		inc.Title = "checkout " + hostile
		inc.Severity = "sev" + hostile
		inc.Labels = map[string]string{"team" + hostile: "pay" + hostile}
	}
	f.write(t, st)
	// A store object whose key no collector wrote: shown, never raw.
	evil := filepath.Join(st.Dir(), "incidents", "INC-ESC", "note"+strings.ReplaceAll(hostile, "\x00", "")+".txt")
	require.NoError(t, os.WriteFile(evil, []byte("x"), 0o600))
	dir := filepath.Join(t.TempDir(), "out")

	runs := []struct {
		name string
		args []string
		// shown is a piece of the escaped text the output must hold.
		shown string
	}{
		{"list", []string{"--store", storeURL, "list"}, `checkout x\x1b]0;pwned\x07\x1b[2J\x00\nOK: forged\u202e`},
		{"verify in store", []string{"--store", storeURL, "verify", "INC-ESC", "--in-store"}, `notex\x1b]0;pwned`},
		{"get", []string{"--store", storeURL, "get", "INC-ESC", "-o", dir}, `checkout x\x1b]0;pwned`},
		{"verify dir", []string{"verify", dir}, ""},
		{"timeline dir", []string{"timeline", dir}, `checkout x\x1b]0;pwned`},
		{"timeline in store", []string{"--store", storeURL, "timeline", "INC-ESC", "--in-store"}, `checkout x\x1b]0;pwned`},
		{"error naming a path", []string{"verify", "./no" + hostile}, `nox\x1b]0;pwned`},
		{"error naming an id", []string{"--store", storeURL, "get", "INC" + hostile}, `\x1b`},
	}
	for _, r := range runs {
		res := run(t, r.args...)
		requireSafe(t, r.name+" stdout", res.stdout)
		requireSafe(t, r.name+" stderr", res.stderr)
		if r.shown != "" {
			assert.Contains(t, res.stdout+res.stderr, r.shown, "%s", r.name)
		}
	}
}
