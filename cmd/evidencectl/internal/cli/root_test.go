package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{"nil", nil, ExitOK},
		{"plain", errors.New("boom"), ExitFailure},
		{"usage", usageError("hint", "bad flag"), ExitUsage},
		{"wrapped usage", fmt.Errorf("outer: %w", usageError("", "x")), ExitUsage},
		{"not found", newError(ErrNotFound, nil, "", "x"), ExitNotFound},
		{"store not found", fmt.Errorf("get: %w", store.ErrNotFound), ExitNotFound},
		{"verify", newError(ErrVerifyFailed, nil, "", "x"), ExitVerifyFailed},
		{"corrupt", &bundle.VerifyError{Reason: "bad"}, ExitVerifyFailed},
		{"unreachable", storeError(errors.New("connection refused"), "the list"), ExitStoreUnreachable},
		{"store error keeps not found", storeError(fmt.Errorf("x: %w", store.ErrNotFound), "k"), ExitNotFound},
		{"store error keeps cancel", storeError(context.Canceled, "k"), ExitFailure},
		{"cause classifies", newError(nil, store.ErrNotFound, "", "x"), ExitNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, ExitCode(tt.err))
		})
	}
}

func TestErrorsSayWhatToDo(t *testing.T) {
	err := newError(ErrNotFound, nil, "check --store or run `evidencectl list`", "incident %s not found in %s", "INC-1", "file:///x")
	assert.Equal(t, "incident INC-1 not found in file:///x: check --store or run `evidencectl list`", err.Error())
	err = storeError(errors.New("dial tcp: refused"), "the list of \"incidents/\" in s3://b")
	assert.Contains(t, err.Error(), "reading the list of \"incidents/\" in s3://b failed: dial tcp: refused: check --store")
	assert.Equal(t, "interrupted: run it again", interrupted(context.Canceled, "run it again").Error())
}

func TestRootCommand(t *testing.T) {
	r := run(t).requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "Available Commands")
	for _, verb := range []string{"list", "get", "verify", "timeline", "replay", "trigger", "resolve", "deploy", "version"} {
		assert.Contains(t, r.stdout, "\n  "+verb+" ")
	}
	r = run(t, "frobnicate").requireCode(t, ExitUsage)
	assert.Equal(t, "evidencectl: unknown command \"frobnicate\": run `evidencectl --help` for the list of commands\n", r.stderr)
	r = run(t, "list", "--frob").requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "unknown flag: --frob: run `evidencectl list --help` for the flags")
	r = run(t, "--output", "xml", "version").requireCode(t, ExitUsage)
	assert.Contains(t, r.stderr, "use --output text or --output json")
	r = run(t, "get", "--help").requireCode(t, ExitOK)
	assert.Contains(t, r.stdout, "merged-manifest.json")
}

func TestVersion(t *testing.T) {
	r := run(t, "version").requireCode(t, ExitOK)
	assert.True(t, strings.HasPrefix(r.stdout, "evidencectl "), r.stdout)
	var bi buildInfo
	run(t, "version", "--output", "json").requireCode(t, ExitOK).jsonOut(t, &bi)
	assert.NotEmpty(t, bi.Version)
	assert.NotEmpty(t, bi.GoVersion)

	old := Version
	Version = "v9.9.9"
	t.Cleanup(func() { Version = old })
	assert.Contains(t, run(t, "version").stdout, "evidencectl v9.9.9")
	assert.Contains(t, run(t, "--version").stdout, "v9.9.9")
}

func TestHumanFormats(t *testing.T) {
	for in, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 20: "5.0 MiB", 3 << 30: "3.0 GiB"} {
		assert.Equal(t, want, humanBytes(in))
	}
	assert.Equal(t, "-30m", signedDuration(-30*60e9))
	assert.Equal(t, "+1h30m", signedDuration(90*60e9))
	assert.Equal(t, "+2h", signedDuration(120*60e9))
	assert.Equal(t, "+1.5s", signedDuration(1500e6))
}
