package webui

import (
	"cmp"
	"net/http"
	"slices"
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/internal/otlptime"
	"github.com/otel-evidence/otel-evidence/internal/timeline"
)

// maxListedLogs bounds the records the logs page shows.
const maxListedLogs = 500

// Severity filters of the logs page, the timeline's buckets.
var severities = []string{"error", "warn", "info", "other"}

type logFilter struct {
	Severity, Service, Q, Trace string
}

type logRow struct {
	Time     time.Time
	Severity string
	// Level is the timeline's bucket: error, warn, info or other.
	Level   string
	Service string
	Body    string
	TraceID string
	SpanID  string
}

type logsPage struct {
	page
	Filter     logFilter
	Severities []string
	Services   []string
	Rows       []logRow
	// Matched counts the matching records, All every record.
	Matched, All int
}

func (s *Server) logsPage(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	if _, err := s.incident(r.Context(), id); err != nil {
		s.fail(w, r, err)
		return
	}
	q := r.URL.Query()
	f := logFilter{Severity: q.Get("severity"), Service: strings.TrimSpace(q.Get("service")),
		Q: strings.TrimSpace(q.Get("q")), Trace: strings.ToLower(strings.TrimSpace(q.Get("trace")))}
	p := logsPage{page: s.page(id+": logs", id, "logs"), Filter: f, Severities: severities}
	services := map[string]bool{}
	lowerQ := strings.ToLower(f.Q)
	err := s.scan(r.Context(), id, nil, func(ld plog.Logs) error {
		for _, rl := range ld.ResourceLogs().All() {
			svc := serviceOf(rl.Resource().Attributes())
			if svc == timeline.CollectorService {
				continue // the collector's own event records are on the summary's timeline
			}
			services[svc] = true
			for _, sl := range rl.ScopeLogs().All() {
				for _, lr := range sl.LogRecords().All() {
					p.All++
					if f.Service != "" && svc != f.Service {
						continue
					}
					level := timeline.SeverityBucket(lr.SeverityNumber(), lr.SeverityText())
					if f.Severity != "" && level != f.Severity {
						continue
					}
					tid := ""
					if !lr.TraceID().IsEmpty() {
						tid = traceIDString(lr.TraceID())
					}
					if f.Trace != "" && !strings.HasPrefix(tid, f.Trace) {
						continue
					}
					body := lr.Body().AsString()
					if lowerQ != "" && !strings.Contains(strings.ToLower(body), lowerQ) {
						continue
					}
					p.Matched++
					if len(p.Rows) >= maxListedLogs {
						continue
					}
					at := otlptime.LogRecord(lr)
					row := logRow{Time: at.AsTime(), Severity: lr.SeverityText(), Level: level, Service: svc, Body: body, TraceID: tid}
					if !lr.SpanID().IsEmpty() {
						row.SpanID = spanIDString(lr.SpanID())
					}
					if row.Severity == "" {
						row.Severity = lr.SeverityNumber().String()
					}
					p.Rows = append(p.Rows, row)
				}
			}
		}
		return nil
	})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	slices.SortStableFunc(p.Rows, func(a, b logRow) int { return cmp.Compare(a.Time.UnixNano(), b.Time.UnixNano()) })
	for svc := range services {
		p.Services = append(p.Services, svc)
	}
	slices.Sort(p.Services)
	s.render(w, http.StatusOK, "logs", p)
}
