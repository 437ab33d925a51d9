package triggers

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net/http"
	"testing"
)

// benchAlertmanagerBody builds a firing group of n alerts with varied
// labels and random fingerprints, half of them critical.
func benchAlertmanagerBody(b *testing.B, n int) []byte {
	rng := rand.New(rand.NewPCG(1, 2))
	p := amPayload{
		Version: "4", GroupKey: `{}:{alertname="HighErrorRate"}`, Status: "firing",
		CommonLabels:      map[string]string{"alertname": "HighErrorRate", "namespace": "shop"},
		CommonAnnotations: map[string]string{"summary": "Error rate above 5%"},
		ExternalURL:       "http://alertmanager.example.com:9093",
	}
	severities := []string{"critical", "warning"}
	for i := range n {
		p.Alerts = append(p.Alerts, amAlert{
			Status: "firing",
			Labels: map[string]string{
				"alertname": "HighErrorRate", "namespace": "shop",
				"service":  fmt.Sprintf("svc-%d", rng.IntN(20)),
				"instance": fmt.Sprintf("10.0.%d.%d:8080", rng.IntN(256), rng.IntN(256)),
				"pod":      fmt.Sprintf("svc-%x", rng.Uint64()),
				"severity": severities[i%2],
			},
			Annotations: map[string]string{"description": fmt.Sprintf("error ratio %.3f", rng.Float64())},
			StartsAt:    "2026-03-10T11:00:00Z",
			Fingerprint: fmt.Sprintf("%016x", rng.Uint64()),
		})
	}
	return mustJSON(b, p)
}

func BenchmarkParseAlertmanager(b *testing.B) {
	for _, n := range []int{1, 50} {
		body := benchAlertmanagerBody(b, n)
		pol := DefaultPolicy()
		b.Run(fmt.Sprintf("alerts=%d", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				if _, err := ParseAlertmanager(body, pol, testNow); err != nil {
					b.Fatal(err)
				}
			}
		})
		// Peer: decoding the same body into a generic value, the floor for
		// any parser built on encoding/json.
		b.Run(fmt.Sprintf("alerts=%d/json.Unmarshal", n), func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				var v map[string]any
				if err := json.Unmarshal(body, &v); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkVerifyPagerDuty(b *testing.B) {
	body := mustReadFixture(b, "pagerduty_triggered.json")
	h := http.Header{}
	h.Set(PagerDutySignatureHeader, pdSign("old", body)+","+pdSign("secret", body))
	secrets := []string{"other", "secret"}
	b.ReportAllocs()
	for b.Loop() {
		if err := VerifyPagerDuty(body, h, secrets); err != nil {
			b.Fatal(err)
		}
	}
}
