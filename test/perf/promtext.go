package perf

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"
)

// Sample is one sample of the Prometheus text exposition format.
type Sample struct {
	Name   string
	Labels map[string]string
	Value  float64
}

// maxMetricsBody bounds what ScrapeMetrics reads.
const maxMetricsBody = 16 << 20

// ScrapeMetrics fetches a Prometheus text endpoint on loopback (such as
// the collector's own telemetry) and parses it.
func ScrapeMetrics(ctx context.Context, url string) ([]Sample, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	resp, err := getLoopback(ctx, url)
	if err != nil {
		return nil, err
	}
	defer func() { _ = resp.Body.Close() }()
	return ParseMetrics(io.LimitReader(resp.Body, maxMetricsBody))
}

// getLoopback GETs url, which must be on a loopback address, and returns
// the response if its status is 200 (the caller closes its body).
func getLoopback(ctx context.Context, url string) (*http.Response, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, http.NoBody)
	if err != nil {
		return nil, err
	}
	if err := CheckLoopback(req.URL.Host); err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		_ = resp.Body.Close()
		return nil, fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return resp, nil
}

// ParseMetrics parses the Prometheus text exposition format: comment lines
// are skipped, every other line is name{label="value",...} value
// [timestamp]. Label values may hold escaped quotes, backslashes and
// newlines.
func ParseMetrics(r io.Reader) ([]Sample, error) {
	var out []Sample
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		s, err := parseSample(line)
		if err != nil {
			return nil, fmt.Errorf("line %d: %w", n, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSample(line string) (Sample, error) {
	s := Sample{Labels: map[string]string{}}
	i := strings.IndexAny(line, "{ \t")
	if i <= 0 {
		return Sample{}, fmt.Errorf("no metric name and value in %q", line)
	}
	s.Name, line = line[:i], line[i:]
	if line[0] == '{' {
		rest, err := parseLabels(line[1:], s.Labels)
		if err != nil {
			return Sample{}, fmt.Errorf("metric %s: %w", s.Name, err)
		}
		line = rest
	}
	f := strings.Fields(line)
	if len(f) < 1 || len(f) > 2 {
		return Sample{}, fmt.Errorf("metric %s: want a value and an optional timestamp, got %q", s.Name, line)
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return Sample{}, fmt.Errorf("metric %s: value %q: %w", s.Name, f[0], err)
	}
	s.Value = v
	return s, nil
}

// parseLabels reads label="value" pairs up to the closing '}' and returns
// what follows it.
func parseLabels(s string, into map[string]string) (string, error) {
	for {
		s = strings.TrimLeft(s, " \t,")
		if s == "" {
			return "", fmt.Errorf("labels not closed with '}'")
		}
		if s[0] == '}' {
			return s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return "", fmt.Errorf("want label=\"value\" at %q", s)
		}
		name := strings.TrimSpace(s[:eq])
		var val strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			c := s[i]
			if c == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					c = '\n'
				default:
					c = s[i]
				}
			}
			val.WriteByte(c)
		}
		if i >= len(s) {
			return "", fmt.Errorf("label %s: value not closed with '\"'", name)
		}
		into[name] = val.String()
		s = s[i+1:]
	}
}

// Sum adds the values of the samples named name whose labels include
// every pair of match; found reports whether any sample matched.
func Sum(samples []Sample, name string, match map[string]string) (sum float64, found bool) {
next:
	for _, s := range samples {
		if s.Name != name {
			continue
		}
		for k, v := range match {
			if s.Labels[k] != v {
				continue next
			}
		}
		sum += s.Value
		found = true
	}
	return sum, found
}
