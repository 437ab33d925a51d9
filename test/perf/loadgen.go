package perf

import (
	"context"
	"errors"
	"fmt"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/collector/pdata/ptrace/ptraceotlp"
	"google.golang.org/grpc"
	"google.golang.org/grpc/credentials/insecure"

	"github.com/otel-evidence/otel-evidence/internal/testgen"
)

// RequestTimeout bounds every export call of the load generator.
const RequestTimeout = 15 * time.Second

// Batch is one pre-built export request and its span count.
type Batch struct {
	Request ptraceotlp.ExportRequest
	Spans   int
}

// BuildBatches builds n distinct testgen trace batches of spans spans over
// testgen.DefaultResources resources, seeded seed, seed+1, ... Span i of
// batch b starts at timeFn(b, i). The batches go through an OTLP protobuf
// round trip, as a client would marshal them, and are read-only afterwards:
// the load generator sends them without rebuilding them.
func BuildBatches(n, spans int, seed int64, timeFn func(batch, i int) time.Time) ([]Batch, error) {
	out := make([]Batch, n)
	for b := range out {
		var err error
		if out[b], err = BuildBatch(seed+int64(b), spans, func(i int) time.Time { return timeFn(b, i) }); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// BuildBatch builds one batch as BuildBatches does.
func BuildBatch(seed int64, spans int, timeFn func(i int) time.Time) (Batch, error) {
	td := testgen.Traces(seed, spans, testgen.DefaultResources, testgen.DefaultStart, time.Millisecond,
		testgen.WithTimeFunc(timeFn))
	raw, err := (&ptrace.ProtoMarshaler{}).MarshalTraces(td)
	if err != nil {
		return Batch{}, fmt.Errorf("marshal batch %d: %w", seed, err)
	}
	req := ptraceotlp.NewExportRequest()
	if err := req.UnmarshalProto(raw); err != nil {
		return Batch{}, fmt.Errorf("unmarshal batch %d: %w", seed, err)
	}
	req.Traces().MarkReadOnly()
	return Batch{Request: req, Spans: td.SpanCount()}, nil
}

// CheckLoopback returns an error unless endpoint is host:port with a
// loopback IP address: the load generator never leaves the machine.
func CheckLoopback(endpoint string) error {
	host, _, err := net.SplitHostPort(endpoint)
	if err != nil {
		return fmt.Errorf("endpoint %q: %w", endpoint, err)
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("endpoint %q: the load generator only sends to loopback IP addresses", endpoint)
	}
	return nil
}

// Sender sends traces to one OTLP/gRPC endpoint on loopback.
type Sender struct {
	conn   *grpc.ClientConn
	client ptraceotlp.GRPCClient
}

// Dial connects to a plaintext OTLP/gRPC endpoint on loopback.
func Dial(endpoint string) (*Sender, error) {
	if err := CheckLoopback(endpoint); err != nil {
		return nil, err
	}
	conn, err := grpc.NewClient(endpoint,
		grpc.WithTransportCredentials(insecure.NewCredentials()),
		grpc.WithDefaultCallOptions(grpc.MaxCallSendMsgSize(64<<20)))
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", endpoint, err)
	}
	return &Sender{conn: conn, client: ptraceotlp.NewGRPCClient(conn)}, nil
}

// Close closes the connection.
func (s *Sender) Close() error { return s.conn.Close() }

// Export sends one batch and waits for the answer (at most RequestTimeout).
// A partial success with rejected spans is an error.
func (s *Sender) Export(ctx context.Context, b Batch) error {
	ctx, cancel := context.WithTimeout(ctx, RequestTimeout)
	defer cancel()
	resp, err := s.client.Export(ctx, b.Request)
	if err != nil {
		return err
	}
	if n := resp.PartialSuccess().RejectedSpans(); n > 0 {
		return fmt.Errorf("collector rejected %d of %d spans: %s", n, b.Spans, resp.PartialSuccess().ErrorMessage())
	}
	return nil
}

// SendStats summarizes one load run.
type SendStats struct {
	// Batches and Spans are those the collector accepted.
	Batches int
	Spans   int
	// Errors counts failed export calls; FirstError is the first of them.
	Errors     int
	FirstError error
	// Elapsed is the wall time from the first send to the last answer.
	Elapsed time.Duration
	// Late counts batches sent more than one interval after their
	// scheduled time: the collector (or the machine) did not keep up with
	// the offered load.
	Late int
}

// Rate is the achieved rate in spans per second.
func (s SendStats) Rate() float64 {
	if s.Elapsed <= 0 {
		return 0
	}
	return float64(s.Spans) / s.Elapsed.Seconds()
}

// RateOptions configure SendAtRate.
type RateOptions struct {
	// SpansPerSecond is the offered load.
	SpansPerSecond float64
	// Duration is how long to send; the number of batches sent is
	// round(SpansPerSecond * Duration / spans per batch), at least 1.
	Duration time.Duration
	// Workers is the number of concurrent export calls (default 4).
	Workers int
}

// SendAtRate sends batches (in turn, cycling) at a fixed rate: batch k is
// scheduled at start + k*interval. It returns after every scheduled batch
// has been answered, or when ctx ends. The number of batches is fixed in
// advance, and a run never lasts longer than twice Duration plus
// RequestTimeout.
func (s *Sender) SendAtRate(ctx context.Context, batches []Batch, o RateOptions) (SendStats, error) {
	if len(batches) == 0 || batches[0].Spans <= 0 {
		return SendStats{}, errors.New("no batches to send")
	}
	if o.SpansPerSecond <= 0 || o.Duration <= 0 {
		return SendStats{}, fmt.Errorf("rate %v spans/s and duration %s must be positive", o.SpansPerSecond, o.Duration)
	}
	workers := o.Workers
	if workers <= 0 {
		workers = 4
	}
	perBatch := float64(batches[0].Spans)
	total := max(1, int(o.SpansPerSecond*o.Duration.Seconds()/perBatch+0.5))
	interval := time.Duration(perBatch / o.SpansPerSecond * float64(time.Second))

	ctx, cancel := context.WithTimeout(ctx, 2*o.Duration+RequestTimeout)
	defer cancel()
	return s.run(ctx, total, workers, func(k int) Batch { return batches[k%len(batches)] }, interval)
}

// SendAll sends n batches produced by next as fast as the collector takes
// them, with workers concurrent calls, within timeout. next is called from
// several goroutines.
func (s *Sender) SendAll(ctx context.Context, n, workers int, timeout time.Duration, next func(k int) (Batch, error)) (SendStats, error) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var genErr atomic.Pointer[error]
	stats, err := s.run(ctx, n, max(1, workers), func(k int) Batch {
		b, err := next(k)
		if err != nil {
			genErr.CompareAndSwap(nil, &err)
			cancel()
		}
		return b
	}, 0)
	if p := genErr.Load(); p != nil {
		return stats, *p
	}
	return stats, err
}

// run sends total batches with workers goroutines; with a positive
// interval batch k is not sent before start + k*interval.
func (s *Sender) run(ctx context.Context, total, workers int, batch func(k int) Batch, interval time.Duration) (SendStats, error) {
	type job struct {
		k   int
		due time.Time
	}
	jobs := make(chan job)
	var (
		mu    sync.Mutex
		stats SendStats
		wg    sync.WaitGroup
	)
	start := time.Now()
	for range workers {
		wg.Go(func() {
			for j := range jobs {
				b := batch(j.k)
				if ctx.Err() != nil {
					continue
				}
				late := interval > 0 && time.Since(j.due) > interval
				err := s.Export(ctx, b)
				mu.Lock()
				if late {
					stats.Late++
				}
				if err != nil {
					stats.Errors++
					if stats.FirstError == nil {
						stats.FirstError = err
					}
				} else {
					stats.Batches++
					stats.Spans += b.Spans
				}
				mu.Unlock()
			}
		})
	}
	timer := time.NewTimer(0)
	defer timer.Stop()
feed:
	for k := range total {
		due := start.Add(time.Duration(k) * interval)
		if d := time.Until(due); d > 0 {
			timer.Reset(d)
			select {
			case <-ctx.Done():
				break feed
			case <-timer.C:
			}
		}
		select {
		case <-ctx.Done():
			break feed
		case jobs <- job{k: k, due: due}:
		}
	}
	close(jobs)
	wg.Wait()
	stats.Elapsed = time.Since(start)
	if err := ctx.Err(); err != nil {
		return stats, fmt.Errorf("sending stopped after %d of %d batches: %w", stats.Batches, total, err)
	}
	return stats, nil
}
