package incidentcontextprocessor

import (
	"time"

	"go.opentelemetry.io/collector/component"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi/incidentsapitest"
)

// newFakeRegistry returns an in-memory registry serving s (tests replace it
// with SetSnapshot).
func newFakeRegistry(s *incidentsapi.Snapshot) *incidentsapitest.Registry {
	r := incidentsapitest.NewRegistry("test", nil)
	r.SetSnapshot(s)
	return r
}

// newTestHost returns a host holding r as the extension "incidents".
func newTestHost(r component.Component) component.Host { return incidentsapitest.NewHost(r, nil) }

// Times used by the tests: deploys happen at t0, t0+10m, ... and telemetry
// is stamped after them.
var t0 = time.Date(2026, time.March, 2, 9, 0, 0, 0, time.UTC)

func at(minutes int) time.Time { return t0.Add(time.Duration(minutes) * time.Minute) }

// testDeploys: checkout rolled from 1.4.2 to 1.5.0 (a rolling deploy, both
// live); cart has deploys without a version; payment has one deploy with
// every field.
func testDeploys() []incident.Deploy {
	return []incident.Deploy{
		{ID: "d-checkout-142", Service: "checkout", Version: "1.4.2", Environment: "prod", Commit: "aaa111", Name: "checkout 1.4.2", StartedAt: at(0)},
		{ID: "d-checkout-150", Service: "checkout", Version: "1.5.0", Environment: "prod", Commit: "bbb222", Name: "checkout 1.5.0", StartedAt: at(10)},
		{ID: "d-cart-1", Service: "cart", StartedAt: at(0)},
		{ID: "d-cart-2", Service: "cart", Environment: "prod", StartedAt: at(20)},
		{ID: "d-payment-7", Service: "payment", Version: "7.0.0", Environment: "staging", Commit: "ccc333", Name: "payment 7", StartedAt: at(5)},
		{ID: "d-payment-7-again", Service: "payment", Version: "7.0.0", Environment: "staging", Commit: "ccc333", StartedAt: at(50)},
	}
}

// testIncidents: two open incidents on checkout (one only in prod), one on
// everything, opened in the order inc-b (everything), inc-a, inc-c; and a
// resolved one.
func testIncidents() []incident.Incident {
	resolved := at(3)
	return []incident.Incident{
		{ID: "inc-a", Status: incident.StatusOpen, StartedAt: at(30), Scope: []incident.Matcher{{Key: "service.name", Value: "checkout"}}},
		{ID: "inc-c", Status: incident.StatusOpen, StartedAt: at(40), Scope: []incident.Matcher{{Key: "service.name", Value: "checkout"}, {Key: "deployment.environment.name", Value: "prod"}}},
		{ID: "inc-b", Status: incident.StatusOpen, StartedAt: at(25)},
		{ID: "inc-old", Status: incident.StatusResolved, StartedAt: at(1), ResolvedAt: &resolved, Scope: []incident.Matcher{{Key: "service.name", Value: "checkout"}}},
	}
}

func testSnapshot() *incidentsapi.Snapshot {
	return incidentsapi.NewSnapshot(1, nil, testDeploys())
}
