package incidentsapi

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Store layout of the replica sync log. Each state change (and each
// recorded event) is one immutable JSON object holding an incident.Event,
// under EventsPrefix, named by EventKey. Keys sort by write time, so a
// replica reads the log incrementally with store.List(EventsPrefix, cursor).
// Tools such as evidencectl may append events too (with their own writer ID);
// every replica applies them.
const (
	// ControlPrefix holds everything the replicas use to keep in step.
	ControlPrefix = "control/"
	// EventsPrefix holds the sync log.
	EventsPrefix = ControlPrefix + "events/"
	// SnapshotsPrefix holds one compacted state per replica, written
	// periodically and at shutdown: SnapshotsPrefix + <collector-id> + ".json".
	SnapshotsPrefix = ControlPrefix + "snapshots/"
	// CollectorsPrefix holds one presence record per replica, written at
	// start: CollectorsPrefix + <collector-id> + ".json".
	CollectorsPrefix = ControlPrefix + "collectors/"
)

// eventTimeDigits is the width of the zero-padded Unix-nanosecond time that
// starts every event key (enough for any int64).
const eventTimeDigits = 20

// ErrInvalidEventKey is returned (wrapped) by ParseEventKey.
var ErrInvalidEventKey = errors.New("invalid sync event key")

// EventKey returns the key of a sync log event written at t by writer (a
// collector ID or tool name, validated like an incident ID) as its seq-th
// event: "control/events/<20-digit unix nanos>-<writer>-<seq>.json".
func EventKey(t time.Time, writer string, seq uint64) (string, error) {
	if err := incident.ValidateID(writer); err != nil {
		return "", fmt.Errorf("event key writer: %w", err)
	}
	ns := t.UnixNano()
	if ns < 0 {
		return "", fmt.Errorf("event key time %s is before 1970", t.Format(time.RFC3339))
	}
	return fmt.Sprintf("%s%0*d-%s-%d.json", EventsPrefix, eventTimeDigits, ns, writer, seq), nil
}

// EventKeyCursor returns the List startAfter value that lists every event
// key written at or after t.
func EventKeyCursor(t time.Time) string {
	ns := max(t.UnixNano()-1, 0)
	// Every key of time ns+1 or later sorts after "<ns>." ('.' > '-'), and
	// every key of time ns sorts before it.
	return fmt.Sprintf("%s%0*d.", EventsPrefix, eventTimeDigits, ns)
}

// ParseEventKey splits an event key into its write time, writer and
// sequence number.
func ParseEventKey(key string) (t time.Time, writer string, seq uint64, err error) {
	bad := func(why string) error { return fmt.Errorf("%w %q: %s", ErrInvalidEventKey, key, why) }
	rest, ok := strings.CutPrefix(key, EventsPrefix)
	if !ok {
		return time.Time{}, "", 0, bad("not under " + EventsPrefix)
	}
	rest, ok = strings.CutSuffix(rest, ".json")
	if !ok {
		return time.Time{}, "", 0, bad("does not end in .json")
	}
	if len(rest) < eventTimeDigits+1 || rest[eventTimeDigits] != '-' {
		return time.Time{}, "", 0, bad(fmt.Sprintf("does not start with %d digits and '-'", eventTimeDigits))
	}
	ns, perr := strconv.ParseInt(rest[:eventTimeDigits], 10, 64)
	if perr != nil || ns < 0 {
		return time.Time{}, "", 0, bad("time is not a non-negative integer")
	}
	rest = rest[eventTimeDigits+1:]
	i := strings.LastIndexByte(rest, '-')
	if i < 0 {
		return time.Time{}, "", 0, bad("no sequence number")
	}
	writer = rest[:i]
	if err := incident.ValidateID(writer); err != nil {
		return time.Time{}, "", 0, bad("writer: " + err.Error())
	}
	seq, perr = strconv.ParseUint(rest[i+1:], 10, 64)
	if perr != nil {
		return time.Time{}, "", 0, bad("sequence number is not an unsigned integer")
	}
	return time.Unix(0, ns).UTC(), writer, seq, nil
}
