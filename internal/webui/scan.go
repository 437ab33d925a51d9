package webui

import (
	"context"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// scan reads every span and log record of an incident's evidence once,
// part by part (or slice by slice of a folder's files), as the timeline
// does: nothing is held but what the callbacks keep. Scans and timeline
// builds run one at a time.
func (s *Server) scan(ctx context.Context, id string, traces func(ptrace.Traces) error, logs func(plog.Logs) error) error {
	s.build.Lock()
	defer s.build.Unlock()
	in, err := s.ev.Input(ctx, id)
	if err != nil {
		return err
	}
	sk := scanSink{ctx: ctx, traces: traces, logs: logs}
	for _, src := range in.Sources {
		if err := src(sk); err != nil {
			return err
		}
	}
	if in.Traces != nil && traces != nil {
		for td, err := range in.Traces {
			if err != nil {
				return err
			}
			if err := sk.Traces(td); err != nil {
				return err
			}
		}
	}
	if in.Logs != nil && logs != nil {
		for ld, err := range in.Logs {
			if err != nil {
				return err
			}
			if err := sk.Logs(ld); err != nil {
				return err
			}
		}
	}
	return nil
}

type scanSink struct {
	ctx    context.Context
	traces func(ptrace.Traces) error
	logs   func(plog.Logs) error
}

func (k scanSink) Traces(td ptrace.Traces) error {
	if err := k.ctx.Err(); err != nil {
		return err
	}
	if k.traces == nil {
		return nil
	}
	return k.traces(td)
}

func (k scanSink) Logs(ld plog.Logs) error {
	if err := k.ctx.Err(); err != nil {
		return err
	}
	if k.logs == nil {
		return nil
	}
	return k.logs(ld)
}

func (scanSink) Metrics(pmetric.Metrics) error { return nil }
func (scanSink) Event(incident.Event) error    { return nil }
