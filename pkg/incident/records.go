package incident

// The log records of events: the incident_webhook receiver emits every
// event it records as a log record of the resource RecordService, with
// these attributes, and readers of the evidence (the timeline) turn them
// back into events.
const (
	// RecordService is the service.name of the records' resource.
	RecordService = "otel-evidence"

	AttrEventName          = "event.name"
	AttrIncidentID         = "incident.id"
	AttrIncidentSource     = "incident.source"
	AttrIncidentChanged    = "incident.changed"
	AttrIncidentTitle      = "incident.title"
	AttrIncidentSeverity   = "incident.severity"
	AttrIncidentStatus     = "incident.status"
	AttrIncidentScope      = "incident.scope"
	AttrIncidentStartedAt  = "incident.started_at"
	AttrIncidentResolvedAt = "incident.resolved_at"
	AttrDeploymentID       = "deployment.id"
	AttrDeploymentName     = "deployment.name"
	AttrDeploymentEnv      = "deployment.environment.name"
	AttrDeploymentStatus   = "deployment.status"
	AttrDeploymentService  = "deployment.service.name"
	AttrDeploymentVersion  = "deployment.service.version"
	AttrVCSRevision        = "vcs.ref.head.revision"
	AttrNoteText           = "note.text"
	AttrNoteAuthor         = "note.author"
)
