// Package testgen generates realistic, deterministic telemetry batches for
// tests and benchmarks: traces, logs and metrics with varied resource and
// item attributes, random (but seeded) IDs and exactly known item times.
//
// Every generator takes a seed, an item count, a resource count, a start time
// and a step. Item i (0-based, in generation order) belongs to resource
// i % resources and has the item time start + i*step, unless WithTimes or
// WithTimeFunc says otherwise. The item time is the span start time, the log
// record time (Timestamp, or ObservedTimestamp for records that only have an
// observed time) and the data point time. The same arguments always produce
// the same batch.
package testgen // import "github.com/otel-evidence/otel-evidence/internal/testgen"

import (
	"math/rand/v2"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/pcommon"
)

// Defaults used by benchmarks and most tests: 1,000 items over 10 resources.
const (
	DefaultItems     = 1000
	DefaultResources = 10
)

// DefaultStart is a fixed, arbitrary start time for tests that do not care
// about absolute times.
var DefaultStart = time.Date(2026, time.March, 2, 9, 30, 0, 0, time.UTC)

// DefaultServices are the service.name values used unless WithServices is
// given; resource r gets DefaultServices[r % len(DefaultServices)].
var DefaultServices = []string{"checkout", "cart", "payment", "frontend", "inventory", "shipping"}

// Option adjusts a generator.
type Option func(*options)

type options struct {
	timeFn        func(i int) time.Time
	services      []string
	resourceAttrs map[string]string
	errorRate     float64
	observedOnly  float64
}

func newOptions(start time.Time, step time.Duration, opts []Option) *options {
	o := &options{
		timeFn:       func(i int) time.Time { return start.Add(time.Duration(i) * step) },
		services:     DefaultServices,
		errorRate:    0.05,
		observedOnly: 0.1,
	}
	for _, opt := range opts {
		opt(o)
	}
	return o
}

// WithTimes sets the item times exactly: item i gets ts[i % len(ts)].
// It overrides start and step. An empty list leaves the default.
func WithTimes(ts ...time.Time) Option {
	return func(o *options) {
		if len(ts) == 0 {
			return
		}
		cp := append([]time.Time(nil), ts...)
		o.timeFn = func(i int) time.Time { return cp[i%len(cp)] }
	}
}

// WithTimeFunc sets the time of item i to f(i). It overrides start and step.
func WithTimeFunc(f func(i int) time.Time) Option {
	return func(o *options) {
		if f != nil {
			o.timeFn = f
		}
	}
}

// WithServices sets the service.name values; resource r gets
// names[r % len(names)]. An empty list leaves the default.
func WithServices(names ...string) Option {
	return func(o *options) {
		if len(names) > 0 {
			o.services = append([]string(nil), names...)
		}
	}
}

// WithResourceAttributes sets (or overrides) string attributes on every
// resource, for example service.version or deployment.environment.name.
func WithResourceAttributes(attrs map[string]string) Option {
	return func(o *options) {
		if o.resourceAttrs == nil {
			o.resourceAttrs = make(map[string]string, len(attrs))
		}
		for k, v := range attrs {
			o.resourceAttrs[k] = v
		}
	}
}

// WithErrorRate sets the fraction (0..1) of spans with an error status
// (default 0.05).
func WithErrorRate(p float64) Option {
	return func(o *options) { o.errorRate = clamp01(p) }
}

// WithObservedOnlyRate sets the fraction (0..1) of log records that carry
// only an ObservedTimestamp (default 0.1). Their observed time is the item
// time.
func WithObservedOnlyRate(p float64) Option {
	return func(o *options) { o.observedOnly = clamp01(p) }
}

func clamp01(p float64) float64 {
	switch {
	case p < 0:
		return 0
	case p > 1:
		return 1
	}
	return p
}

// ItemTime returns the default time of item i: start + i*step.
func ItemTime(start time.Time, step time.Duration, i int) time.Time {
	return start.Add(time.Duration(i) * step)
}

func newRand(seed int64) *rand.Rand {
	return rand.New(rand.NewPCG(uint64(seed), 0x9e3779b97f4a7c15))
}

func ts(t time.Time) pcommon.Timestamp { return pcommon.NewTimestampFromTime(t) }

// pick returns a random element of list.
func pick[T any](rng *rand.Rand, list []T) T { return list[rng.IntN(len(list))] }

func traceID(rng *rand.Rand) pcommon.TraceID {
	var id pcommon.TraceID
	putUint64(id[:8], rng.Uint64())
	putUint64(id[8:], rng.Uint64())
	return id
}

func spanID(rng *rand.Rand) pcommon.SpanID {
	var id pcommon.SpanID
	putUint64(id[:], rng.Uint64()|1) // never all zero
	return id
}

func putUint64(b []byte, v uint64) {
	for i := range 8 {
		b[i] = byte(v >> (56 - 8*i))
	}
}

var (
	versions  = []string{"1.4.2", "1.5.0", "2.0.1", "2.1.0-rc.1"}
	regions   = []string{"eu-west-1", "us-east-1", "ap-southeast-2"}
	methods   = []string{"GET", "GET", "GET", "POST", "POST", "PUT", "DELETE"}
	routes    = []string{"/api/v1/cart/{cart_id}", "/api/v1/orders", "/api/v1/orders/{order_id}", "/api/v1/products/{sku}", "/api/v1/checkout", "/api/v1/users/{user_id}/profile", "/healthz"}
	userAgent = []string{
		"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36",
		"Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148",
		"okhttp/4.12.0",
		"Go-http-client/1.1",
	}
	statements = []string{
		"SELECT id, sku, quantity, price FROM cart_items WHERE cart_id = $1",
		"UPDATE inventory SET reserved = reserved + $1 WHERE sku = $2",
		"INSERT INTO orders (id, user_id, total, currency, created_at) VALUES ($1, $2, $3, $4, now())",
		"SELECT * FROM users WHERE id = $1",
	}
	internalNames = []string{"validate cart", "compute totals", "render template", "serialize response", "cache lookup"}
	errMessages   = []string{"context deadline exceeded", "connection reset by peer", "upstream returned 503", "pq: deadlock detected"}
)

// fillResource sets the resource attributes of resource r.
func fillResource(attrs pcommon.Map, rng *rand.Rand, o *options, r int) {
	service := o.services[r%len(o.services)]
	attrs.PutStr("service.name", service)
	attrs.PutStr("service.version", versions[r%len(versions)])
	attrs.PutStr("service.namespace", "shop")
	attrs.PutStr("service.instance.id", service+"-"+randHex(rng, 8))
	attrs.PutStr("host.name", "ip-10-0-"+strconv.Itoa(rng.IntN(16))+"-"+strconv.Itoa(rng.IntN(250)+2)+".internal")
	attrs.PutStr("cloud.region", pick(rng, regions))
	attrs.PutStr("telemetry.sdk.language", "go")
	attrs.PutStr("telemetry.sdk.name", "opentelemetry")
	attrs.PutStr("telemetry.sdk.version", "1.38.0")
	for k, v := range o.resourceAttrs {
		attrs.PutStr(k, v)
	}
}

const hexDigits = "0123456789abcdef"

func randHex(rng *rand.Rand, n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = hexDigits[rng.IntN(16)]
	}
	return string(b)
}

func userID(rng *rand.Rand) string { return "u-" + strconv.Itoa(100000+rng.IntN(900000)) }
