package perf

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestResultsRoundTrip(t *testing.T) {
	dir := t.TempDir()
	b := Result{Section: "2-b", Title: "B", Figures: []Figure{{Name: "x", Value: 2, PeerValue: 1, Ratio: 2, Target: "<= 3x", Met: Met(true)}}}
	a := Result{Section: "1-a", Title: "A", Tables: []Table{{Title: "t", Header: []string{"h"}, Rows: [][]string{{"v"}}}}}
	require.NoError(t, b.Write(dir))
	require.NoError(t, a.Write(dir))

	got, err := ReadResults(dir)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, "1-a", got[0].Section, "ordered by section")
	assert.Equal(t, a.Tables, got[0].Tables)
	require.NotNil(t, got[1].Figures[0].Met)
	assert.True(t, *got[1].Figures[0].Met)

	require.NoError(t, os.WriteFile(filepath.Join(dir, "3-bad.json"), []byte("{"), 0o600))
	got, err = ReadResults(dir)
	require.ErrorContains(t, err, "3-bad.json")
	assert.Len(t, got, 2, "good results are still returned")

	for _, bad := range []string{"", "..", "a/b", `a\b`} {
		require.Error(t, (&Result{Section: bad}).Write(dir), "section %q", bad)
	}
}

func TestSameRoundRatios(t *testing.T) {
	ratios := map[int]float64{3: 1.2, 1: 1.1, 2: 1.05, 4: 1.3}
	// Round 2 has no baseline figure and round 4's is not positive.
	baseline := map[int]float64{1: 1.1, 3: 0.96, 4: 0, 5: 1}
	got := SameRoundRatios(ratios, baseline)
	require.Len(t, got, 2)
	assert.InDelta(t, 1.0, got[0], 1e-12, "round 1 first")
	assert.InDelta(t, 1.25, got[1], 1e-12, "then round 3")
	assert.Empty(t, SameRoundRatios(ratios, nil))
}
