package releasetest

import (
	"bufio"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/deploy/internal/release"
	"github.com/otel-evidence/otel-evidence/deploy/internal/testrig"
)

const (
	unitPath  = "/lib/systemd/system/otelcol-evidence.service"
	stateDir  = "/var/lib/otelcol-evidence"
	configDir = "/etc/otelcol-evidence"
)

// TestDebInstallsAndRuns installs the deb with dpkg, checks what it laid
// down, verifies its systemd unit with systemd-analyze, runs the unit's
// ExecStart as written - as the unit's User and Group, with its
// EnvironmentFiles and WorkingDirectory, in a network namespace of its own
// - through health, telemetrygen traffic and a frozen bundle, then purges
// the package and removes its user, leaving the machine as it was.
func TestDebInstallsAndRuns(t *testing.T) {
	testrig.Root(t)
	if _, err := exec.LookPath("dpkg"); err != nil {
		t.Skip("dpkg is not available: the deb cannot be installed on this machine")
	}
	if out, err := testrig.RunErr(time.Minute, "dpkg-query", "-W", "-f=${Status}", "otelcol-evidence"); err == nil && strings.Contains(out, "installed") {
		t.Fatalf("otelcol-evidence is already installed (%s): the test installs and purges its own copy; remove it first (dpkg --purge otelcol-evidence)", out)
	}
	if fi, err := os.Stat(stateDir); err == nil {
		st := fi.Sys().(*syscall.Stat_t)
		t.Fatalf("%s already exists (uid %d, mode %v) before the package is installed: something else on this machine (an earlier test run as root?) created it, and the package's service user may not be able to use what is inside; remove it first", stateDir, st.Uid, fi.Mode())
	}
	dir, m := artifacts(t)
	deb := filepath.Join(dir, release.PackageName(m, "amd64", "deb"))

	t.Cleanup(func() {
		out, err := testrig.RunErr(2*time.Minute, "dpkg", "--purge", "otelcol-evidence")
		require.NoErrorf(t, err, "dpkg --purge:\n%s", out)
		// Purge removes the state and the generated token; the package
		// keeps its system user (Debian's practice), the test does not.
		for _, p := range []string{stateDir, configDir, unitPath, "/usr/bin/otelcol-evidence"} {
			_, err := os.Stat(p)
			require.Truef(t, os.IsNotExist(err), "%s is still there after dpkg --purge", p)
		}
		_, _ = testrig.RunErr(time.Minute, "userdel", "otelcol-evidence")
		_, _ = testrig.RunErr(time.Minute, "groupdel", "otelcol-evidence")
	})
	testrig.Run(t, 2*time.Minute, "dpkg", "-i", deb)

	status := testrig.Run(t, time.Minute, "dpkg-query", "-W", "-f=${Version} ${Architecture}", "otelcol-evidence")
	require.Equal(t, m.Version+"-1 amd64", status)
	u, err := user.Lookup("otelcol-evidence")
	require.NoError(t, err, "the package creates its user")
	uid, err := strconv.Atoi(u.Uid)
	require.NoError(t, err)
	require.Less(t, uid, 1000, "a system user")
	g, err := user.LookupGroupId(u.Gid)
	require.NoError(t, err)
	require.Equal(t, "otelcol-evidence", g.Name)
	require.Equal(t, "/var/lib/otelcol-evidence", u.HomeDir)

	fi, err := os.Stat(stateDir)
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o750)|os.ModeDir, fi.Mode())
	require.EqualValues(t, uid, fi.Sys().(*syscall.Stat_t).Uid)
	tok, err := os.Stat(filepath.Join(configDir, "webhook-token.env"))
	require.NoError(t, err)
	require.Equal(t, os.FileMode(0o640), tok.Mode().Perm(), "the generated token is readable by root and the service's group only")
	conffiles := testrig.Run(t, time.Minute, "dpkg-query", "--control-show", "otelcol-evidence", "conffiles")
	require.Contains(t, conffiles, "/etc/otelcol-evidence/config.yaml")
	require.Contains(t, conffiles, "/etc/otelcol-evidence/otelcol-evidence.conf")

	if _, err := exec.LookPath("systemd-analyze"); err == nil {
		out, err := testrig.RunErr(time.Minute, "systemd-analyze", "verify", unitPath)
		require.NoErrorf(t, err, "systemd-analyze verify %s:\n%s", unitPath, out)
		require.Emptyf(t, strings.TrimSpace(out), "systemd-analyze verify %s has something to say", unitPath)
	} else {
		t.Log("systemd-analyze is not available here: the unit file was not verified")
	}

	unit := parseUnit(t, unitPath)
	svc := unit["Service"]
	for _, key := range []string{"ProtectSystem", "StateDirectory", "NoNewPrivileges", "User"} {
		require.NotEmptyf(t, svc[key], "the unit sets %s=", key)
	}
	require.Equal(t, []string{"strict"}, svc["ProtectSystem"])
	require.Equal(t, []string{"otelcol-evidence"}, svc["StateDirectory"])
	require.Len(t, svc["ExecStart"], 1)
	argv := strings.Fields(svc["ExecStart"][0])
	for _, a := range argv {
		require.NotContainsf(t, a, "$", "ExecStart %q uses a variable; this test runs it without systemd's expansion", svc["ExecStart"][0])
	}
	run, err := user.Lookup(svc["User"][0])
	require.NoError(t, err)
	grp, err := user.LookupGroup(svc["Group"][0])
	require.NoError(t, err)
	runUID, _ := strconv.Atoi(run.Uid)
	runGID, _ := strconv.Atoi(grp.Gid)
	env := []string{}
	for _, f := range svc["EnvironmentFile"] {
		optional := strings.HasPrefix(f, "-")
		env = append(env, envFile(t, strings.TrimPrefix(f, "-"), optional)...)
	}
	require.Contains(t, strings.Join(env, "\n"), "OTEL_EVIDENCE_WEBHOOK_TOKEN=", "the token file the package generated")
	token := ""
	for _, e := range env {
		if v, ok := strings.CutPrefix(e, "OTEL_EVIDENCE_WEBHOOK_TOKEN="); ok {
			token = v
		}
	}
	require.Len(t, token, 64, "a 32-byte random token, in hex")

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Env = env
	cmd.Dir = svc["WorkingDirectory"][0]
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Credential: &syscall.Credential{Uid: uint32(runUID), Gid: uint32(runGID)},
	}
	proc, ns, alive := testrig.StartIsolated(t, cmd)
	part := testrig.Exercise(t, ns, alive, token, filepath.Join(stateDir, "evidence"))
	t.Logf("the installed package froze part-000001 of %s as collector %s: %d spans", part.IncidentID, part.CollectorID, part.Counts.Spans)
	require.EqualValues(t, runUID, procUID(t, cmd.Process.Pid))
	require.NoError(t, proc.Stop(30*time.Second), "a clean exit on SIGTERM")
}

// parseUnit reads a systemd unit file into section -> key -> values (in
// order; a key may repeat).
func parseUnit(t *testing.T, path string) map[string]map[string][]string {
	t.Helper()
	f, err := os.Open(path)
	require.NoError(t, err)
	defer func() { _ = f.Close() }()
	unit := map[string]map[string][]string{}
	section := ""
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";"):
		case strings.HasPrefix(line, "[") && strings.HasSuffix(line, "]"):
			section = strings.Trim(line, "[]")
			unit[section] = map[string][]string{}
		default:
			k, v, ok := strings.Cut(line, "=")
			require.Truef(t, ok, "%s: %q is not key=value", path, line)
			unit[section][strings.TrimSpace(k)] = append(unit[section][strings.TrimSpace(k)], strings.TrimSpace(v))
		}
	}
	require.NoError(t, sc.Err())
	return unit
}

// envFile reads a systemd EnvironmentFile: KEY=VALUE lines, comments, and
// values optionally in double quotes.
func envFile(t *testing.T, path string, optional bool) []string {
	t.Helper()
	b, err := os.ReadFile(path)
	if optional && os.IsNotExist(err) {
		return nil
	}
	require.NoError(t, err)
	var env []string
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || strings.HasPrefix(line, "#") || strings.HasPrefix(line, ";") {
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		require.Truef(t, ok, "%s: %q is not KEY=VALUE", path, line)
		env = append(env, strings.TrimSpace(k)+"="+strings.Trim(strings.TrimSpace(v), `"`))
	}
	return env
}
