package testrig

import (
	"archive/tar"
	"context"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/klauspost/compress/zstd"
	"github.com/stretchr/testify/require"
	"google.golang.org/protobuf/encoding/protowire"
)

// The ports of deploy/config.yaml, the configuration the image and the
// packages ship.
const (
	HealthURL  = "http://127.0.0.1:13133/"
	MetricsURL = "http://127.0.0.1:8888/metrics"
	WebhookURL = "http://127.0.0.1:8088"
	OTLPGRPC   = "127.0.0.1:4317"
)

// Traffic is what Exercise sends with telemetrygen: spans (telemetrygen
// makes two per trace), log records and metric data points.
const (
	traces     = 50
	logRecords = 40
	dataPoints = 30
)

// Part is what a frozen part holds, from its part.json.
type Part struct {
	CollectorID string `json:"collector_id"`
	IncidentID  string `json:"incident_id"`
	Counts      struct {
		Spans      int64 `json:"spans"`
		LogRecords int64 `json:"log_records"`
		DataPoints int64 `json:"data_points"`
	} `json:"counts"`
	Files map[string]struct {
		Size   int64  `json:"size"`
		SHA256 string `json:"sha256"`
	} `json:"files"`
	// LogScopes counts the log records of the part's logs file by
	// instrumentation scope name; it is read from the data, not from
	// part.json.
	LogScopes map[string]int64 `json:"-"`
}

// webhookScope is the scope of the log records the incident_webhook
// receiver writes for the incidents and deploys it takes.
const webhookScope = "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

// logsFile holds the log records of a part in the otlp_proto encoding,
// which deploy/config.yaml keeps (the exporter's default): a sequence of
// ExportLogsServiceRequest protobufs, each after its 4-byte big-endian
// length.
const logsFile = "logs.binpb"

// Exercise drives a collector running deploy/config.yaml in namespace ns:
// it waits until health_check answers (failing fast when alive reports the
// collector gone), sends traces, logs and metrics with telemetrygen, checks
// that the webhook refuses a request without the token, opens an incident
// with it, and waits for the incident's first part to appear under
// evidenceDir (the host path of /var/lib/otelcol-evidence/evidence). It
// verifies the part's files against part.json and that it holds all the
// traffic, and returns the part's part.json.
func Exercise(t testing.TB, ns Netns, alive func() error, token, evidenceDir string) Part {
	t.Helper()
	waitFor(t, 90*time.Second, alive, "health_check to answer 200 at "+HealthURL, func() bool {
		code, _, err := ns.Get(HealthURL)
		return err == nil && code == http.StatusOK
	})

	tg := Tool(t, "telemetrygen")
	for _, args := range [][]string{
		{"traces", "--traces", strconv.Itoa(traces)},
		{"logs", "--logs", strconv.Itoa(logRecords)},
		{"metrics", "--metrics", strconv.Itoa(dataPoints)},
	} {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		full := append(append([]string{}, args...), "--otlp-endpoint", OTLPGRPC, "--otlp-insecure", "--rate", "0")
		out, err := ns.Command(ctx, tg, full...).CombinedOutput()
		cancel()
		require.NoErrorf(t, err, "telemetrygen %s:\n%s", strings.Join(full, " "), out)
	}
	// The ring holds the traffic before the incident opens, so that the
	// part covering the past has all of it.
	waitFor(t, 30*time.Second, alive, "the ring to hold every item sent", func() bool {
		_, body, err := ns.Get(MetricsURL)
		return err == nil &&
			sumMetric(body, "otelcol_exporter_evidence_buffer_items", `signal="traces"`) >= 2*traces &&
			sumMetric(body, "otelcol_exporter_evidence_buffer_items", `signal="logs"`) >= logRecords &&
			sumMetric(body, "otelcol_exporter_evidence_buffer_items", `signal="metrics"`) >= dataPoints
	})

	body := `{"id":"INC-deploy-1","title":"deploy artifact test","severity":"critical"}`
	code, resp := ns.PostJSON(t, WebhookURL+"/v1/incidents", "", body)
	require.Equalf(t, http.StatusUnauthorized, code, "webhook without a token: %s", resp)
	code, resp = ns.PostJSON(t, WebhookURL+"/v1/incidents", token, body)
	require.Equalf(t, http.StatusOK, code, "opening an incident: %s", resp)

	var part Part
	waitFor(t, 60*time.Second, alive, "part-000001 of INC-deploy-1 under "+evidenceDir, func() bool {
		matches, _ := filepath.Glob(filepath.Join(evidenceDir, "incidents", "INC-deploy-1", "collectors", "*", "part-000001.tar.zst"))
		if len(matches) != 1 {
			return false
		}
		p, err := ReadPart(matches[0])
		if err != nil {
			t.Logf("reading %s: %v", matches[0], err)
			return false
		}
		part = p
		return true
	})
	require.Equal(t, "INC-deploy-1", part.IncidentID)
	require.EqualValues(t, 2*traces, part.Counts.Spans, "spans in the part covering the past")
	// The webhook's own record of the opening goes through the batch
	// processor (200 ms) and lands in part 1 only if the freeze comes
	// later: count telemetrygen's records apart from it.
	var own, sent int64
	for scope, n := range part.LogScopes {
		if scope == webhookScope {
			own += n
		} else {
			sent += n
		}
	}
	require.EqualValues(t, logRecords, sent, "telemetrygen's log records in the part covering the past (by scope: %v)", part.LogScopes)
	require.LessOrEqual(t, own, int64(1), "the webhook's records of INC-deploy-1 in part 1")
	require.Equal(t, part.Counts.LogRecords, own+sent, "part.json counts the log records %s holds", logsFile)
	require.EqualValues(t, dataPoints, part.Counts.DataPoints, "data points in the part covering the past")
	return part
}

// ReadPart reads a part (a zstd-compressed tar), checks every file against
// the sha256 and size part.json gives, and returns part.json.
func ReadPart(path string) (Part, error) {
	f, err := os.Open(path)
	if err != nil {
		return Part{}, err
	}
	defer func() { _ = f.Close() }()
	zr, err := zstd.NewReader(f)
	if err != nil {
		return Part{}, err
	}
	defer zr.Close()
	sums := map[string]string{}
	var part Part
	var scopes map[string]int64
	var partJSON []byte
	tr := tar.NewReader(zr)
	for {
		h, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return Part{}, err
		}
		b, err := io.ReadAll(io.LimitReader(tr, 1<<30))
		if err != nil {
			return Part{}, err
		}
		if h.Name == "part.json" {
			partJSON = b
			continue
		}
		if h.Name == logsFile {
			if scopes, err = logScopes(b); err != nil {
				return Part{}, fmt.Errorf("%s: %w", h.Name, err)
			}
		}
		s := sha256.Sum256(b)
		sums[h.Name] = hex.EncodeToString(s[:])
	}
	if partJSON == nil {
		return Part{}, errors.New("no part.json in the part")
	}
	if err := json.Unmarshal(partJSON, &part); err != nil {
		return Part{}, fmt.Errorf("part.json: %w", err)
	}
	part.LogScopes = scopes
	for name, fi := range part.Files {
		if sums[name] != fi.SHA256 {
			return Part{}, fmt.Errorf("%s: sha256 %s, part.json says %s", name, sums[name], fi.SHA256)
		}
	}
	return part, nil
}

// logScopes counts the log records of an otlp_proto logs file by scope
// name.
func logScopes(data []byte) (map[string]int64, error) {
	out := map[string]int64{}
	for len(data) > 0 {
		if len(data) < 4 {
			return nil, errors.New("torn record length")
		}
		n := int(binary.BigEndian.Uint32(data))
		if len(data)-4 < n {
			return nil, errors.New("torn record")
		}
		req := data[4 : 4+n]
		data = data[4+n:]
		// ExportLogsServiceRequest.resource_logs = 1,
		// ResourceLogs.scope_logs = 2, ScopeLogs.scope = 1 and
		// log_records = 2, InstrumentationScope.name = 1.
		err := protoFields(req, func(num protowire.Number, rl []byte) error {
			if num != 1 {
				return nil
			}
			return protoFields(rl, func(num protowire.Number, sl []byte) error {
				if num != 2 {
					return nil
				}
				var name string
				var records int64
				err := protoFields(sl, func(num protowire.Number, b []byte) error {
					switch num {
					case 1:
						return protoFields(b, func(num protowire.Number, v []byte) error {
							if num == 1 {
								name = string(v)
							}
							return nil
						})
					case 2:
						records++
					}
					return nil
				})
				out[name] += records
				return err
			})
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// protoFields calls f with the number and bytes of every length-delimited
// field of msg, skipping the others.
func protoFields(msg []byte, f func(protowire.Number, []byte) error) error {
	for len(msg) > 0 {
		num, typ, n := protowire.ConsumeTag(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if typ != protowire.BytesType {
			n = protowire.ConsumeFieldValue(num, typ, msg)
			if n < 0 {
				return protowire.ParseError(n)
			}
			msg = msg[n:]
			continue
		}
		v, n := protowire.ConsumeBytes(msg)
		if n < 0 {
			return protowire.ParseError(n)
		}
		msg = msg[n:]
		if err := f(num, v); err != nil {
			return err
		}
	}
	return nil
}

// waitFor polls cond until it holds, failing the test after timeout or as
// soon as alive reports an error (the collector exited).
func waitFor(t testing.TB, timeout time.Duration, alive func() error, what string, cond func() bool) {
	t.Helper()
	deadline := time.After(timeout)
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		if err := alive(); err != nil {
			t.Fatalf("waiting for %s: the collector is gone: %v", what, err)
		}
		select {
		case <-deadline:
			t.Fatalf("waiting for %s: not within %s", what, timeout)
		case <-tick.C:
		}
	}
}

// sumMetric adds up the samples of a metric in Prometheus text whose
// labels contain every one of labels.
func sumMetric(text, name string, labels ...string) float64 {
	re := regexp.MustCompile(`(?m)^` + regexp.QuoteMeta(name) + `(\{[^}]*\})?\s+(\S+)`)
	var sum float64
	for _, m := range re.FindAllStringSubmatch(text, -1) {
		ok := true
		for _, l := range labels {
			ok = ok && strings.Contains(m[1], l)
		}
		if v, err := strconv.ParseFloat(m[2], 64); ok && err == nil {
			sum += v
		}
	}
	return sum
}
