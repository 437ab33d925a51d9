package timeline

import (
	"errors"
	"fmt"
	"iter"
	"runtime"
	"sync"
	"sync/atomic"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// maxWorkers bounds the sources Build runs at once, and with them the
// memory of the parts being decoded.
const maxWorkers = 4

// errStopped is returned by a Sink once another source has failed.
var errStopped = errors.New("stopped: another evidence source failed")

// collect runs the sources of in, a few at a time, and the iterators of in
// as one more source, each into an aggregator of its own, and merges them.
// Every result of the analysis is independent of the order in which items
// arrive, so the scheduling of the sources cannot change the timeline.
func collect(in Input) (*aggregator, []incident.Event, error) {
	sources := make([]Source, 0, len(in.Sources)+1)
	sources = append(sources, in.Sources...)
	if in.Traces != nil || in.Logs != nil || in.Metrics != nil || in.Events != nil {
		sources = append(sources, iteratorSource(in))
	}
	workers := min(runtime.GOMAXPROCS(0), maxWorkers, max(len(sources), 1))
	var (
		next    atomic.Int64
		stopped atomic.Bool
		wg      sync.WaitGroup
		errs    = make([]error, len(sources))
		sinks   = make([]*sink, workers)
	)
	for w := range workers {
		s := &sink{a: newAggregator(), stopped: &stopped}
		sinks[w] = s
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= len(sources) || stopped.Load() {
					return
				}
				if err := sources[i](s); err != nil {
					errs[i] = err
					stopped.Store(true)
					return
				}
			}
		})
	}
	wg.Wait()
	// The first source's error, so that the same evidence fails the same
	// way; errStopped only ever follows another source's error.
	for _, err := range errs {
		if err != nil && !errors.Is(err, errStopped) {
			return nil, nil, err
		}
	}
	a := sinks[0].a
	events := sinks[0].events
	for _, s := range sinks[1:] {
		a.merge(s.a)
		events = append(events, s.events...)
	}
	return a, events, nil
}

// sink feeds one worker's aggregator.
type sink struct {
	a       *aggregator
	events  []incident.Event
	stopped *atomic.Bool
	// batch is the scratch space of the JSON scan.
	batch scanBatch
}

func (s *sink) check() error {
	if s.stopped.Load() {
		return errStopped
	}
	return nil
}

func (s *sink) Traces(td ptrace.Traces) error {
	s.a.addTraces(td)
	return s.check()
}

func (s *sink) Logs(ld plog.Logs) error {
	s.a.addLogs(ld)
	return s.check()
}

func (s *sink) Metrics(md pmetric.Metrics) error {
	s.a.addMetrics(md)
	return s.check()
}

func (s *sink) Event(ev incident.Event) error {
	s.events = append(s.events, ev)
	return s.check()
}

// iteratorSource reads the iterators of in, one after the other.
func iteratorSource(in Input) Source {
	return func(s Sink) error {
		if err := drain(in.Traces, "traces", s.Traces); err != nil {
			return err
		}
		if err := drain(in.Logs, "logs", s.Logs); err != nil {
			return err
		}
		if err := drain(in.Metrics, "metrics", s.Metrics); err != nil {
			return err
		}
		return drain(in.Events, "events", s.Event)
	}
}

// drain calls add with every item of seq, stopping at the first error.
func drain[T any](seq iter.Seq2[T, error], what string, add func(T) error) error {
	if seq == nil {
		return nil
	}
	for v, err := range seq {
		if err != nil {
			return fmt.Errorf("reading %s: %w", what, err)
		}
		if err := add(v); err != nil {
			if errors.Is(err, errStopped) {
				return err
			}
			return fmt.Errorf("reading %s: %w", what, err)
		}
	}
	return nil
}
