package ring

import "strconv"

// Signal is the kind of telemetry a block holds.
type Signal uint8

// The signals a ring holds. The values are stored on disk; do not reorder.
const (
	SignalTraces Signal = iota
	SignalLogs
	SignalMetrics

	// NumSignals is the number of signals; Stats.Signals is indexed by Signal.
	NumSignals = 3
)

// String returns "traces", "logs" or "metrics".
func (s Signal) String() string {
	switch s {
	case SignalTraces:
		return "traces"
	case SignalLogs:
		return "logs"
	case SignalMetrics:
		return "metrics"
	}
	return "signal(" + strconv.Itoa(int(s)) + ")"
}

func (s Signal) valid() bool { return s < NumSignals }
