package testgen

import (
	"testing"

	"github.com/stretchr/testify/require"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
)

// ProtoBytes returns data (ptrace.Traces, plog.Logs or pmetric.Metrics) as
// OTLP protobuf: a canonical form for comparing batches in tests.
func ProtoBytes(tb testing.TB, data any) []byte {
	tb.Helper()
	var (
		b   []byte
		err error
	)
	switch x := data.(type) {
	case ptrace.Traces:
		b, err = (&ptrace.ProtoMarshaler{}).MarshalTraces(x)
	case plog.Logs:
		b, err = (&plog.ProtoMarshaler{}).MarshalLogs(x)
	case pmetric.Metrics:
		b, err = (&pmetric.ProtoMarshaler{}).MarshalMetrics(x)
	default:
		tb.Fatalf("testgen.ProtoBytes: unexpected %T", data)
	}
	require.NoError(tb, err)
	return b
}
