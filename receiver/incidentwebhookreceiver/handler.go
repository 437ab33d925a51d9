package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"os"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
	"github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver/internal/triggers"
)

// Reasons of the receiver's own error responses; the payload errors use
// the triggers.Reason* words.
const (
	reasonNotFound             = "not_found"
	reasonMethodNotAllowed     = "method_not_allowed"
	reasonUnsupportedMediaType = "unsupported_media_type"
	reasonUnreadableBody       = "unreadable_body"
	reasonRequestTimeout       = "request_timeout"
	reasonUnauthorized         = "unauthorized"
	reasonInvalidPayload       = "invalid_payload"
	reasonRegistryFailed       = "registry_failed"
	reasonRegistrySlow         = "registry_slow"
	reasonPipelineFailed       = "pipeline_failed"
	reasonNotReady             = "not_ready"
	reasonUnknownIncident      = "unknown_incident"
)

// response is the JSON body of a successful request.
type response struct {
	// Opened lists the incidents this request opened or updated.
	Opened []string `json:"opened"`
	// Resolved lists the incidents this request resolved.
	Resolved []string `json:"resolved"`
	// Unchanged lists the incidents the request asked to open or resolve
	// whose state was already so (re-sent notifications).
	Unchanged []string `json:"unchanged"`
	// Deploys lists the deploys recorded.
	Deploys []string `json:"deploys"`
	// Notes lists the IDs of the notes recorded.
	Notes []string `json:"notes,omitempty"`
	// Events is the number of events recorded and emitted as log records.
	Events int `json:"events"`
	// TruncatedAlerts repeats the sender's truncatedAlerts count.
	TruncatedAlerts int `json:"truncated_alerts,omitempty"`
	// Duplicate is set when the request delivered an event already
	// recorded (a PagerDuty event.id, a Grafana signature) within its
	// replay window: nothing was recorded again.
	Duplicate bool `json:"duplicate,omitempty"`
}

// appliedEvent is an event recorded in the registry, with what it did.
type appliedEvent struct {
	ev incident.Event
	// changed is set for open and resolve requests: whether the registry
	// changed.
	changed *bool
	// resolvedAt is the resolution time of a resolve request.
	resolvedAt time.Time
}

// ServeHTTP routes, authenticates, parses and applies one request. A
// request refused with a 4xx status never reaches the registry.
func (r *incidentWebhookReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	start := time.Now()
	ctx := req.Context()
	ep, ok := r.routes[req.URL.Path]
	src := sourceUnknown
	if ok {
		src = ep.kind.source()
	}
	srcAttr := attribute.String("source", src)
	r.telemetry.ReceiverIncidentWebhookRequests.Add(ctx, 1, metric.WithAttributes(srcAttr))
	defer func() {
		r.telemetry.ReceiverIncidentWebhookRequestDuration.Record(ctx, time.Since(start).Seconds(), metric.WithAttributes(srcAttr))
	}()

	if !ok {
		r.refuse(w, src, &triggers.Error{Status: http.StatusNotFound, Reason: reasonNotFound,
			Msg: fmt.Sprintf("no endpoint at %q; the endpoints are %s", req.URL.Path, strings.Join(r.allowed, ", "))})
		return
	}
	if req.Method != http.MethodPost {
		w.Header().Set("Allow", http.MethodPost)
		r.refuse(w, src, &triggers.Error{Status: http.StatusMethodNotAllowed, Reason: reasonMethodNotAllowed,
			Msg: fmt.Sprintf("%s accepts only POST, got %s", ep.path, req.Method)})
		return
	}
	if ct := req.Header.Get("Content-Type"); !isJSON(ct) {
		r.refuse(w, src, &triggers.Error{Status: http.StatusUnsupportedMediaType, Reason: reasonUnsupportedMediaType,
			Field: "Content-Type", Msg: fmt.Sprintf("must be application/json, got %q", ct)})
		return
	}
	releaseSlot, lerr := r.limits.acquire()
	if lerr != nil {
		w.Header().Set("Retry-After", "1")
		r.refuse(w, src, lerr)
		return
	}
	defer releaseSlot()
	body, perr := r.readBody(w, req)
	// However long the body took (up to read_timeout), the answer gets a
	// whole write_timeout from now: a slow body gets its 408, and a
	// request gets its answer, instead of a closed connection. The server
	// sets the write deadline when the headers arrive, which with equal
	// read and write timeouts leaves no time to answer a slow body.
	answerBy := time.Time{}
	if wt := r.cfg.WriteTimeout; wt > 0 {
		answerBy = time.Now().Add(wt)
		if err := http.NewResponseController(w).SetWriteDeadline(answerBy); err != nil && !errors.Is(err, http.ErrNotSupported) {
			r.set.Logger.Debug("Could not extend the write deadline", zap.Error(err))
		}
	}
	if perr != nil {
		r.refuse(w, src, perr)
		return
	}
	clock := r.now()
	now := clock.UTC()
	res, err := r.parse(ep, body, req.Header, now)
	if err != nil {
		e, isTriggers := triggers.AsError(err)
		if !isTriggers {
			e = &triggers.Error{Status: http.StatusBadRequest, Reason: reasonInvalidPayload, Msg: err.Error()}
		}
		r.refuse(w, src, e)
		return
	}
	if lerr := r.limits.checkEvents(res.Cost()); lerr != nil {
		r.refuse(w, src, lerr)
		return
	}
	if r.registry == nil {
		// Only reachable when the handler is used before Start.
		r.fail(w, src, http.StatusServiceUnavailable, reasonNotReady, "the receiver has not started")
		return
	}
	if ep.kind == kindNote {
		if known, err := r.knownIncident(ctx, res.Events[0].IncidentID); err != nil {
			r.fail(w, src, http.StatusServiceUnavailable, reasonRegistryFailed,
				"could not check the incident in the evidence store (retrying is safe): "+err.Error())
			return
		} else if !known {
			r.refuse(w, src, &triggers.Error{Status: http.StatusNotFound, Reason: reasonUnknownIncident, Field: "incident_id",
				Msg: fmt.Sprintf("no incident %q in the registry or the evidence store; check the ID (evidencectl list)",
					res.Events[0].IncidentID)})
			return
		}
	}

	// Replays and redeliveries of an event already recorded change nothing.
	delivered, ierr := r.identify(ep, body, req.Header, now)
	if ierr != nil {
		r.refuse(w, src, ierr)
		return
	}
	if delivered == nil {
		delivered = retryIdentity(ep, body, now)
	}
	var holds func(replayKey) bool
	if delivered.guarded {
		snap := r.registry.Snapshot()
		holds = func(g replayKey) bool { return g == stateGuard(&res, snap) }
	}
	recorded := false
	switch r.replays.begin(delivered.key, now, holds) {
	case replayDuplicate:
		r.duplicate(ctx, w, src)
		return
	case replayInFlight:
		w.Header().Set("Retry-After", retryAfterSeconds(inProgressRetryAfter))
		if delivered.guarded {
			// A retry of a request still being recorded: if that one
			// fails, this retry must be retried, so a 5xx, which every
			// sender retries.
			r.fail(w, src, http.StatusServiceUnavailable, reasonEventInProgress,
				"the same request is being recorded now (a retry of a request whose answer did not arrive); retry later")
			return
		}
		r.refuse(w, src, &triggers.Error{Status: http.StatusConflict, Reason: reasonEventInProgress,
			Msg: "another request is recording the same event; retry later"})
		return
	}
	defer func() {
		if !recorded {
			r.replays.release(delivered.key)
			return
		}
		var guard replayKey
		if delivered.guarded {
			guard = stateGuard(&res, r.registry.Snapshot())
		}
		r.replays.commit(delivered.key, delivered.expires, now, guard)
	}()

	snap := r.registry.Snapshot()
	if ep.kind == kindAlertmanager || ep.kind == kindGrafana {
		res.JoinSLOIncidents(r.policy, openSLOIncident(snap), func(id string) bool {
			inc := snap.Incidents[id]
			return inc != nil && inc.IsOpen()
		})
	}
	b := classify(&res, snap)
	if wait, ok := r.limits.allow(b, res.Cost(), clock); !ok {
		w.Header().Set("Retry-After", retryAfterSeconds(wait))
		r.refuse(w, src, r.limits.rateLimited(b, res.Cost()))
		return
	}
	releaseOpens, oerr := r.limits.reserveOpens(&res, snap)
	if oerr != nil {
		w.Header().Set("Retry-After", retryAfterSeconds(openLimitRetryAfter))
		r.refuse(w, src, oerr)
		return
	}
	actx, cancel := r.registryContext(ctx, answerBy)
	resp, applied, regErr := r.apply(actx, res)
	cancel()
	releaseOpens()
	recorded = regErr == nil
	r.reportRegistry(regErr)
	consumeErr := r.emit(ctx, src, applied, now)

	switch {
	case regErr != nil && errors.Is(regErr, context.DeadlineExceeded) && ctx.Err() == nil:
		r.set.Logger.Error("Recording in the incidents registry took too long; answered before 'write_timeout'",
			zap.String("source", src), zap.Error(regErr))
		w.Header().Set("Retry-After", retryAfterSeconds(registrySlowRetryAfter))
		r.fail(w, src, http.StatusServiceUnavailable, reasonRegistrySlow,
			"the incidents registry did not record the request in time to answer before 'write_timeout' (retrying is safe): "+regErr.Error())
	case regErr != nil:
		r.set.Logger.Error("Recording in the incidents registry failed",
			zap.String("source", src), zap.Int("recorded_events", len(applied)), zap.Error(regErr))
		r.fail(w, src, http.StatusInternalServerError, reasonRegistryFailed,
			"recording in the incidents registry failed (retrying is safe): "+regErr.Error())
	case consumeErr != nil:
		r.set.Logger.Error("The logs pipeline refused the incident events",
			zap.String("source", src), zap.Int("events", len(applied)), zap.Error(consumeErr))
		r.fail(w, src, http.StatusServiceUnavailable, reasonPipelineFailed,
			"the registry recorded the request, but the logs pipeline refused its events (retrying is safe): "+consumeErr.Error())
	default:
		writeJSON(w, http.StatusOK, resp)
	}
}

// registrySlowRetryAfter is the Retry-After of registry_slow.
const registrySlowRetryAfter = 5 * time.Second

// registryContext bounds the registry's work on a request so that the
// answer leaves before answerBy (the write deadline): the registry gets
// half of what is left, the rest is for emitting and answering. A zero
// answerBy (write_timeout 0) sets no bound.
func (r *incidentWebhookReceiver) registryContext(ctx context.Context, answerBy time.Time) (context.Context, context.CancelFunc) {
	if answerBy.IsZero() {
		return context.WithCancel(ctx)
	}
	return context.WithTimeout(ctx, time.Until(answerBy)/2)
}

// isJSON accepts application/json, any +json type, and a missing
// Content-Type (some senders omit it).
func isJSON(ct string) bool {
	if strings.TrimSpace(ct) == "" {
		return true
	}
	mt, _, err := mime.ParseMediaType(ct)
	if err != nil {
		return false
	}
	return mt == "application/json" || (strings.HasPrefix(mt, "application/") && strings.HasSuffix(mt, "+json"))
}

// readBody reads the whole body, up to max_request_body_size.
func (r *incidentWebhookReceiver) readBody(w http.ResponseWriter, req *http.Request) ([]byte, *triggers.Error) {
	limit := r.cfg.MaxRequestBodySize
	if limit <= 0 || limit > triggers.MaxBodyBytes {
		limit = triggers.MaxBodyBytes
	}
	if req.ContentLength > limit {
		return nil, tooLarge(limit)
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, req.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, tooLarge(mbe.Limit)
		}
		if errors.Is(err, os.ErrDeadlineExceeded) {
			return nil, &triggers.Error{Status: http.StatusRequestTimeout, Reason: reasonRequestTimeout,
				Msg: fmt.Sprintf("the request did not arrive within 'read_timeout' (%s)", r.cfg.ReadTimeout)}
		}
		return nil, &triggers.Error{Status: http.StatusBadRequest, Reason: reasonUnreadableBody,
			Msg: "reading the request body failed: " + err.Error()}
	}
	return body, nil
}

func tooLarge(limit int64) *triggers.Error {
	return &triggers.Error{Status: http.StatusRequestEntityTooLarge, Reason: triggers.ReasonBodyTooLarge,
		Msg: fmt.Sprintf("the body is larger than %d bytes ('max_request_body_size')", limit)}
}

// parse verifies the signature, when the endpoint has a secret, and
// interprets the body.
func (r *incidentWebhookReceiver) parse(ep endpoint, body []byte, header http.Header, now time.Time) (triggers.Result, error) {
	switch ep.kind {
	case kindAlertmanager:
		return triggers.ParseAlertmanager(body, r.policy, now)
	case kindGrafana:
		if r.grafana.Secret != "" {
			if err := r.grafana.Verify(body, header, now); err != nil {
				return triggers.Result{}, err
			}
		}
		return triggers.ParseGrafana(body, r.policy, now)
	case kindPagerDuty:
		if len(r.pdSecrets) > 0 {
			if err := triggers.VerifyPagerDuty(body, header, r.pdSecrets); err != nil {
				return triggers.Result{}, err
			}
		}
		return triggers.ParsePagerDuty(body, now)
	case kindOpen:
		return triggers.ParseGenericOpen(body, now)
	case kindResolve:
		return triggers.ParseGenericResolve(body, now)
	case kindDeploy:
		return triggers.ParseDeploy(body, now)
	case kindNote:
		return triggers.ParseNote(body, now)
	}
	return triggers.Result{}, fmt.Errorf("endpoint %q has no parser", ep.path)
}

// apply records the result in the registry as one batch, in the order of
// the result: opens, resolutions, deploys, then the other events. A
// registry that records batches (the incidents extension) records all of
// it or nothing, with one write; another stops at the first failure, and
// apply returns what was recorded until then.
func (r *incidentWebhookReceiver) apply(ctx context.Context, res triggers.Result) (response, []appliedEvent, error) {
	resp := response{
		Opened: []string{}, Resolved: []string{}, Unchanged: []string{}, Deploys: []string{},
		TruncatedAlerts: res.TruncatedAlerts,
	}
	collectorID := r.registry.CollectorID()
	used := make([]bool, len(res.Events))
	// take returns the first unused event that matches, or a fallback.
	take := func(match func(*incident.Event) bool, fallback incident.Event) incident.Event {
		for i := range res.Events {
			if !used[i] && match(&res.Events[i]) {
				used[i] = true
				return res.Events[i]
			}
		}
		return fallback
	}
	stamp := func(ev incident.Event) incident.Event {
		if ev.CollectorID == "" {
			ev.CollectorID = collectorID
		}
		return ev
	}
	ops := make([]incidentsapi.Op, 0, len(res.Events)+len(res.Open)+len(res.Resolve)+len(res.Deploys))
	for i := range res.Open {
		inc := &res.Open[i]
		ev := stamp(take(func(e *incident.Event) bool {
			return e.Kind == incident.EventIncidentOpened && e.IncidentID == inc.ID
		}, incident.Event{Kind: incident.EventIncidentOpened, Time: inc.UpdatedAt, Source: inc.Source, IncidentID: inc.ID, Incident: inc}))
		ops = append(ops, incidentsapi.Op{Open: inc, Event: ev})
	}
	for _, rs := range res.Resolve {
		ev := stamp(take(func(e *incident.Event) bool {
			return e.Kind == incident.EventIncidentResolved && e.IncidentID == rs.ID
		}, incident.Event{Kind: incident.EventIncidentResolved, Time: rs.At, IncidentID: rs.ID}))
		ops = append(ops, incidentsapi.Op{Resolve: &incidentsapi.Resolve{ID: rs.ID, At: rs.At}, Event: ev})
	}
	for i := range res.Deploys {
		d := &res.Deploys[i]
		ev := stamp(take(func(e *incident.Event) bool {
			return e.Kind == incident.EventDeploy && e.DeployID == d.ID
		}, incident.Event{Kind: incident.EventDeploy, Time: d.StartedAt, Source: incident.SourceDeploy, DeployID: d.ID, Deploy: d}))
		ops = append(ops, incidentsapi.Op{Deploy: d, Event: ev})
	}
	for i := range res.Events {
		if !used[i] {
			ops = append(ops, incidentsapi.Op{Event: stamp(res.Events[i])})
		}
	}

	changed, err := incidentsapi.RecordBatch(ctx, r.registry, ops)
	applied := make([]appliedEvent, len(changed))
	for i := range changed {
		op := &ops[i]
		applied[i] = appliedEvent{ev: op.Event}
		switch {
		case op.Open != nil:
			applied[i].changed = &changed[i]
			if changed[i] {
				resp.Opened = append(resp.Opened, op.Open.ID)
			} else {
				resp.Unchanged = append(resp.Unchanged, op.Open.ID)
			}
		case op.Resolve != nil:
			applied[i].changed, applied[i].resolvedAt = &changed[i], op.Resolve.At
			if changed[i] {
				resp.Resolved = append(resp.Resolved, op.Resolve.ID)
			} else {
				resp.Unchanged = append(resp.Unchanged, op.Resolve.ID)
			}
		case op.Deploy != nil:
			resp.Deploys = append(resp.Deploys, op.Deploy.ID)
		case op.Event.Kind == incident.EventNote:
			resp.Notes = append(resp.Notes, incident.NoteID(&op.Event))
		}
	}
	resp.Events = len(applied)
	if err != nil {
		return resp, applied, recordError(&ops[len(changed)], err)
	}
	return resp, applied, nil
}

// recordError names the op whose recording failed.
func recordError(op *incidentsapi.Op, err error) error {
	switch {
	case op.Open != nil:
		return fmt.Errorf("opening incident %q: %w", op.Open.ID, err)
	case op.Resolve != nil:
		return fmt.Errorf("resolving incident %q: %w", op.Resolve.ID, err)
	case op.Deploy != nil:
		return fmt.Errorf("recording deploy %q: %w", op.Deploy.ID, err)
	}
	return fmt.Errorf("recording %s event: %w", op.Event.Kind, err)
}

// emit counts the recorded events and sends them into the logs pipeline.
func (r *incidentWebhookReceiver) emit(ctx context.Context, src string, applied []appliedEvent, now time.Time) error {
	if len(applied) == 0 {
		return nil
	}
	for _, a := range applied {
		r.telemetry.ReceiverIncidentWebhookEventsAccepted.Add(ctx, 1, metric.WithAttributes(
			attribute.String("source", src), attribute.String("event", string(a.ev.Kind))))
	}
	ld := r.toLogs(applied, now)
	obsCtx := r.obsrecv.StartLogsOp(ctx)
	err := r.next.ConsumeLogs(obsCtx, ld)
	r.obsrecv.EndLogsOp(obsCtx, src, len(applied), err)
	return err
}

// duplicate answers a redelivered or replayed event with 200 and no change:
// senders that deliver at least once (PagerDuty) must not see an error.
func (r *incidentWebhookReceiver) duplicate(ctx context.Context, w http.ResponseWriter, src string) {
	r.telemetry.ReceiverIncidentWebhookRequestsDuplicate.Add(ctx, 1, metric.WithAttributes(attribute.String("source", src)))
	r.set.Logger.Debug("Ignored an incident webhook event already recorded (a redelivery or a replay)",
		zap.String("source", src))
	writeJSON(w, http.StatusOK, response{
		Opened: []string{}, Resolved: []string{}, Unchanged: []string{}, Deploys: []string{}, Duplicate: true,
	})
}

// refuse answers a request that changed nothing with a 4xx status.
func (r *incidentWebhookReceiver) refuse(w http.ResponseWriter, src string, e *triggers.Error) {
	r.telemetry.ReceiverIncidentWebhookRequestsRefused.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("source", src), attribute.String("reason", e.Reason)))
	r.set.Logger.Debug("Refused an incident webhook request",
		zap.String("source", src), zap.Int("status", e.Status), zap.String("reason", e.Reason),
		zap.String("field", e.Field), zap.String("message", e.Msg))
	writeJSON(w, e.Status, e.Response())
}

// fail answers a request that could not be handled with a 5xx status.
func (r *incidentWebhookReceiver) fail(w http.ResponseWriter, src string, status int, reason, msg string) {
	r.telemetry.ReceiverIncidentWebhookRequestsFailed.Add(context.Background(), 1, metric.WithAttributes(
		attribute.String("source", src), attribute.String("reason", reason)))
	writeJSON(w, status, triggers.ErrorResponse{Error: reason, Message: msg})
}

// serverError answers the errors of the confighttp server layers (an
// authenticator refusing the request, an undecodable Content-Encoding)
// with the receiver's JSON error body.
func (r *incidentWebhookReceiver) serverError(w http.ResponseWriter, req *http.Request, msg string, status int) {
	src := sourceUnknown
	if ep, ok := r.routes[req.URL.Path]; ok {
		src = ep.kind.source()
	}
	r.telemetry.ReceiverIncidentWebhookRequests.Add(req.Context(), 1, metric.WithAttributes(attribute.String("source", src)))
	reason := reasonInvalidPayload
	field := ""
	switch status {
	case http.StatusUnauthorized:
		reason, field = reasonUnauthorized, "Authorization"
	case http.StatusRequestEntityTooLarge:
		reason = triggers.ReasonBodyTooLarge
	case http.StatusUnsupportedMediaType:
		reason, field = reasonUnsupportedMediaType, "Content-Encoding"
	}
	if status >= 500 {
		r.fail(w, src, status, reasonInvalidPayload, msg)
		return
	}
	r.refuse(w, src, &triggers.Error{Status: status, Reason: reason, Field: field, Msg: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil { // our own types: cannot happen
		b = []byte(`{"error":"internal"}`)
		status = http.StatusInternalServerError
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(status)
	_, _ = w.Write(append(b, '\n'))
}

// openSLOIncident finds, in snap, the open incident the slo connector opened
// for an SLO: the most recently started one when several groups of the SLO
// are open.
func openSLOIncident(snap *incidentsapi.Snapshot) triggers.FindSLOIncident {
	return func(slo string) *incident.Incident {
		var found *incident.Incident
		for _, inc := range snap.Open {
			if inc.Source == incident.SourceSLO && inc.Labels[incident.LabelSLO] == slo {
				found = inc
			}
		}
		return found
	}
}

// knownIncident reports whether incident id is in the registry, or has a
// record in the evidence store (an incident resolved long ago): notes are
// only taken for incidents that exist.
func (r *incidentWebhookReceiver) knownIncident(ctx context.Context, id string) (bool, error) {
	if _, ok := r.registry.Snapshot().Incidents[id]; ok {
		return true, nil
	}
	key, err := bundle.IncidentKey(id)
	st := r.registry.Store()
	if err != nil || st == nil {
		return false, nil
	}
	_, err = st.Stat(ctx, key)
	switch {
	case err == nil:
		return true, nil
	case errors.Is(err, store.ErrNotFound):
		return false, nil
	}
	return false, err
}
