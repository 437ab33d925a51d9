package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

import (
	"strings"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/metadata"
)

// The resource of the emitted log records.
const (
	serviceName = incident.RecordService

	attrServiceName       = "service.name"
	attrServiceInstanceID = "service.instance.id"
)

// toLogs renders the recorded events as one resource of log records.
func (r *incidentWebhookReceiver) toLogs(applied []appliedEvent, observed time.Time) plog.Logs {
	ld := plog.NewLogs()
	rl := ld.ResourceLogs().AppendEmpty()
	res := rl.Resource().Attributes()
	res.PutStr(attrServiceName, serviceName)
	if id := r.registry.CollectorID(); id != "" {
		res.PutStr(attrServiceInstanceID, id)
	}
	sl := rl.ScopeLogs().AppendEmpty()
	sl.Scope().SetName(metadata.ScopeName)
	sl.Scope().SetVersion(r.set.BuildInfo.Version)
	records := sl.LogRecords()
	records.EnsureCapacity(len(applied))
	for i := range applied {
		fillRecord(records.AppendEmpty(), &applied[i], observed)
	}
	return ld
}

func fillRecord(lr plog.LogRecord, a *appliedEvent, observed time.Time) {
	ev := &a.ev
	lr.SetEventName(string(ev.Kind))
	lr.SetTimestamp(pcommon.NewTimestampFromTime(ev.Time))
	lr.SetObservedTimestamp(pcommon.NewTimestampFromTime(observed))
	num, text := severity(ev)
	lr.SetSeverityNumber(num)
	lr.SetSeverityText(text)
	if len(ev.Payload) > 0 {
		lr.Body().SetStr(string(ev.Payload))
	}

	attrs := lr.Attributes()
	attrs.PutStr(incident.AttrEventName, string(ev.Kind))
	if ev.Source != "" {
		attrs.PutStr(incident.AttrIncidentSource, ev.Source)
	}
	if ev.IncidentID != "" {
		attrs.PutStr(incident.AttrIncidentID, ev.IncidentID)
	}
	if a.changed != nil {
		attrs.PutBool(incident.AttrIncidentChanged, *a.changed)
	}
	if !a.resolvedAt.IsZero() {
		attrs.PutStr(incident.AttrIncidentResolvedAt, a.resolvedAt.UTC().Format(time.RFC3339Nano))
	}
	if inc := ev.Incident; inc != nil {
		putNonEmpty(attrs, incident.AttrIncidentTitle, inc.Title)
		putNonEmpty(attrs, incident.AttrIncidentSeverity, inc.Severity)
		putNonEmpty(attrs, incident.AttrIncidentStatus, string(inc.Status))
		if len(inc.Scope) > 0 {
			parts := make([]string, len(inc.Scope))
			for i, m := range inc.Scope {
				parts[i] = m.String()
			}
			attrs.PutStr(incident.AttrIncidentScope, strings.Join(parts, ","))
		}
		if !inc.StartedAt.IsZero() {
			attrs.PutStr(incident.AttrIncidentStartedAt, inc.StartedAt.UTC().Format(time.RFC3339Nano))
		}
	}
	if ev.DeployID != "" {
		attrs.PutStr(incident.AttrDeploymentID, ev.DeployID)
	}
	if n := ev.Note; n != nil {
		attrs.PutStr(incident.AttrNoteText, n.Text)
		putNonEmpty(attrs, incident.AttrNoteAuthor, n.Author)
	}
	if d := ev.Deploy; d != nil {
		putNonEmpty(attrs, incident.AttrDeploymentName, d.Name)
		putNonEmpty(attrs, incident.AttrDeploymentEnv, d.Environment)
		putNonEmpty(attrs, incident.AttrDeploymentStatus, d.Status)
		putNonEmpty(attrs, incident.AttrDeploymentService, d.Service)
		putNonEmpty(attrs, incident.AttrDeploymentVersion, d.Version)
		putNonEmpty(attrs, incident.AttrVCSRevision, d.Commit)
	}
}

func putNonEmpty(m pcommon.Map, k, v string) {
	if v != "" {
		m.PutStr(k, v)
	}
}

// severity maps an event onto a log severity: opened incidents are WARN,
// or ERROR when their own severity says critical; the rest is INFO, or
// WARN for failed deploys and expired incidents. The text is the
// incident's own severity when it has one.
func severity(ev *incident.Event) (plog.SeverityNumber, string) {
	switch ev.Kind {
	case incident.EventIncidentOpened, incident.EventIncidentExtended:
		if ev.Incident != nil && ev.Incident.Severity != "" {
			return incidentSeverity(ev.Incident.Severity), ev.Incident.Severity
		}
		return plog.SeverityNumberWarn, "WARN"
	case incident.EventIncidentExpired:
		return plog.SeverityNumberWarn, "WARN"
	case incident.EventDeploy:
		if ev.Deploy != nil && ev.Deploy.Status == incident.DeployFailed {
			return plog.SeverityNumberWarn, "WARN"
		}
	}
	return plog.SeverityNumberInfo, "INFO"
}

// incidentSeverity maps the free-form severities of alerting tools.
func incidentSeverity(s string) plog.SeverityNumber {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "critical", "page", "high", "error", "fatal", "emergency",
		"p1", "p2", "sev1", "sev2", "sev-1", "sev-2":
		return plog.SeverityNumberError
	case "info", "informational", "low", "none", "p4", "p5":
		return plog.SeverityNumberInfo
	}
	return plog.SeverityNumberWarn
}
