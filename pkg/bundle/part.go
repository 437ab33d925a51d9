package bundle

import (
	"errors"
	"fmt"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// FormatVersion is the version of the part and manifest formats written by
// this package. Readers accept every version from MinFormatVersion on.
//
// Version 2 adds 'lossless' and 'losses' to manifests and part.json, and
// 'late' to late parts (a version 1 bundle reads as "losses unknown"); and
// custody: the incident record frozen into each part (incident.json), the
// SHA-256 of the collector's previous part object in part.json (a hash
// chain), part.json and manifests signed in DSSE envelopes, and derived
// (redacted) bundles (a version 1 bundle reads as unsigned, without a
// frozen incident record or chain).
const FormatVersion = 2

// MinFormatVersion is the oldest format readers accept.
const MinFormatVersion = 1

// Encodings of the signal files in a part.
const (
	// EncodingJSON is the OTLP File format: JSON Lines of OTLP/JSON requests.
	EncodingJSON = "otlp_json"
	// EncodingProto is length-prefixed (4-byte big-endian) OTLP protobuf requests.
	EncodingProto = "otlp_proto"
)

// Names of the files inside a part.
const (
	PartInfoFile = "part.json"
	// PartSignatureFile is the DSSE envelope of part.json (payload: the
	// part.json bytes, type PartPayloadType), right after part.json in a
	// signed part.
	PartSignatureFile = "part.json.dsse"
	// PartIncidentFile is the incident record as it stood when the part was
	// frozen (an incident.Incident in JSON), listed in part.json's Files.
	PartIncidentFile = IncidentFile
	EventsFile       = "events.jsonl"
	TracesJSONFile   = "traces.jsonl"
	LogsJSONFile     = "logs.jsonl"
	MetricsJSONFile  = "metrics.jsonl"
	TracesProtoFile  = "traces.binpb"
	LogsProtoFile    = "logs.binpb"
	MetricsProtoFile = "metrics.binpb"
)

// Content types to pass in store.PutOptions.
const (
	PartContentType     = "application/zstd"
	ManifestContentType = "application/json"
)

const (
	maxPartInfoSize = 1 << 20  // part.json
	MaxManifestSize = 64 << 20 // manifest.json
	fileMode        = 0o644
	sha256HexLen    = 64
)

// signalFiles maps an encoding to its traces, logs and metrics file names.
var signalFiles = map[string][3]string{
	EncodingJSON:  {TracesJSONFile, LogsJSONFile, MetricsJSONFile},
	EncodingProto: {TracesProtoFile, LogsProtoFile, MetricsProtoFile},
}

// knownFile reports whether name may appear in a part of any encoding.
func knownFile(name string) bool {
	switch name {
	case PartInfoFile, PartSignatureFile, PartIncidentFile, EventsFile, TracesJSONFile, LogsJSONFile, MetricsJSONFile,
		TracesProtoFile, LogsProtoFile, MetricsProtoFile:
		return true
	}
	return false
}

// dataFileAllowed reports whether name is a data file of a part with the
// given encoding.
func dataFileAllowed(name, encoding string) bool {
	if name == EventsFile || name == PartIncidentFile {
		return true
	}
	for _, f := range signalFiles[encoding] {
		if f == name {
			return true
		}
	}
	return false
}

// ValidEncoding reports whether enc is EncodingJSON or EncodingProto.
func ValidEncoding(enc string) bool {
	_, ok := signalFiles[enc]
	return ok
}

// Window is the incident's evidence window, [Start, End].
type Window struct {
	Start time.Time `json:"start"`
	End   time.Time `json:"end"`
}

// TimeRange is the span of item times, [Min, Max]. The zero value means no
// timed items.
type TimeRange struct {
	Min time.Time `json:"min"`
	Max time.Time `json:"max"`
}

// IsZero reports whether the range holds no time.
func (r TimeRange) IsZero() bool { return r.Min.IsZero() && r.Max.IsZero() }

// Extend widens the range to include t; zero times are ignored.
func (r *TimeRange) Extend(t time.Time) {
	if t.IsZero() {
		return
	}
	if r.Min.IsZero() || t.Before(r.Min) {
		r.Min = t
	}
	if r.Max.IsZero() || t.After(r.Max) {
		r.Max = t
	}
}

// Union returns the smallest range holding both r and o.
func (r TimeRange) Union(o TimeRange) TimeRange {
	out := r
	out.Extend(o.Min)
	out.Extend(o.Max)
	return out
}

// Counts are the number of items in a part or a bundle.
type Counts struct {
	Spans      int64 `json:"spans"`
	LogRecords int64 `json:"log_records"`
	// DataPoints counts metric data points of every type.
	DataPoints int64 `json:"data_points"`
	Events     int64 `json:"events"`
}

// Add returns the sum of c and o.
func (c Counts) Add(o Counts) Counts {
	return Counts{
		Spans:      c.Spans + o.Spans,
		LogRecords: c.LogRecords + o.LogRecords,
		DataPoints: c.DataPoints + o.DataPoints,
		Events:     c.Events + o.Events,
	}
}

// Total is the number of items of every kind.
func (c Counts) Total() int64 { return c.Spans + c.LogRecords + c.DataPoints + c.Events }

func (c Counts) validate() error {
	if c.Spans < 0 || c.LogRecords < 0 || c.DataPoints < 0 || c.Events < 0 {
		return errors.New("counts must not be negative")
	}
	return nil
}

// FileInfo describes one data file inside a part.
type FileInfo struct {
	Size int64 `json:"size"`
	// SHA256 is the lowercase hex SHA-256 of the file's content.
	SHA256 string `json:"sha256"`
}

// PartInfo is part.json: what a part holds.
type PartInfo struct {
	// Format is FormatVersion; set by PartWriter.
	Format      int    `json:"format"`
	IncidentID  string `json:"incident_id"`
	CollectorID string `json:"collector_id"`
	// Seq is the part number, 1..MaxSeq.
	Seq int `json:"seq"`
	// Encoding is EncodingJSON or EncodingProto.
	Encoding  string    `json:"encoding"`
	CreatedAt time.Time `json:"created_at"`
	// Window is the incident's evidence window, not the part's own range.
	Window Window `json:"window"`
	// TimeRange spans the items of this part: span start times, log
	// timestamps (observed time when unset), data point times and event
	// times. Zero when the part has no timed item. Set by PartWriter.
	TimeRange TimeRange `json:"time_range,omitzero"`
	// Counts are set by PartWriter.
	Counts Counts `json:"counts"`
	// Files lists the data files and the frozen incident.json (not
	// part.json nor its signature), with the size and SHA-256 of each; set
	// by PartWriter. Readers stop the moment a file's content exceeds its
	// size here.
	Files map[string]FileInfo `json:"files"`
	// Lossless is true when the part is known to lack nothing of its share
	// of the window: Losses is empty (format 2 on; set by PartWriter).
	Lossless bool `json:"lossless"`
	// Losses are the items of the window found missing when this part was
	// frozen (see Loss); each loss is recorded in exactly one part.
	Losses []Loss `json:"losses,omitempty"`
	// Late marks a part written after the bundle was complete, with items
	// that arrived late (times inside the window).
	Late bool `json:"late,omitempty"`
	// PrevPartSHA256 is the SHA-256 (lowercase hex) of the compressed
	// object of this collector's previous part of the incident (Seq-1):
	// a hash chain, so that a missing, reordered or truncated sequence of
	// parts shows before any manifest lists them. Empty for part 1 and in
	// format 1.
	PrevPartSHA256 string `json:"prev_part_sha256,omitempty"`
	// SourcePartSHA256, in a part of a derived (redacted) bundle, is the
	// SHA-256 of the source bundle's part object this part was made from.
	SourcePartSHA256 string `json:"source_part_sha256,omitempty"`
}

// validateHeader checks the fields a caller supplies to NewPartWriter.
func (p *PartInfo) validateHeader() error {
	if p.Format < MinFormatVersion || p.Format > FormatVersion {
		return fmt.Errorf("'format' is %d, this version reads %d to %d", p.Format, MinFormatVersion, FormatVersion)
	}
	if err := incident.ValidateID(p.IncidentID); err != nil {
		return fmt.Errorf("'incident_id': %w", err)
	}
	if err := incident.ValidateID(p.CollectorID); err != nil {
		return fmt.Errorf("'collector_id': %w", err)
	}
	if err := checkSeq(p.Seq); err != nil {
		return fmt.Errorf("'seq': %w", err)
	}
	if !ValidEncoding(p.Encoding) {
		return fmt.Errorf("'encoding' must be %q or %q, got %q", EncodingJSON, EncodingProto, p.Encoding)
	}
	if p.CreatedAt.IsZero() {
		return errors.New("'created_at' is required")
	}
	if p.CreatedAt.Unix() < 0 {
		return fmt.Errorf("'created_at' %s is before 1970", p.CreatedAt)
	}
	if !p.Window.End.IsZero() && p.Window.End.Before(p.Window.Start) {
		return fmt.Errorf("'window.end' %s is before 'window.start' %s", p.Window.End, p.Window.Start)
	}
	if p.PrevPartSHA256 != "" && !isSHA256Hex(p.PrevPartSHA256) {
		return errors.New("'prev_part_sha256' must be 64 lowercase hex digits")
	}
	if p.Seq == 1 && p.PrevPartSHA256 != "" {
		return errors.New("'prev_part_sha256' must be empty in part 1")
	}
	if p.SourcePartSHA256 != "" && !isSHA256Hex(p.SourcePartSHA256) {
		return errors.New("'source_part_sha256' must be 64 lowercase hex digits")
	}
	return nil
}

// validate checks a part.json read from outside.
func (p *PartInfo) validate() error {
	if err := p.validateHeader(); err != nil {
		return err
	}
	if err := p.Counts.validate(); err != nil {
		return fmt.Errorf("'counts': %w", err)
	}
	if err := validateLosses(p.Format, p.Lossless, p.Losses); err != nil {
		return err
	}
	if !p.TimeRange.Max.IsZero() && p.TimeRange.Max.Before(p.TimeRange.Min) {
		return fmt.Errorf("'time_range.max' %s is before 'time_range.min' %s", p.TimeRange.Max, p.TimeRange.Min)
	}
	for name, f := range p.Files {
		if name == PartIncidentFile && p.Format < 2 {
			return fmt.Errorf("'files': %q in a format %d part", name, p.Format)
		}
		if !dataFileAllowed(name, p.Encoding) {
			return fmt.Errorf("'files': %q is not a data file of an %s part", name, p.Encoding)
		}
		if f.Size < 0 {
			return fmt.Errorf("'files.%s.size' must not be negative", name)
		}
		if !isSHA256Hex(f.SHA256) {
			return fmt.Errorf("'files.%s.sha256' must be 64 lowercase hex digits", name)
		}
	}
	return nil
}

func isSHA256Hex(s string) bool {
	if len(s) != sha256HexLen {
		return false
	}
	for _, c := range s {
		if (c < '0' || c > '9') && (c < 'a' || c > 'f') {
			return false
		}
	}
	return true
}

// normalizeTime drops the monotonic reading and the location, so equal
// instants marshal to equal bytes.
func normalizeTime(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return t.Round(0).UTC()
}
