package testgen

import (
	"math/rand/v2"
	"strconv"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
)

type severity struct {
	num  plog.SeverityNumber
	text string
	// cumulative share out of 100
	upTo int
}

var severities = []severity{
	{plog.SeverityNumberDebug, "DEBUG", 10},
	{plog.SeverityNumberInfo, "INFO", 80},
	{plog.SeverityNumberWarn, "WARN", 92},
	{plog.SeverityNumberError, "ERROR", 100},
}

var logBodies = map[plog.SeverityNumber][]func(rng *rand.Rand) string{
	plog.SeverityNumberDebug: {
		func(rng *rand.Rand) string { return "cache lookup key=product:" + strconv.Itoa(rng.IntN(9000)+1000) },
		func(rng *rand.Rand) string { return "acquired db connection in " + strconv.Itoa(rng.IntN(900)) + "us" },
	},
	plog.SeverityNumberInfo: {
		func(rng *rand.Rand) string {
			return pick(rng, methods) + " " + pick(rng, routes) + " completed status=200 duration=" + strconv.Itoa(rng.IntN(300)) + "ms"
		},
		func(rng *rand.Rand) string { return "user " + userID(rng) + " signed in" },
		func(rng *rand.Rand) string { return "order " + strconv.Itoa(rng.IntN(1e6)) + " placed, 3 items" },
	},
	plog.SeverityNumberWarn: {
		func(rng *rand.Rand) string {
			return "slow query took " + strconv.Itoa(500+rng.IntN(3000)) + "ms: " + pick(rng, statements)
		},
		func(rng *rand.Rand) string {
			return "retrying request to payment (attempt " + strconv.Itoa(rng.IntN(3)+2) + ")"
		},
	},
	plog.SeverityNumberError: {
		func(rng *rand.Rand) string { return "request failed: " + pick(rng, errMessages) },
		func(rng *rand.Rand) string { return "payment declined for order " + strconv.Itoa(rng.IntN(1e6)) },
	},
}

// Logs returns records log records spread round-robin over resources
// resources (fewer if there are fewer records). Record i has the item time
// start + i*step (see WithTimes): normally as Timestamp, with an
// ObservedTimestamp a few milliseconds later; a fraction of records
// (WithObservedOnlyRate, default 10%) has only an ObservedTimestamp, equal to
// the item time. Severities are mostly INFO with some DEBUG, WARN and ERROR;
// most records carry a trace context.
func Logs(seed int64, records, resources int, start time.Time, step time.Duration, opts ...Option) plog.Logs {
	o := newOptions(start, step, opts)
	rng := newRand(seed)
	ld := plog.NewLogs()
	if records <= 0 {
		return ld
	}
	resources = max(1, min(resources, records))
	scopes := make([]plog.LogRecordSlice, resources)
	for r := range resources {
		rl := ld.ResourceLogs().AppendEmpty()
		fillResource(rl.Resource().Attributes(), rng, o, r)
		sl := rl.ScopeLogs().AppendEmpty()
		sl.Scope().SetName("go.opentelemetry.io/contrib/bridges/otelslog")
		sl.Scope().SetVersion("0.13.0")
		sl.LogRecords().EnsureCapacity(records/resources + 1)
		scopes[r] = sl.LogRecords()
	}
	for i := range records {
		lr := scopes[i%resources].AppendEmpty()
		t := o.timeFn(i)
		if rng.Float64() < o.observedOnly {
			lr.SetObservedTimestamp(ts(t))
		} else {
			lr.SetTimestamp(ts(t))
			lr.SetObservedTimestamp(ts(t.Add(time.Duration(rng.IntN(50_000)) * time.Microsecond)))
		}
		sev := severities[len(severities)-1]
		n := rng.IntN(100)
		for _, s := range severities {
			if n < s.upTo {
				sev = s
				break
			}
		}
		lr.SetSeverityNumber(sev.num)
		lr.SetSeverityText(sev.text)
		lr.Body().SetStr(pick(rng, logBodies[sev.num])(rng))
		if rng.IntN(10) < 7 {
			lr.SetTraceID(traceID(rng))
			lr.SetSpanID(spanID(rng))
			lr.SetFlags(plog.DefaultLogRecordFlags.WithIsSampled(true))
		}
		a := lr.Attributes()
		a.PutStr("code.function", "github.com/example/shop/internal/handlers."+pick(rng, []string{"Checkout", "AddToCart", "GetProduct", "Login"}))
		a.PutStr("thread.name", "worker-"+strconv.Itoa(rng.IntN(16)))
		if rng.IntN(2) == 0 {
			a.PutStr("user.id", userID(rng))
		}
		if sev.num >= plog.SeverityNumberError {
			a.PutStr("exception.type", "*net.OpError")
		}
	}
	return ld
}
