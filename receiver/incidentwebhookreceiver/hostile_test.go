package incidentwebhookreceiver

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/extension/extensiontest"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension"
	"github.com/otel-evidence/otel-evidence/internal/testutil/testfiles"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// hostileIDs are incident and deploy IDs that must never become object
// keys or file names.
var hostileIDs = map[string]string{
	"parent traversal":    "../../etc/passwd",
	"dot dot":             "..",
	"dot":                 ".",
	"slash":               "a/b",
	"absolute":            "/etc/passwd",
	"backslash":           `..\..\windows`,
	"drive":               "C:x",
	"nul":                 "inc\x00.json",
	"newline":             "inc\n42",
	"escape":              "inc\x1b[31m",
	"delete":              "inc\x7f",
	"unicode letters":     "inc-ünïcødé",
	"unicode slash":       "a\u2215b",
	"fullwidth dot":       "\uff0e\uff0e",
	"right-to-left":       "inc\u202e42",
	"zero width":          "inc\u200b42",
	"percent-encoded":     "%2e%2e%2fetc",
	"space":               "inc 42",
	"invalid UTF-8":       "inc\xff\xfe",
	"longer than the max": strings.Repeat("a", incident.MaxIDLength+1),
	"trailing slash":      "inc/",
	"query-like":          "inc?x=1",
}

// hostileRequests are the requests that carry a given ID, per endpoint.
func hostileRequests(id string) map[string][]byte {
	q, _ := json.Marshal(id)
	return map[string][]byte{
		"/v1/incidents":         fmt.Appendf(nil, `{"id":%s,"title":"x"}`, q),
		"/v1/incidents/resolve": fmt.Appendf(nil, `{"id":%s}`, q),
		"/v1/deploys":           fmt.Appendf(nil, `{"id":%s,"service":"checkout","version":"1"}`, q),
		"/v1/alertmanager": fmt.Appendf(nil, `{"version":"4","groupKey":"g","status":"firing",`+
			`"alerts":[{"status":"firing","labels":{"severity":"critical","incident_id":%s}}]}`, q),
	}
}

// TestHostileIDsAreRefused sends IDs with path separators, control
// characters and non-ASCII characters to every endpoint that takes a given
// ID: each gets 400 invalid_id naming the field, and nothing reaches the
// registry or the pipeline.
func TestHostileIDsAreRefused(t *testing.T) {
	for name, id := range hostileIDs {
		require.Error(t, incident.ValidateID(id), name)
		for path, body := range hostileRequests(id) {
			t.Run(name+path, func(t *testing.T) {
				env := newTestEnv(t, nil)
				e := decodeError(t, env.post(path, body), http.StatusBadRequest)
				assert.Equal(t, "invalid_id", e.Error)
				assert.True(t, strings.HasSuffix(e.Field, "id"), e.Field)
				assert.Empty(t, env.reg.Calls())
				assert.Zero(t, env.sink.LogRecordCount())
			})
		}
	}
}

// TestPagerDutyHostileIDsAreSanitized: PagerDuty's own incident IDs are
// not given by the user, so instead of refusing them the receiver derives
// a safe ID (sanitized, with a hash).
func TestPagerDutyHostileIDsAreSanitized(t *testing.T) {
	for name, raw := range hostileIDs {
		t.Run(name, func(t *testing.T) {
			env := newTestEnv(t, nil)
			q, _ := json.Marshal(raw)
			body := fmt.Appendf(nil, `{"event":{"id":"E1","event_type":"incident.triggered","occurred_at":%q,"data":{"id":%s,"type":"incident"}}}`,
				fixedNow.Format(time.RFC3339), q)
			resp := decodeOK(t, env.post("/v1/pagerduty", body))
			require.Len(t, resp.Opened, 1)
			id := resp.Opened[0]
			require.NoError(t, incident.ValidateID(id))
			assert.True(t, strings.HasPrefix(id, "pd-"), id)
			assert.NotContains(t, id, "..")
		})
	}
}

// TestHostileIDsWriteNothingToTheStore runs the receiver on the real
// incidents extension with a filesystem store: hostile IDs leave the
// store directory, and everything around it, exactly as they were.
func TestHostileIDsWriteNothingToTheStore(t *testing.T) {
	root := t.TempDir()
	storeDir := filepath.Join(root, "store")

	extFactory := incidentsextension.NewFactory()
	extCfg := extFactory.CreateDefaultConfig().(*incidentsextension.Config)
	extCfg.CollectorID = "collector-a"
	extCfg.Store.Backend = "filesystem"
	extCfg.Store.Filesystem.Directory = storeDir
	journalDir := t.TempDir()
	extCfg.Journal.Directory = journalDir
	extCfg.SyncInterval = time.Hour // no background writes during the test
	ext, err := extFactory.Create(t.Context(), extensiontest.NewNopSettings(extFactory.Type()), extCfg)
	require.NoError(t, err)
	host := newTestHost(ext, nil)
	require.NoError(t, ext.Start(t.Context(), host))
	t.Cleanup(func() { require.NoError(t, ext.Shutdown(context.Background())) })

	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	cfg.Limits.EventsPerSecond = 0
	_, _, base := startReceiver(t, cfg, host)

	// The extension writes its presence record and first snapshot at start
	// (through temporary files); wait until both are in place.
	settled := []string{"store/control/collectors/collector-a.json", "store/control/snapshots/collector-a.json"}
	require.EventuallyWithT(t, func(c *assert.CollectT) { assert.Equal(c, settled, testfiles.List(c, root)) },
		10*time.Second, 10*time.Millisecond)
	before := testfiles.List(t, root)
	journalBefore := testfiles.List(t, journalDir)
	for _, id := range hostileIDs {
		for path, body := range hostileRequests(id) {
			status, b := postStatus(t, base+path, body)
			require.Equal(t, http.StatusBadRequest, status, "%s %q: %s", path, id, b)
			require.Contains(t, string(b), `"error":"invalid_id"`)
		}
	}
	after := testfiles.List(t, root)
	assert.Equal(t, before, after, "hostile IDs changed the store")
	assert.Equal(t, journalBefore, testfiles.List(t, journalDir), "hostile IDs reached the local journal")

	// The check sees writes: a valid incident adds files (once the
	// extension has published it from its journal), inside the store and
	// under valid names only.
	status, b := postStatus(t, base+"/v1/incidents", []byte(`{"id":"INC-1"}`))
	require.Equal(t, http.StatusOK, status, string(b))
	var written []string
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		written = testfiles.List(c, root)
		assert.Contains(c, written, "store/incidents/INC-1/incident.json")
	}, 10*time.Second, 10*time.Millisecond)
	require.Greater(t, len(written), len(after))
	for _, f := range written {
		require.True(t, strings.HasPrefix(f, "store/"), f)
		for _, part := range strings.Split(strings.TrimPrefix(f, "store/"), "/") {
			require.NoError(t, incident.ValidateID(part), "file %q", f)
		}
	}
}

// postStatus posts a JSON body and returns the status and response body.
func postStatus(t *testing.T, url string, body []byte) (int, []byte) {
	t.Helper()
	status, _, b := postJSON(t, url, body, nil)
	return status, b
}

// TestSlowClientsAreDisconnected trickles a request one byte per 100 ms,
// in its headers (slowloris) and in its body: the server closes the
// connection after read_header_timeout or read_timeout, and serves a
// normal request in parallel meanwhile.
func TestSlowClientsAreDisconnected(t *testing.T) {
	const (
		headerTimeout = 300 * time.Millisecond
		readTimeout   = time.Second
	)
	tests := []struct {
		name    string
		head    string
		trickle byte
		timeout time.Duration
		// answer is what the server says before closing, if anything.
		answer string
		// writeTimeout, when set, replaces the default write_timeout.
		writeTimeout time.Duration
	}{
		{
			name: "headers", timeout: headerTimeout,
			head: "POST /v1/incidents HTTP/1.1\r\nHost: localhost\r\nX-Slow: ", trickle: 'a',
		},
		{
			name: "body", timeout: readTimeout, answer: "HTTP/1.1 408 Request Timeout",
			head: "POST /v1/incidents HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
				"Content-Length: 100000\r\n\r\n{\"id\":\"slow\",\"title\":\"", trickle: 'a',
		},
		{
			// As with the defaults (30s and 30s): the server's write
			// deadline, set when the headers arrived, passes with the read
			// deadline; the 408 must still be written.
			name: "body, write_timeout equal to read_timeout", timeout: readTimeout, writeTimeout: readTimeout,
			answer: "HTTP/1.1 408 Request Timeout",
			head: "POST /v1/incidents HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json\r\n" +
				"Content-Length: 100000\r\n\r\n{\"id\":\"slow\",\"title\":\"", trickle: 'a',
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			reg := newFakeRegistry()
			cfg := createDefaultConfig().(*Config)
			cfg.AllowUnauthenticated = true
			cfg.ReadHeaderTimeout = headerTimeout
			cfg.ReadTimeout = readTimeout
			if tt.writeTimeout > 0 {
				cfg.WriteTimeout = tt.writeTimeout
			}
			r, _, base := startReceiver(t, cfg, newTestHost(reg, nil))

			start := time.Now()
			conn, err := net.Dial("tcp", r.addr.String())
			require.NoError(t, err)
			defer func() { _ = conn.Close() }()
			_, err = io.WriteString(conn, tt.head)
			require.NoError(t, err)

			stop := make(chan struct{})
			trickled := make(chan int)
			go func() {
				n := 0
				defer func() { trickled <- n }()
				tick := time.NewTicker(100 * time.Millisecond)
				defer tick.Stop()
				for {
					select {
					case <-stop:
						return
					case <-tick.C:
						if _, err := conn.Write([]byte{tt.trickle}); err != nil {
							return
						}
						n++
					}
				}
			}()
			defer func() {
				close(stop)
				<-trickled
			}()

			// A normal request is served while the slow one trickles.
			status, body := postStatus(t, base+"/v1/deploys", deployBody("d-1"))
			require.Equal(t, http.StatusOK, status, string(body))

			require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
			got, err := io.ReadAll(conn)
			elapsed := time.Since(start)
			var ne net.Error
			require.False(t, errors.As(err, &ne) && ne.Timeout(), "the server did not close the slow connection: %v", err)
			assert.GreaterOrEqual(t, elapsed, tt.timeout)
			assert.Less(t, elapsed, 5*time.Second)
			t.Logf("disconnected after %s; answer %q", elapsed.Round(time.Millisecond), got)
			if tt.answer == "" {
				assert.Empty(t, got)
			} else {
				assert.True(t, strings.HasPrefix(string(got), tt.answer), "%q", got)
				assert.Contains(t, string(got), `{"error":"request_timeout","message":"the request did not arrive within 'read_timeout' (1s)"}`)
			}
			assert.Equal(t, []string{"deploy:d-1"}, reg.Calls())
		})
	}
}

// TestServerTimeoutsApplied checks that the defaults reach the HTTP server.
func TestServerTimeoutsApplied(t *testing.T) {
	cfg := createDefaultConfig().(*Config)
	cfg.AllowUnauthenticated = true
	r, _, _ := startReceiver(t, cfg, newTestHost(newFakeRegistry(), nil))
	assert.Equal(t, 10*time.Second, r.server.ReadHeaderTimeout)
	assert.Equal(t, 30*time.Second, r.server.ReadTimeout)
	assert.Equal(t, 30*time.Second, r.server.WriteTimeout)
	assert.Equal(t, time.Minute, r.server.IdleTimeout)
}
