package cli

import (
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// lossyFixture is the two-collector fixture whose collector-b names 40
// evicted spans and an unknown number of log records lost in a restart.
func lossyFixture(id string) (*fixture, []bundle.Loss) {
	f := twoCollectorFixture(id)
	from := testgen.DefaultStart.Add(-20 * time.Minute)
	losses := []bundle.Loss{
		{Signal: bundle.SignalLogs, Reason: bundle.LossRestart, From: from},
		{Signal: bundle.SignalTraces, Reason: bundle.LossEvicted, Items: 40, From: from, To: from.Add(1500 * time.Millisecond)},
	}
	f.collectors[1].losses = losses
	return f, losses
}

func TestLossesShown(t *testing.T) {
	st, url := newFSStore(t)
	f, losses := lossyFixture("INC-LOSSY")
	f.write(t, st)
	twoCollectorFixture("INC-WHOLE").write(t, st)

	// list: a LOSSLESS column, and the losses in JSON.
	r := run(t, "--store", url, "list").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "LOSSLESS")
	assert.Regexp(t, `INC-LOSSY .* NO \(40 items\)`, r.stdout)
	assert.Regexp(t, `INC-WHOLE .* yes `, r.stdout)
	var listed struct {
		Incidents []incidentSummary `json:"incidents"`
	}
	run(t, "--store", url, "--output", "json", "list").requireCode(t, ExitOK).jsonOut(t, &listed)
	require.Len(t, listed.Incidents, 2)
	for _, row := range listed.Incidents {
		assert.Equal(t, row.ID == "INC-WHOLE", row.Lossless, row.ID)
		if row.ID == "INC-LOSSY" {
			assert.Equal(t, losses, row.Collectors[1].Losses)
			assert.True(t, row.Collectors[0].Lossless)
		}
	}

	// verify: an honest lossy bundle is intact (exit 0), its losses named.
	missing := []string{
		"MISSING  logs: an unknown number of items lost when the collector restarted before freezing them, item times from 2026-",
		"MISSING  traces: 40 items evicted from the ring before they were frozen, item times 2026-",
	}
	r = run(t, "--store", url, "verify", "INC-LOSSY", "--in-store").requireCode(t, ExitOK)
	assert.True(t, containsAll(r.stdout, missing...), r.stdout)
	assert.Contains(t, r.stdout, "the bundle is complete, and it names missing evidence (2 MISSING lines above)")
	r = run(t, "--store", url, "verify", "INC-WHOLE", "--in-store").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "the bundle is complete and lossless")
	assert.NotContains(t, r.stdout, "MISSING")
	var vres verifyResult
	run(t, "--store", url, "--output", "json", "verify", "INC-LOSSY", "--in-store").requireCode(t, ExitOK).jsonOut(t, &vres)
	assert.False(t, vres.Lossless)
	require.Len(t, vres.Losses, 2)
	assert.Equal(t, "collector-b", vres.Losses[0].CollectorID)

	// get: losses on top of the verdict; --require-lossless exits 4 after
	// the download, which stays usable.
	dir := filepath.Join(t.TempDir(), "INC-LOSSY")
	r = run(t, "--store", url, "get", "INC-LOSSY", "-o", dir).requireCode(t, ExitOK)
	assert.True(t, containsAll(r.stdout, missing...), r.stdout)
	assert.Contains(t, r.stdout, "The bundle is complete and NOT lossless: the collectors name 40 missing items")
	r = run(t, "--store", url, "get", "INC-LOSSY", "-o", dir, "--require-lossless").requireCode(t, ExitVerifyFailed)
	assert.Contains(t, r.stderr, "the evidence of INC-LOSSY is not lossless: it names 40 missing items")
	var gres getResult
	run(t, "--store", url, "--output", "json", "get", "INC-LOSSY", "-o", dir).requireCode(t, ExitOK).jsonOut(t, &gres)
	assert.False(t, gres.Merged.Lossless)
	assert.Equal(t, losses, gres.Merged.Collectors[1].Losses)
	run(t, "verify", dir).requireCode(t, ExitOK)

	// timeline: a warning block on top, from the folder and from the store.
	for _, args := range [][]string{{"timeline", dir}, {"--store", url, "timeline", "INC-LOSSY", "--in-store"}} {
		r = run(t, args...).requireCode(t, ExitOK)
		assert.Contains(t, r.stdout, "> **Warning: evidence is missing.** The collectors name 2 losses", args)
		assert.Contains(t, r.stdout, "> - traces: 40 spans, evicted, item times ", args)
	}

	r = run(t, "--store", url, "get", "INC-WHOLE", "-o", filepath.Join(t.TempDir(), "w"), "--require-lossless").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "The bundle is complete and lossless.")
}
