package testgen

import (
	"fmt"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// RegistrySnapshot is a realistic registry: 20 services with 5 deploys each
// (every version the generators use, plus an unversioned hotfix), and 3 open incidents
// with scopes (one service, one region, one namespace) plus resolved ones.
func RegistrySnapshot() *incidentsapi.Snapshot {
	start := DefaultStart.Add(-72 * time.Hour)
	var deploys []incident.Deploy
	for s := range 20 {
		svc := fmt.Sprintf("svc-%02d", s)
		for v, version := range versions {
			deploys = append(deploys, incident.Deploy{
				ID:          fmt.Sprintf("deploy-%s-%d", svc, v),
				Service:     svc,
				Version:     version,
				Environment: "production",
				Commit:      fmt.Sprintf("%040x", s*100+v),
				Name:        svc + " " + version,
				StartedAt:   start.Add(time.Duration(s*10+v) * time.Hour),
				Status:      incident.DeploySucceeded,
			})
		}
		deploys = append(deploys, incident.Deploy{
			ID: fmt.Sprintf("deploy-%s-hotfix", svc), Service: svc, Environment: "production",
			StartedAt: start.Add(time.Duration(s*10+5) * time.Hour),
		})
	}
	resolvedAt := DefaultStart.Add(-time.Hour)
	incidents := []incident.Incident{
		{ID: "INC-1042", Status: incident.StatusOpen, StartedAt: DefaultStart.Add(-20 * time.Minute), Scope: []incident.Matcher{{Key: "service.name", Value: "svc-00"}}},
		{ID: "INC-1043", Status: incident.StatusOpen, StartedAt: DefaultStart.Add(-15 * time.Minute), Scope: []incident.Matcher{{Key: "cloud.region", Value: "eu-west-1"}}},
		{ID: "INC-1044", Status: incident.StatusOpen, StartedAt: DefaultStart.Add(-5 * time.Minute), Scope: []incident.Matcher{{Key: "service.namespace", Value: "shop"}, {Key: "telemetry.sdk.language", Value: "go"}}},
		{ID: "INC-0999", Status: incident.StatusResolved, StartedAt: resolvedAt.Add(-time.Hour), ResolvedAt: &resolvedAt},
		{ID: "INC-0998", Status: incident.StatusResolved, StartedAt: resolvedAt.Add(-2 * time.Hour), ResolvedAt: &resolvedAt, Scope: []incident.Matcher{{Key: "service.name", Value: "svc-03"}}},
	}
	return incidentsapi.NewSnapshot(42, incidents, deploys)
}
