//go:generate go tool -modfile=../../internal/tools/go.mod mdatagen metadata.yaml

// Package incidentwebhookreceiver implements the incident_webhook receiver:
// HTTP endpoints that take incident triggers, SLO breach alerts and deploy
// events from Prometheus Alertmanager, Grafana alerting, PagerDuty, a
// generic JSON API and CI/CD pipelines. Each accepted request is parsed and
// authenticated by internal/triggers, recorded in the incidents extension's
// registry, and every resulting event is emitted as a log record into the
// logs pipeline, so that the events themselves become evidence.
package incidentwebhookreceiver // import "github.com/otel-evidence/otel-evidence/receiver/incidentwebhookreceiver"
