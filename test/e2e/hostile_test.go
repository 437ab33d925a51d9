package e2e

import (
	"bufio"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/otel-evidence/otel-evidence/internal/testutil/testfiles"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/test/e2e/harness"
)

const hostilePDSecret = "e2e-pagerduty-secret"

// TestHostileWebhookInput attacks the real collector's incident_webhook
// receiver with slow clients, an oversized body, path-like IDs, replayed
// and stale signed PagerDuty events and a flood of incidents. Each attack is
// refused with a clear JSON error or rate limited, nothing is written for a
// refused request, the refusals are counted by reason, and the collector
// stays healthy and keeps serving normal requests throughout.
func TestHostileWebhookInput(t *testing.T) {
	p := harness.NewPorts(t)
	cfg := harness.Config(t, p, harness.Options{Override: map[string]any{
		"receivers": map[string]any{"incident_webhook": map[string]any{
			"read_header_timeout": "500ms",
			"read_timeout":        "2s",
			"pagerduty":           map[string]any{"secrets": []any{hostilePDSecret}, "max_age": "10m"},
			"limits": map[string]any{
				"events_per_second":      1,
				"burst":                  10,
				"max_events_per_request": 10,
				"max_open_incidents":     3,
			},
		}},
	}})
	c := harness.StartCollector(t, "", cfg, p.Health)
	url := p.WebhookURL
	post := func(path, body string) (int, string) {
		t.Helper()
		return harness.PostJSON(t, url(path), harness.Token, body)
	}
	storeDir := filepath.Join(c.Dir, "var", "evidence")

	t.Run("slow clients are disconnected", func(t *testing.T) {
		tests := []struct {
			name, head string
			timeout    time.Duration
			answer     string
		}{
			{name: "headers", timeout: 500 * time.Millisecond, head: "POST /v1/incidents HTTP/1.1\r\nHost: localhost\r\nX-Slow: "},
			{
				name: "body", timeout: 2 * time.Second, answer: "HTTP/1.1 408 Request Timeout",
				head: "POST /v1/incidents HTTP/1.1\r\nHost: localhost\r\nAuthorization: Bearer " + harness.Token +
					"\r\nContent-Type: application/json\r\nContent-Length: 100000\r\n\r\n{\"id\":\"slow\",\"title\":\"",
			},
		}
		for i, tt := range tests {
			t.Run(tt.name, func(t *testing.T) {
				start := time.Now()
				got, closed := trickle(t, p.Webhook, tt.head, func() {
					// A normal request is served while the slow one trickles.
					status, body := post("/v1/deploys", fmt.Sprintf(`{"id":"slow-%d","service":"checkout","version":"1.%d"}`, i, i))
					require.Equal(t, http.StatusOK, status, body)
				})
				elapsed := time.Since(start)
				require.True(t, closed, "the collector did not close the slow connection within 10s")
				assert.GreaterOrEqual(t, elapsed, tt.timeout)
				assert.Less(t, elapsed, tt.timeout+5*time.Second)
				if tt.answer == "" {
					assert.Empty(t, got)
				} else {
					assert.True(t, strings.HasPrefix(got, tt.answer), "%q", got)
					assert.Contains(t, got, `"error":"request_timeout"`)
				}
			})
		}
	})

	t.Run("oversized body", func(t *testing.T) {
		big := `{"id":"big","title":"` + strings.Repeat("x", 2<<20) + `"}`
		status, body := post("/v1/incidents", big)
		require.Equal(t, http.StatusRequestEntityTooLarge, status, body)
		e := decodeWebhookError(t, body)
		assert.Equal(t, "body_too_large", e.Error)
		assert.Contains(t, e.Message, "'max_request_body_size'")
		c.WaitHealthy(5 * time.Second)
	})

	t.Run("hostile IDs write nothing", func(t *testing.T) {
		before := storeFiles(t, storeDir)
		require.NotEmpty(t, before)
		ids := []string{
			"../../../etc/passwd", "..", ".", "a/b", "/etc/passwd", `..\..\windows`, "C:x",
			"inc\x00.json", "inc\n42", "inc\x1b[31m", "inc-ünïcødé", "a\u2215b", "\uff0e\uff0e",
			"inc\u202e42", "%2e%2e%2f", "inc 42", strings.Repeat("a", incident.MaxIDLength+1),
		}
		for _, id := range ids {
			q, err := json.Marshal(id)
			require.NoError(t, err)
			for path, body := range map[string]string{
				"/v1/incidents":         fmt.Sprintf(`{"id":%s,"title":"x"}`, q),
				"/v1/incidents/resolve": fmt.Sprintf(`{"id":%s}`, q),
				"/v1/deploys":           fmt.Sprintf(`{"id":%s,"service":"checkout"}`, q),
				"/v1/alertmanager": fmt.Sprintf(`{"version":"4","groupKey":"g","status":"firing",`+
					`"alerts":[{"status":"firing","labels":{"severity":"critical","incident_id":%s}}]}`, q),
			} {
				status, resp := post(path, body)
				require.Equal(t, http.StatusBadRequest, status, "%s %q: %s", path, id, resp)
				e := decodeWebhookError(t, resp)
				require.Equal(t, "invalid_id", e.Error, resp)
				require.True(t, strings.HasSuffix(e.Field, "id"), resp)
			}
		}
		assert.Equal(t, before, storeFiles(t, storeDir), "refused IDs changed the store")
		// Nothing was written outside the store either: every name in the
		// collector's directory is plain.
		require.NoError(t, filepath.WalkDir(c.Dir, func(path string, d fs.DirEntry, err error) error {
			if err != nil || path == c.Dir {
				return err
			}
			if err := incident.ValidateID(d.Name()); err != nil {
				return fmt.Errorf("unexpected file name %q: %w", path, err)
			}
			return nil
		}))
	})

	t.Run("replayed and stale PagerDuty events", func(t *testing.T) {
		now := time.Now().UTC()
		postPD := func(body string) (int, string) {
			t.Helper()
			return postPagerDuty(t, url("/v1/pagerduty"), body)
		}
		triggered := pdEvent("E1", "incident.triggered", "Q1", now)
		status, body := postPD(triggered)
		require.Equal(t, http.StatusOK, status, body)
		assert.JSONEq(t, `{"opened":["pd-Q1"],"resolved":[],"unchanged":[],"deploys":[],"events":1}`, body)

		// A redelivery (or a replay) changes nothing and is not an error.
		status, body = postPD(triggered)
		require.Equal(t, http.StatusOK, status, body)
		assert.JSONEq(t, `{"opened":[],"resolved":[],"unchanged":[],"deploys":[],"events":0,"duplicate":true}`, body)

		resolved := pdEvent("E2", "incident.resolved", "Q1", now.Add(time.Second))
		status, body = postPD(resolved)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"resolved":["pd-Q1"]`)
		status, body = postPD(pdEvent("E3", "incident.reopened", "Q1", now.Add(2*time.Second)))
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"opened":["pd-Q1"]`)

		// The old resolve, replayed, does not resolve the reopened incident:
		// resolving it through the generic API afterwards still changes it.
		status, body = postPD(resolved)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"duplicate":true`)
		require.Eventually(t, func() bool { return incidentStatus(t, c, "pd-Q1") == "open" },
			10*time.Second, 50*time.Millisecond, "pd-Q1 not open in the store")
		status, body = post("/v1/incidents/resolve", `{"id":"pd-Q1"}`)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"resolved":["pd-Q1"]`)

		// An event older than max_age is refused, although correctly signed.
		status, body = postPD(pdEvent("E0", "incident.resolved", "Q9", now.Add(-time.Hour)))
		require.Equal(t, http.StatusForbidden, status, body)
		e := decodeWebhookError(t, body)
		assert.Equal(t, "stale_event", e.Error)
		assert.Equal(t, "event.occurred_at", e.Field)
		// A tampered replay fails the signature check.
		req, err := http.NewRequest(http.MethodPost, url("/v1/pagerduty"), strings.NewReader(strings.Replace(triggered, "Q1", "Q2", 1)))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+harness.Token)
		req.Header.Set("X-PagerDuty-Signature", "v1="+pdSignature(triggered))
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		_ = resp.Body.Close()
		assert.Equal(t, http.StatusForbidden, resp.StatusCode)
	})

	t.Run("huge alert groups and retried deliveries", func(t *testing.T) {
		// 15,000 alerts in 874 KB, under max_request_body_size: refused whole
		// by the events cap, before anything is recorded.
		var b strings.Builder
		b.WriteString(`{"version":"4","groupKey":"huge","status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},"alerts":[`)
		for i := range 15000 {
			if i > 0 {
				b.WriteByte(',')
			}
			fmt.Fprintf(&b, `{"status":"firing","labels":{"alertname":"F","i":"%d"}}`, i)
		}
		b.WriteString(`]}`)
		status, body := post("/v1/alertmanager", b.String())
		require.Equal(t, http.StatusRequestEntityTooLarge, status, body)
		e := decodeWebhookError(t, body)
		assert.Equal(t, "too_many_events", e.Error)
		assert.Contains(t, e.Message, "carries 15000 events (alerts), more than 'limits.max_events_per_request' (10)")

		// A sender retrying a delivery whose answer it missed records
		// nothing twice.
		small := `{"version":"4","groupKey":"retried","status":"firing","receiver":"r","groupLabels":{},"commonLabels":{},` +
			`"alerts":[{"status":"firing","labels":{"alertname":"Retried","i":"1"}},{"status":"firing","labels":{"alertname":"Retried","i":"2"}}]}`
		status, body = post("/v1/alertmanager", small)
		require.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, body, `"events":2`)
		status, body = post("/v1/alertmanager", small)
		require.Equal(t, http.StatusOK, status, body)
		assert.Contains(t, body, `"duplicate":true`)
	})

	t.Run("flood of incidents", func(t *testing.T) {
		for _, id := range []string{"flood-a", "flood-b", "flood-c"} {
			status, body := post("/v1/incidents", fmt.Sprintf(`{"id":%q,"title":"flood"}`, id))
			require.Equal(t, http.StatusOK, status, body)
		}
		req, err := http.NewRequest(http.MethodPost, url("/v1/incidents"), strings.NewReader(`{"id":"flood-d","title":"flood"}`))
		require.NoError(t, err)
		req.Header.Set("Authorization", "Bearer "+harness.Token)
		resp, err := http.DefaultClient.Do(req)
		require.NoError(t, err)
		b, err := io.ReadAll(resp.Body)
		require.NoError(t, err)
		_ = resp.Body.Close()
		require.Equal(t, http.StatusTooManyRequests, resp.StatusCode, string(b))
		assert.Equal(t, "60", resp.Header.Get("Retry-After"))
		e := decodeWebhookError(t, string(b))
		assert.Equal(t, "too_many_open_incidents", e.Error)
		assert.Contains(t, e.Message, "'limits.max_open_incidents' (3)")

		// Keep flooding: the request budget runs out (1/s, burst 10).
		rateLimited := false
		for i := 0; i < 60 && !rateLimited; i++ {
			status, body := post("/v1/incidents", fmt.Sprintf(`{"id":"flood-%d"}`, i))
			require.Equal(t, http.StatusTooManyRequests, status, body)
			rateLimited = decodeWebhookError(t, body).Error == "rate_limited"
		}
		require.True(t, rateLimited, "60 requests in a burst were never rate limited")

		// Resolutions of open incidents and deploys are not starved.
		status, body := post("/v1/incidents/resolve", `{"id":"flood-a"}`)
		require.Equal(t, http.StatusOK, status, body)
		require.Contains(t, body, `"resolved":["flood-a"]`)
		status, body = post("/v1/deploys", `{"id":"after-flood","service":"checkout","version":"2.0"}`)
		require.Equal(t, http.StatusOK, status, body)
	})

	t.Run("refusals are counted by reason", func(t *testing.T) {
		refused := webhookRefusals(t, p.Metrics)
		for _, reason := range []string{"request_timeout", "body_too_large", "invalid_id", "stale_event", "bad_signature",
			"too_many_open_incidents", "rate_limited", "too_many_events"} {
			assert.Positive(t, refused[reason], "reason %s: %v", reason, refused)
		}
		assert.Equal(t, int64(4*17), refused["invalid_id"])
		assert.Equal(t, int64(1), refused["stale_event"])
	})

	c.WaitHealthy(5 * time.Second)
	require.False(t, c.Exited())
	assert.NotContains(t, c.Output(), "panic")
}

// trickle opens a connection to addr, writes head, then one more byte
// every 100 ms, and runs during while it does. It returns what the server
// sent and whether it closed the connection within 10 s.
func trickle(t *testing.T, addr, head string, during func()) (string, bool) {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	require.NoError(t, err)
	defer func() { _ = conn.Close() }()
	_, err = io.WriteString(conn, head)
	require.NoError(t, err)

	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		tick := time.NewTicker(100 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				if _, err := conn.Write([]byte{'a'}); err != nil {
					return
				}
			}
		}
	}()
	defer func() {
		close(stop)
		<-done
	}()

	during()
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	got, err := io.ReadAll(conn)
	var ne net.Error
	return string(got), !errors.As(err, &ne) || !ne.Timeout()
}

// webhookError is the receiver's JSON error body.
type webhookError struct {
	Error   string `json:"error"`
	Field   string `json:"field"`
	Message string `json:"message"`
}

func decodeWebhookError(t *testing.T, body string) webhookError {
	t.Helper()
	var e webhookError
	require.NoError(t, json.Unmarshal([]byte(body), &e), body)
	require.NotEmpty(t, e.Error, body)
	require.NotEmpty(t, e.Message, body)
	return e
}

// storeFiles lists the files of the filesystem store, without the
// temporary files of writes in progress.
func storeFiles(t *testing.T, dir string) []string {
	t.Helper()
	out := slices.DeleteFunc(testfiles.List(t, dir), func(rel string) bool {
		return strings.HasPrefix(path.Base(rel), ".evidence-tmp-")
	})
	slices.Sort(out)
	return out
}

// pdEvent is a PagerDuty v3 webhook body.
func pdEvent(eventID, eventType, pdID string, occurred time.Time) string {
	return fmt.Sprintf(`{"event":{"id":%q,"event_type":%q,"resource_type":"incident","occurred_at":%q,`+
		`"data":{"id":%q,"type":"incident","title":"Checkout error rate above 5%%","urgency":"high","service":{"summary":"checkout"}}}}`,
		eventID, eventType, occurred.Format(time.RFC3339Nano), pdID)
}

func pdSignature(body string) string {
	m := hmac.New(sha256.New, []byte(hostilePDSecret))
	m.Write([]byte(body))
	return hex.EncodeToString(m.Sum(nil))
}

// postPagerDuty posts a signed PagerDuty webhook.
func postPagerDuty(t *testing.T, url, body string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, strings.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+harness.Token)
	req.Header.Set("X-PagerDuty-Signature", "v1="+pdSignature(body))
	resp, err := (&http.Client{Timeout: 10 * time.Second}).Do(req)
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp.StatusCode, string(b)
}

// refusedLine matches the refusal counter, with or without the _total
// suffix the Prometheus exporter may add.
var refusedLine = regexp.MustCompile(`^otelcol_receiver_incident_webhook_requests_refused(?:_total)?\{(.*)\} (\S+)$`)
var reasonLabel = regexp.MustCompile(`(?:^|,)reason="([^"]*)"`)

// webhookRefusals sums the receiver's refusals by reason from the
// collector's Prometheus endpoint.
func webhookRefusals(t *testing.T, addr string) map[string]int64 {
	t.Helper()
	resp, err := (&http.Client{Timeout: 5 * time.Second}).Get("http://" + addr + "/metrics")
	require.NoError(t, err)
	defer func() { _ = resp.Body.Close() }()
	out := map[string]int64{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 0, 64<<10), 1<<20)
	for sc.Scan() {
		m := refusedLine.FindStringSubmatch(sc.Text())
		if m == nil {
			continue
		}
		r := reasonLabel.FindStringSubmatch(m[1])
		v, err := strconv.ParseFloat(m[2], 64)
		if r == nil || err != nil {
			continue
		}
		out[r[1]] += int64(v)
	}
	require.NoError(t, sc.Err())
	return out
}
