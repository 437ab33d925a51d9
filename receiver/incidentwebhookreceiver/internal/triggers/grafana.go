package triggers

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// GrafanaVersion is the only Grafana alerting webhook payload version
// accepted.
const GrafanaVersion = "1"

var grafanaFlavor = groupFlavor{
	source:   incident.SourceGrafana,
	version:  GrafanaVersion,
	idPrefix: "gf-",
	// Every Grafana organization has its own Alertmanager, so the same group
	// key in two organizations is two different groups.
	hashKey:  func(p *groupPayload) string { return strconv.FormatInt(p.OrgID, 10) + "\n" + p.GroupKey },
	linkText: "Grafana",
}

// ParseGrafana interprets a Grafana (unified) alerting webhook: the
// Alertmanager-shaped body with version "1", orgId, state, title and
// message. The rules are those of ParseAlertmanager with the "gf-" prefix;
// the derived ID hashes orgId and groupKey together. Links also include the
// alerts' dashboardURL and panelURL, and the notification title is a last
// resort for the incident title.
func ParseGrafana(body []byte, pol *Policy, now time.Time) (Result, error) {
	return parseGroup(body, pol, now, grafanaFlavor)
}

// Grafana's HMAC headers. The signature header is Grafana's default; the
// timestamp header has no default in Grafana (it is whatever the contact
// point names) and this is the name its documentation uses.
const (
	GrafanaSignatureHeader = "X-Grafana-Alerting-Signature"
	GrafanaTimestampHeader = "X-Grafana-Alerting-Signature-Timestamp"
	// grafanaLegacySignatureHeader is the default in some releases of
	// Grafana's alerting library; it is read when GrafanaSignatureHeader is
	// absent and no header name is configured.
	grafanaLegacySignatureHeader = "X-Grafana-Alert-Signature"
)

// VerifyGrafanaSignature checks Grafana's webhook HMAC with the default
// header names: X-Grafana-Alerting-Signature holds the hex HMAC-SHA256 of
// the body, or of timestamp + ":" + body when the
// X-Grafana-Alerting-Signature-Timestamp header is present (the legacy
// X-Grafana-Alert-Signature header is read when the first is absent). A
// missing signature is 401 missing_signature, a wrong one 403
// bad_signature. Use GrafanaVerifier for other header names or replay
// protection.
func VerifyGrafanaSignature(body []byte, header http.Header, secret string) error {
	return GrafanaVerifier{Secret: secret}.Verify(body, header, time.Time{})
}

// GrafanaVerifier checks Grafana webhook signatures with configurable
// header names and optional replay protection.
type GrafanaVerifier struct {
	// Secret is the contact point's HMAC secret. Empty never verifies.
	Secret string
	// Header carries the signature; empty means GrafanaSignatureHeader
	// (or, when that is absent, X-Grafana-Alert-Signature).
	Header string
	// TimestampHeader carries the Unix timestamp; empty means
	// GrafanaTimestampHeader.
	TimestampHeader string
	// MaxAge, when positive, requires the timestamp header and refuses
	// requests whose timestamp is further than MaxAge from now.
	MaxAge time.Duration
}

// Verify checks the request's signature; now is used only with MaxAge.
func (v GrafanaVerifier) Verify(body []byte, header http.Header, now time.Time) error {
	sigHeader := firstNonEmpty(v.Header, GrafanaSignatureHeader)
	tsHeader := firstNonEmpty(v.TimestampHeader, GrafanaTimestampHeader)
	sig := strings.TrimSpace(header.Get(sigHeader))
	if sig == "" && v.Header == "" {
		sig = strings.TrimSpace(header.Get(grafanaLegacySignatureHeader))
	}
	if sig == "" {
		return newError(http.StatusUnauthorized, ReasonMissingSignature, sigHeader, "the request is not signed")
	}
	ts := strings.TrimSpace(header.Get(tsHeader))
	if ts == "" && v.MaxAge > 0 {
		return newError(http.StatusUnauthorized, ReasonMissingSignature, tsHeader, "the signature timestamp is required")
	}
	if v.Secret == "" {
		return newError(http.StatusForbidden, ReasonBadSignature, sigHeader, "no secret is configured to verify the signature")
	}
	got, err := hex.DecodeString(sig)
	if err != nil || len(got) != sha256.Size {
		return newError(http.StatusForbidden, ReasonBadSignature, sigHeader, "the signature is not a hex HMAC-SHA256")
	}
	mac := hmac.New(sha256.New, []byte(v.Secret))
	if ts != "" {
		mac.Write([]byte(ts))
		mac.Write([]byte(":"))
	}
	mac.Write(body)
	if !hmac.Equal(got, mac.Sum(nil)) {
		return newError(http.StatusForbidden, ReasonBadSignature, sigHeader, "the signature does not match the body")
	}
	if v.MaxAge > 0 {
		secs, err := strconv.ParseInt(ts, 10, 64)
		if err != nil {
			return newError(http.StatusForbidden, ReasonBadSignature, tsHeader, "the timestamp is not Unix seconds")
		}
		if age := clock(now).Sub(time.Unix(secs, 0)); age > v.MaxAge || age < -v.MaxAge {
			return newError(http.StatusForbidden, ReasonBadSignature, tsHeader,
				fmt.Sprintf("the timestamp is %s from now, more than the allowed %s", age.Abs().Round(time.Second), v.MaxAge))
		}
	}
	return nil
}
