package sloconnector // import "github.com/otel-evidence/otel-evidence/connector/sloconnector"

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"go.opentelemetry.io/collector/component"
	"go.opentelemetry.io/collector/connector"
	"go.opentelemetry.io/collector/consumer"
	"go.opentelemetry.io/collector/extension/xextension/storage"
	"go.opentelemetry.io/collector/pdata/pcommon"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/connector/sloconnector/internal/metadata"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
)

// sloConnector is one slo connector. The same instance serves the traces
// and the logs pipelines of one component ID (see factory.go), so every
// SLO is evaluated, emitted and saved once.
//
// The hot path (ConsumeTraces, ConsumeLogs) classifies each event into
// local counters and takes its group's lock once per resource; the
// evaluation that follows a batch is O(windows) per touched group and only
// queues registry writes, which a goroutine applies.
type sloConnector struct {
	cfg    *Config
	set    connector.Settings
	tel    *metadata.TelemetryBuilder
	next   consumer.Metrics
	now    func() time.Time
	logger *zap.Logger

	slos               []*slo
	traceSLOs, logSLOs []*slo

	startOnce, stopOnce sync.Once
	startErr            error
	registry            incidentsapi.Registry
	writer              *incidentWriter
	state               storage.Client
	cancel              context.CancelFunc
	done                chan struct{}
}

func newConnector(set connector.Settings, cfg *Config, next consumer.Metrics) (*sloConnector, error) {
	tel, err := metadata.NewTelemetryBuilder(set.TelemetrySettings)
	if err != nil {
		return nil, err
	}
	c := &sloConnector{cfg: cfg, set: set, tel: tel, next: next, now: time.Now, logger: set.Logger}
	for i := range cfg.SLOs {
		s := &cfg.SLOs[i]
		cls, err := newClassifier(s, set.TelemetrySettings)
		if err != nil {
			return nil, fmt.Errorf("'slos[%d].sli': %w", i, err)
		}
		o := newSLO(cfg, s, cls)
		c.slos = append(c.slos, o)
		if s.Signal == SignalLogs {
			c.logSLOs = append(c.logSLOs, o)
		} else {
			c.traceSLOs = append(c.traceSLOs, o)
		}
	}
	return c, nil
}

// Capabilities: the connector reads its input and builds new metrics.
func (*sloConnector) Capabilities() consumer.Capabilities {
	return consumer.Capabilities{MutatesData: false}
}

// Start finds the incidents extension and the storage, restores the state
// and starts the evaluation loop. It runs once for the shared instance.
func (c *sloConnector) Start(ctx context.Context, host component.Host) error {
	c.startOnce.Do(func() { c.startErr = c.start(ctx, host) })
	return c.startErr
}

func (c *sloConnector) start(ctx context.Context, host component.Host) error {
	reg, err := incidentsapi.Find(host, c.cfg.Incidents)
	if err != nil {
		return fmt.Errorf("slo connector: 'incidents': %w", err)
	}
	c.registry = reg
	c.writer = newIncidentWriter(reg, c.tel, c.logger)
	if c.cfg.Storage != nil {
		client, err := getStorageClient(ctx, host, *c.cfg.Storage, c.set.ID)
		if err != nil {
			return fmt.Errorf("slo connector: 'storage': %w", err)
		}
		c.state = client
		c.load(ctx)
	}
	loopCtx, cancel := context.WithCancel(context.Background())
	c.cancel = cancel
	c.done = make(chan struct{})
	go c.loop(loopCtx)
	return nil
}

// Shutdown stops the loop, applies the queued incident changes, saves the
// state and closes the storage client.
func (c *sloConnector) Shutdown(ctx context.Context) error {
	var err error
	c.stopOnce.Do(func() {
		if c.cancel == nil {
			return
		}
		c.cancel()
		<-c.done
		if c.writer != nil {
			c.writer.flush(ctx)
		}
		if c.state != nil {
			c.save(ctx)
			err = c.state.Close(ctx)
		}
	})
	return err
}

// loop evaluates every group, emits the series, applies the registry
// writes and saves the state, each on its own interval.
func (c *sloConnector) loop(ctx context.Context) {
	defer close(c.done)
	eval := time.NewTicker(c.cfg.EvaluationInterval)
	defer eval.Stop()
	emit := time.NewTicker(c.cfg.MetricsInterval)
	defer emit.Stop()
	var saveC <-chan time.Time
	if c.state != nil {
		save := time.NewTicker(c.cfg.StateInterval)
		defer save.Stop()
		saveC = save.C
	}
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.writer.kick:
			c.writer.flush(ctx)
		case <-eval.C:
			c.evaluateAll()
			c.writer.flush(ctx)
		case <-emit.C:
			c.emit(ctx)
		case <-saveC:
			c.save(ctx)
		}
	}
}

// ConsumeTraces counts the spans of every trace SLO.
func (c *sloConnector) ConsumeTraces(ctx context.Context, td ptrace.Traces) error {
	rss := td.ResourceSpans()
	c.consume(ctx, c.traceSLOs, rss.Len(), func(i int) pcommon.Map { return rss.At(i).Resource().Attributes() },
		func(o *slo, i int, classify bool, n *counts) {
			rs := rss.At(i)
			sss := rs.ScopeSpans()
			for j := range sss.Len() {
				ss := sss.At(j)
				spans := ss.Spans()
				if !classify {
					n.total += uint64(spans.Len())
					continue
				}
				for k := range spans.Len() {
					n.add(o.cls.classifySpan(ctx, rs, ss, spans.At(k)))
				}
			}
		})
	return nil
}

// ConsumeLogs counts the log records of every logs SLO.
func (c *sloConnector) ConsumeLogs(ctx context.Context, ld plog.Logs) error {
	rls := ld.ResourceLogs()
	c.consume(ctx, c.logSLOs, rls.Len(), func(i int) pcommon.Map { return rls.At(i).Resource().Attributes() },
		func(o *slo, i int, classify bool, n *counts) {
			rl := rls.At(i)
			sls := rl.ScopeLogs()
			for j := range sls.Len() {
				sl := sls.At(j)
				lrs := sl.LogRecords()
				if !classify {
					n.total += uint64(lrs.Len())
					continue
				}
				for k := range lrs.Len() {
					n.add(o.cls.classifyLog(ctx, rl, sl, lrs.At(k)))
				}
			}
		})
	return nil
}

// counts are one resource's events of one SLO.
type counts struct{ good, bad, failed, total uint64 }

func (n *counts) add(v verdict) {
	n.total++
	switch v {
	case verdictGood:
		n.good++
	case verdictBad:
		n.bad++
	case verdictFailed:
		n.failed++
	}
}

// consume runs every SLO of a signal over one batch of resources: attrs
// returns resource i's attributes, each walks its events (classifying them
// into n, or with classify false only counting them, for a group over
// max_groups). The touched groups are evaluated once each, after the batch.
func (c *sloConnector) consume(ctx context.Context, slos []*slo, resources int, attrs func(i int) pcommon.Map,
	each func(o *slo, i int, classify bool, n *counts),
) {
	if len(slos) == 0 {
		return
	}
	now := c.now()
	nowNs := now.UnixNano()
	for _, o := range slos {
		var buf [4]*group // most batches touch one group per SLO
		touched := buf[:0]
		for i := range resources {
			g, outcome, created := o.groupFor(attrs(i), now)
			if created {
				c.tel.ConnectorSloGroups.Add(ctx, 1, o.attrSLO)
			}
			if outcome == groupNotSelected {
				continue
			}
			var n counts
			each(o, i, g != nil, &n)
			if g == nil {
				c.tel.ConnectorSloEventsDropped.Add(ctx, int64(n.total), o.attrCardinality)
				continue
			}
			c.count(ctx, o, g, nowNs, &n)
			touched = appendOnce(touched, g)
		}
		for _, g := range touched {
			c.evaluate(g, now)
		}
	}
}

func appendOnce(gs []*group, g *group) []*group {
	for _, x := range gs {
		if x == g {
			return gs
		}
	}
	return append(gs, g)
}

// count adds one resource's classified events to g and to the self-metrics.
func (c *sloConnector) count(ctx context.Context, o *slo, g *group, now int64, n *counts) {
	if n.good+n.bad > 0 {
		g.add(now, n.good, n.bad)
	}
	if n.good > 0 {
		c.tel.ConnectorSloEvents.Add(ctx, int64(n.good), o.attrGood)
	}
	if n.bad > 0 {
		c.tel.ConnectorSloEvents.Add(ctx, int64(n.bad), o.attrBad)
	}
	if n.failed > 0 {
		c.tel.ConnectorSloEventsDropped.Add(ctx, int64(n.failed), o.attrCondErr)
	}
}

// evaluate evaluates one group at now and queues the registry write it
// calls for.
func (c *sloConnector) evaluate(g *group, now time.Time) {
	g.mu.Lock()
	ev := g.slo.spec.evaluate(g.windows, now.UnixNano())
	a, ok := g.decide(&ev, now, c.snapshot)
	g.mu.Unlock()
	if ok && c.writer != nil {
		c.writer.enqueue(g, a)
	}
}

// evaluateAll evaluates every group: windows slide, and incidents resolve,
// even when no data arrives.
func (c *sloConnector) evaluateAll() {
	now := c.now()
	for _, o := range c.slos {
		for _, g := range o.snapshotGroups() {
			c.evaluate(g, now)
		}
	}
}

func (c *sloConnector) snapshot() *incidentsapi.Snapshot {
	if c.registry == nil {
		return nil
	}
	return c.registry.Snapshot()
}

// getStorageClient returns the connector's client of the storage extension id.
func getStorageClient(ctx context.Context, host component.Host, id, self component.ID) (storage.Client, error) {
	ext, ok := host.GetExtensions()[id]
	if !ok {
		return nil, fmt.Errorf("storage extension %q not found (add it under 'extensions' and to 'service.extensions')", id)
	}
	se, ok := ext.(storage.Extension)
	if !ok {
		return nil, fmt.Errorf("extension %q is not a storage extension", id)
	}
	client, err := se.GetClient(ctx, component.KindConnector, self, "")
	if err != nil {
		return nil, errors.Join(fmt.Errorf("storage extension %q", id), err)
	}
	return client, nil
}
