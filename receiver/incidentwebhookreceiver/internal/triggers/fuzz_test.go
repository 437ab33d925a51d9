package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// seedFixtures adds every testdata fixture whose name starts with one of
// prefixes to the fuzzer's corpus.
func seedFixtures(f *testing.F, prefixes ...string) {
	f.Helper()
	paths, err := filepath.Glob(filepath.Join("testdata", "*.json"))
	if err != nil {
		f.Fatal(err)
	}
	for _, p := range paths {
		for _, prefix := range prefixes {
			if strings.HasPrefix(filepath.Base(p), prefix) {
				b, err := os.ReadFile(p)
				if err != nil {
					f.Fatal(err)
				}
				f.Add(b)
				break
			}
		}
	}
}

// checkParse is the property every parser keeps for any input: no panic;
// success yields only valid IDs and writable events; failure is a 4xx
// *Error.
func checkParse(t *testing.T, res Result, err error) {
	t.Helper()
	if err != nil {
		if cerr := checkError(err); cerr != nil {
			t.Fatal(cerr)
		}
		if len(res.Events) != 0 || len(res.Open) != 0 || len(res.Resolve) != 0 || len(res.Deploys) != 0 {
			t.Fatalf("error %v with a non-empty result", err)
		}
		return
	}
	if cerr := checkResult(res); cerr != nil {
		t.Fatal(cerr)
	}
}

func FuzzParseAlertmanager(f *testing.F) {
	seedFixtures(f, "alertmanager_")
	for _, s := range []string{
		`{"version":"4","groupKey":"g","status":"resolved","truncatedAlerts":2,"alerts":[{"status":"resolved","labels":{"incident_id":"INC-1"},"endsAt":"2026-03-10T11:00:00+14:00"}]}`,
		`{"version":"4","groupKey":"g","status":"firing","alerts":[{"status":"firing","labels":{"severity":"critical","service":"s"},"fingerprint":"f"},{"status":"firing","labels":{"slo":"x","incident_id":"I"},"fingerprint":"f"}]}`,
		`{"version":"4","groupKey":"g","status":"firing","commonLabels":{"job":"j"},"commonAnnotations":{"summary":"s"},"externalURL":"http://a","alerts":[{"status":"firing","labels":{"sloth_slo":"x"},"startsAt":"2026-03-10T11:00:00Z","generatorURL":"http://p"}]}`,
		`{"version":"4","groupKey":"g","status":"firing","alerts":[]}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseAlertmanager(body, nil, testNow)
		checkParse(t, res, err)
	})
}

func FuzzParseGrafana(f *testing.F) {
	seedFixtures(f, "grafana_")
	f.Add([]byte(`{"version":"1","orgId":-1,"groupKey":"{}:{}","status":"firing","alerts":[{"status":"firing","labels":{"severity":"page"},"dashboardURL":"https://g.example/d"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseGrafana(body, nil, testNow)
		checkParse(t, res, err)
	})
}

func FuzzParsePagerDuty(f *testing.F) {
	seedFixtures(f, "pagerduty_")
	f.Add([]byte(`{"event":{"id":"E","event_type":"incident.triggered","data":{"id":"../x","service":{"summary":"s"}}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParsePagerDuty(body, testNow)
		checkParse(t, res, err)
	})
}

func FuzzParseGeneric(f *testing.F) {
	seedFixtures(f, "generic_")
	f.Add([]byte(`{"id":"INC-1","scope":["a=b"],"links":["https://x.example",{"href":"http://y.example","text":"y"}]}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseGenericOpen(body, testNow)
		checkParse(t, res, err)
		res, err = ParseGenericResolve(body, testNow)
		checkParse(t, res, err)
	})
}

func FuzzParseDeploy(f *testing.F) {
	seedFixtures(f, "deploy")
	f.Add([]byte(`{"id":"d","service":"s","started_at":"2026-03-10T11:00:00-12:00","finished_at":"2026-03-10T11:00:00Z"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseDeploy(body, testNow)
		checkParse(t, res, err)
	})
}

func FuzzParseNote(f *testing.F) {
	f.Add([]byte(`{"incident_id":"INC-42","at":"2026-03-10T11:59:00Z","text":"paged the DB on-call","author":"alice"}`))
	f.Add([]byte(`{"incident_id":"INC-42","text":"line 1\nline 2\u001b[31m"}`))
	f.Add([]byte(`{"incident_id":"../x","text":"x","at":"9999-12-31T23:59:59Z"}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		res, err := ParseNote(body, testNow)
		checkParse(t, res, err)
		if err == nil && (len(res.Events) != 1 || res.Events[0].Time.After(testNow.Add(MaxNoteClockSkew))) {
			t.Fatalf("accepted %q as %+v", body, res.Events)
		}
	})
}

func FuzzVerifyPagerDuty(f *testing.F) {
	body := mustReadFixture(f, "pagerduty_triggered.json")
	f.Add(body, pdSign("secret", body), "secret")
	f.Add(body, pdSign("old", body)+","+pdSign("secret", body), "secret")
	f.Add(body, "v2=abc, v1=", "secret")
	f.Add([]byte{}, "", "")
	f.Fuzz(func(t *testing.T, body []byte, sigHeader, secret string) {
		h := http.Header{}
		h.Set(PagerDutySignatureHeader, sigHeader)
		err := VerifyPagerDuty(body, h, []string{secret})
		if err == nil {
			// Accepted: the header must hold the body's true signature.
			mac := hmac.New(sha256.New, []byte(secret))
			mac.Write(body)
			want := hex.EncodeToString(mac.Sum(nil))
			if secret == "" || !strings.Contains(strings.ToLower(sigHeader), "v1="+want) {
				t.Fatalf("accepted header %q for secret %q", sigHeader, secret)
			}
		} else {
			e, ok := AsError(err)
			if !ok || (e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden) {
				t.Fatalf("unexpected error %v", err)
			}
		}
		if secret != "" {
			// Appending the true signature always verifies, whatever else
			// the header holds.
			h.Set(PagerDutySignatureHeader, sigHeader+","+pdSign(secret, body))
			if err := VerifyPagerDuty(body, h, []string{"other", secret}); err != nil {
				t.Fatalf("valid signature refused: %v", err)
			}
		}
	})
}

func FuzzVerifyGrafanaSignature(f *testing.F) {
	body := mustReadFixture(f, "grafana_firing.json")
	f.Add(body, grafanaSign("secret", "", body), "", "secret")
	f.Add(body, grafanaSign("secret", "1773144000", body), "1773144000", "secret")
	f.Fuzz(func(t *testing.T, body []byte, sig, stamp, secret string) {
		h := http.Header{}
		h.Set(GrafanaSignatureHeader, sig)
		h.Set(GrafanaTimestampHeader, stamp)
		err := VerifyGrafanaSignature(body, h, secret)
		if err == nil {
			if secret == "" || !strings.EqualFold(strings.TrimSpace(sig), grafanaSign(secret, strings.TrimSpace(stamp), body)) {
				t.Fatalf("accepted signature %q for secret %q", sig, secret)
			}
			return
		}
		e, ok := AsError(err)
		if !ok || (e.Status != http.StatusUnauthorized && e.Status != http.StatusForbidden) {
			t.Fatalf("unexpected error %v", err)
		}
	})
}

func FuzzParseLabelRule(f *testing.F) {
	for _, s := range append([]string{`{severity="critical", team!="sandbox"}`, `q="a\"b,c"`, "a=~(x|y)"}, defaultRules...) {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r, err := ParseLabelRule(s)
		if err != nil {
			return
		}
		again, err := ParseLabelRule(r.String())
		if err != nil {
			t.Fatalf("String() of %q is %q, which does not parse: %v", s, r.String(), err)
		}
		if again.String() != r.String() {
			t.Fatalf("round trip changed %q into %q", r.String(), again.String())
		}
		r.Matches(map[string]string{"severity": "critical"})
	})
}

func mustReadFixture(f testing.TB, name string) []byte {
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		f.Fatal(err)
	}
	return b
}
