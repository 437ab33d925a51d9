package cli

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/spf13/pflag"
)

// Receiver addressing defaults and environment variables.
const (
	defaultReceiverURL = "http://127.0.0.1:8088"
	envReceiver        = "EVIDENCECTL_RECEIVER"
	envToken           = "EVIDENCECTL_TOKEN"
	// envCollectorToken is the token variable of the default collector
	// configuration (bearertokenauth/webhook).
	envCollectorToken      = "OTEL_EVIDENCE_WEBHOOK_TOKEN"
	defaultReceiverTimeout = 30 * time.Second
	// maxReceiverResponse bounds the receiver's answer read into memory.
	maxReceiverResponse = 1 << 20
)

// receiverOptions address the collector's incident_webhook receiver; they
// are shared by trigger, resolve and deploy.
type receiverOptions struct {
	root    *rootOptions
	url     string
	token   string
	path    string
	timeout time.Duration
}

func (o *receiverOptions) addFlags(fs *pflag.FlagSet, defaultPath string) {
	fs.StringVar(&o.url, "receiver", "", "base URL of the incident_webhook receiver (env "+envReceiver+"; default "+defaultReceiverURL+")")
	fs.StringVar(&o.token, "token", "", "bearer token (env "+envToken+" or "+envCollectorToken+")")
	fs.StringVar(&o.path, "path", defaultPath, "endpoint path (the receiver's 'paths' setting)")
	fs.DurationVar(&o.timeout, "timeout", defaultReceiverTimeout, "how long to wait for the receiver")
}

// endpoint returns the URL to post to.
func (o *receiverOptions) endpoint() (string, error) {
	base := firstNonEmpty(o.url, o.root.env.Getenv(envReceiver), defaultReceiverURL)
	u, err := url.Parse(base)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.RawQuery != "" || u.Fragment != "" {
		return "", usageError("give --receiver as http://host:port or https://host", "invalid receiver URL %q", base)
	}
	if !strings.HasPrefix(o.path, "/") {
		return "", usageError("for example --path /v1/incidents", "--path %q must start with /", o.path)
	}
	u.Path = strings.TrimRight(u.Path, "/") + o.path
	return u.String(), nil
}

// receiverError is the receiver's JSON error body.
type receiverError struct {
	Error   string `json:"error"`
	Field   string `json:"field,omitempty"`
	Message string `json:"message,omitempty"`
}

// parseReceiverError decodes an error body; a body that is not the
// receiver's JSON is shown as text, shortened.
func parseReceiverError(body []byte) receiverError {
	var e receiverError
	if err := json.Unmarshal(body, &e); err == nil && e.Error != "" {
		return e
	}
	text := strings.TrimSpace(string(body))
	if len(text) > 200 {
		text = text[:200] + "..."
	}
	return receiverError{Message: strings.ToValidUTF8(text, "?")}
}

func (e receiverError) String() string {
	s := e.Error
	if e.Field != "" {
		s += " '" + e.Field + "'"
	}
	if e.Message != "" {
		if s != "" {
			s += ": "
		}
		s += e.Message
	}
	return s
}

// post sends body as JSON and returns the receiver's successful answer.
// 4xx and 5xx answers become errors that quote the receiver's message.
func (o *receiverOptions) post(ctx context.Context, body any) ([]byte, error) {
	target, err := o.endpoint()
	if err != nil {
		return nil, err
	}
	payload, err := json.Marshal(body)
	if err != nil {
		return nil, fmt.Errorf("encoding the request: %w", err)
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, target, bytes.NewReader(payload))
	if err != nil {
		return nil, usageError("check --receiver and --path", "cannot build the request: %v", err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Accept", "application/json")
	req.Header.Set("User-Agent", "evidencectl/"+readBuildInfo().Version)
	if token := firstNonEmpty(o.token, o.root.env.Getenv(envToken), o.root.env.Getenv(envCollectorToken)); token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	client := &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone()}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		if errors.Is(err, context.Canceled) {
			return nil, err
		}
		return nil, newError(nil, err, "is the collector running with the incident_webhook receiver? check --receiver or "+envReceiver,
			"cannot reach the receiver at %s: %v", target, err)
	}
	defer func() { _ = resp.Body.Close() }()
	answer, err := io.ReadAll(io.LimitReader(resp.Body, maxReceiverResponse))
	if err != nil {
		return nil, newError(nil, err, "retry; the receiver treats repeated calls as one", "reading the answer of %s: %v", target, err)
	}
	if resp.StatusCode >= 200 && resp.StatusCode < 300 {
		return answer, nil
	}
	re := parseReceiverError(answer)
	status := fmt.Sprintf("%d %s", resp.StatusCode, http.StatusText(resp.StatusCode))
	switch {
	case resp.StatusCode == http.StatusUnauthorized || resp.StatusCode == http.StatusForbidden:
		return nil, newError(nil, nil, "check --token, "+envToken+" or "+envCollectorToken,
			"the receiver at %s refused the request (%s): %s", target, status, re)
	case resp.StatusCode == http.StatusNotFound && re.Error == "unknown_incident":
		return nil, newError(ErrNotFound, nil, "check the incident ID with `evidencectl list`",
			"the receiver at %s knows no such incident (%s): %s", target, status, re)
	case resp.StatusCode == http.StatusNotFound || resp.StatusCode == http.StatusMethodNotAllowed:
		return nil, newError(nil, nil, "check --receiver and --path (the receiver's 'paths' setting)",
			"the receiver at %s has no such endpoint (%s): %s", target, status, re)
	case resp.StatusCode >= 400 && resp.StatusCode < 500:
		return nil, newError(ErrUsage, nil, "fix the flag for the named field and retry",
			"the receiver at %s refused the request (%s): %s", target, status, re)
	default:
		return nil, newError(nil, nil, "retry; the receiver treats repeated calls as one",
			"the receiver at %s failed (%s): %s", target, status, re)
	}
}

// receiverAnswer is the receiver's JSON body for a successful call.
type receiverAnswer struct {
	Opened    []string `json:"opened"`
	Resolved  []string `json:"resolved"`
	Unchanged []string `json:"unchanged"`
	Deploys   []string `json:"deploys"`
	Events    int      `json:"events"`
}

// printAnswer writes the receiver's answer: as received with --output
// json, else one line per outcome.
func (o *receiverOptions) printAnswer(answer []byte) error {
	if o.root.jsonOutput() {
		if json.Valid(answer) {
			return o.root.printJSON(json.RawMessage(answer))
		}
		return o.root.printJSON(map[string]string{"answer": string(answer)})
	}
	out := &textWriter{w: o.root.stdout()}
	var a receiverAnswer
	if err := json.Unmarshal(answer, &a); err != nil {
		out.printf("The receiver answered: %s\n", strings.TrimSpace(string(answer)))
		return out.err
	}
	for _, line := range []struct {
		label string
		ids   []string
	}{
		{"Opened", a.Opened}, {"Resolved", a.Resolved},
		{"Unchanged (already in that state)", a.Unchanged}, {"Deploys recorded", a.Deploys},
	} {
		if len(line.ids) > 0 {
			out.printf("%s: %s\n", line.label, strings.Join(line.ids, ", "))
		}
	}
	out.printf("Events recorded: %d\n", a.Events)
	return out.err
}

// parseKeyValues parses repeated key=value flags into a map, refusing
// empty keys and duplicates.
func parseKeyValues(flag string, values []string) (map[string]string, error) {
	if len(values) == 0 {
		return nil, nil
	}
	out := make(map[string]string, len(values))
	for _, v := range values {
		k, val, ok := strings.Cut(v, "=")
		k = strings.TrimSpace(k)
		if !ok || k == "" {
			return nil, usageError(fmt.Sprintf("for example --%s team=payments", flag), "--%s %q must have the form key=value", flag, v)
		}
		if _, dup := out[k]; dup {
			return nil, usageError("give each key once", "--%s key %q is given twice", flag, k)
		}
		out[k] = strings.TrimSpace(val)
	}
	return out, nil
}

// timeFlagValue parses an optional time flag into RFC 3339 for a request.
func timeFlagValue(flag, value string, now time.Time) (string, time.Time, error) {
	if value == "" {
		return "", time.Time{}, nil
	}
	t, err := parseTimeFlag(value, now)
	if err != nil {
		return "", time.Time{}, usageError("for example --"+flag+" 2026-03-02T09:30:00Z or --"+flag+" 10m", "invalid --%s: %v", flag, err)
	}
	return t.Format(time.RFC3339Nano), t, nil
}
