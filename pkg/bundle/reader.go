package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Limits bound what reading a part from outside may cost.
type Limits struct {
	// MaxFileSize caps each file inside the part, after decompression.
	MaxFileSize int64
	// MaxTotalSize caps all files of the part together, after decompression,
	// and the compressed part object read by VerifyBundle and VerifyDir.
	MaxTotalSize int64
	// MaxWindow caps the zstd window (the decoder's history buffer), and
	// so the decoder's memory.
	MaxWindow uint64
	// MaxRecordSize caps one record of a data file: a JSON line or a
	// length-prefixed protobuf message. Readers hold one record at a time,
	// so this bounds their memory; PartWriter splits requests that would
	// encode to more.
	MaxRecordSize int64
}

// DefaultLimits are used by the readers of this package, and PartWriter
// refuses to write files or records a reader with these limits would
// reject. The zstd window is what PartWriter's encoder uses (8 MiB).
var DefaultLimits = Limits{
	MaxFileSize:   1 << 30,
	MaxTotalSize:  4 << 30,
	MaxWindow:     8 << 20,
	MaxRecordSize: 16 << 20,
}

func (l Limits) orDefault() Limits {
	if l == (Limits{}) {
		return DefaultLimits
	}
	return l
}

// maxTrailing bounds the bytes accepted after the tar's end-of-archive
// marker (record padding written by other tar implementations).
const maxTrailing = 64 << 10

// Part is a part read whole into memory by ReadPart: its part.json and the
// content of every file. Readers of parts from outside use OpenPart, which
// holds one record at a time.
type Part struct {
	// Info is the decoded part.json.
	Info PartInfo
	// Data holds each file's raw content by name, part.json, its signature
	// and the frozen incident.json included.
	Data map[string][]byte
	// Signature is the outcome of checking part.json's signature.
	Signature Signature
}

// Incident returns the incident record frozen into the part, nil when the
// part has none (format 1).
func (p *Part) Incident() (*incident.Incident, error) {
	raw, ok := p.Data[PartIncidentFile]
	if !ok {
		return nil, nil
	}
	return ParseIncident(raw)
}

// ErrCorrupt is matched (errors.Is) by every *VerifyError.
var ErrCorrupt = errors.New("evidence is corrupt or incomplete")

// VerifyError reports one bad file.
type VerifyError struct {
	// File is the object key or local path of the bad object, when known.
	File string `json:"file,omitempty"`
	// Entry is the file inside the part ("traces.jsonl"), or empty when the
	// problem concerns the object as a whole.
	Entry string `json:"entry,omitempty"`
	// Reason says what is wrong.
	Reason string `json:"reason"`
}

func (e *VerifyError) Error() string {
	s := e.Reason
	if e.Entry != "" {
		s = e.Entry + ": " + s
	}
	if e.File != "" {
		s = e.File + ": " + s
	}
	return s
}

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *VerifyError) Is(target error) bool { return target == ErrCorrupt }

func verifyErr(entry, format string, args ...any) *VerifyError {
	return &VerifyError{Entry: entry, Reason: fmt.Sprintf(format, args...)}
}

// streamErr turns an error from the zstd or tar layer into a VerifyError.
func streamErr(entry string, err error) *VerifyError {
	var ve *VerifyError
	switch {
	case errors.As(err, &ve):
		return ve
	case errors.Is(err, io.ErrUnexpectedEOF):
		return verifyErr(entry, "part is truncated (%v)", err)
	case errors.Is(err, zstd.ErrWindowSizeExceeded), errors.Is(err, zstd.ErrDecoderSizeExceeded):
		return verifyErr(entry, "part's zstd window exceeds the reader's limit (%v)", err)
	}
	return verifyErr(entry, "part is not a valid zstd-compressed tar: %v", err)
}

// ReadPart reads a part object (a .tar.zst) whole into memory with
// DefaultLimits. Structural problems (bad compression, truncation,
// unexpected tar entries, a missing or invalid part.json, a file larger
// than part.json declares, limits exceeded) are returned as *VerifyError;
// file hashes are checked by Part.Verify.
func ReadPart(r io.Reader) (*Part, error) { return ReadPartLimits(r, DefaultLimits) }

// ReadPartLimits is ReadPart with explicit limits.
func ReadPartLimits(r io.Reader, lim Limits) (*Part, error) {
	ps, err := OpenPart(r, ReadOptions{Limits: lim})
	if err != nil {
		return nil, err
	}
	defer ps.Close()
	p := &Part{Info: ps.Info(), Data: map[string][]byte{PartInfoFile: ps.InfoJSON()}, Signature: ps.Signature()}
	if ps.envelope != nil {
		p.Data[PartSignatureFile] = ps.envelope
	}
	if ps.incidentJSON != nil {
		p.Data[PartIncidentFile] = ps.incidentJSON
	}
	for {
		name, fr, err := ps.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, err
		}
		buf := bytes.NewBuffer(make([]byte, 0, min(ps.info.Files[name].Size, 80<<20)+bytes.MinRead))
		if _, err := buf.ReadFrom(fr); err != nil && !isContentMismatch(err) {
			return nil, err
		}
		p.Data[name] = buf.Bytes()
	}
	return p, nil
}

// Problems checks every data file's size and SHA-256 against part.json,
// that part.json lists exactly the files present, and that every kind of
// item counted in part.json has its file. It returns one VerifyError per
// problem, with Entry naming the file.
func (p *Part) Problems() []*VerifyError {
	var out []*VerifyError
	for _, name := range slices.Sorted(maps.Keys(p.Data)) {
		if name == PartInfoFile || name == PartSignatureFile {
			continue
		}
		if !dataFileAllowed(name, p.Info.Encoding) {
			out = append(out, verifyErr(name, "not a data file of an %s part", p.Info.Encoding))
			continue
		}
		if _, ok := p.Info.Files[name]; !ok {
			out = append(out, verifyErr(name, "present in part but not listed in %s", PartInfoFile))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(p.Info.Files)) {
		want := p.Info.Files[name]
		got, ok := p.Data[name]
		if !ok {
			out = append(out, verifyErr(name, "listed in %s but missing from part", PartInfoFile))
			continue
		}
		if int64(len(got)) != want.Size {
			out = append(out, verifyErr(name, "size %d, %s says %d", len(got), PartInfoFile, want.Size))
			continue
		}
		sum := sha256.Sum256(got)
		if h := hex.EncodeToString(sum[:]); h != want.SHA256 {
			out = append(out, verifyErr(name, "sha256 %s, %s says %s", h, PartInfoFile, want.SHA256))
		}
	}
	return append(out, p.Info.countProblems()...)
}

// countProblems checks that every kind of item part.json counts has its
// file, and that no file is listed for a kind it counts none of.
func (p *PartInfo) countProblems() []*VerifyError {
	var out []*VerifyError
	files := signalFiles[p.Encoding]
	c := p.Counts
	for i, n := range []int64{c.Spans, c.LogRecords, c.DataPoints, c.Events} {
		name := EventsFile
		if i < 3 {
			name = files[i]
		}
		if _, ok := p.Files[name]; (n > 0) != ok {
			out = append(out, verifyErr(name, "%s counts %d items but the file is %s", PartInfoFile, n, presence(ok)))
		}
	}
	return out
}

func presence(ok bool) string {
	if ok {
		return "present"
	}
	return "absent"
}

// Verify returns nil when Problems finds none, else every problem joined;
// errors.As finds the first *VerifyError.
func (p *Part) Verify() error {
	probs := p.Problems()
	errs := make([]error, len(probs))
	for i, e := range probs {
		errs[i] = e
	}
	return errors.Join(errs...)
}

// records calls fn with each record of a data file: JSON lines (empty
// lines skipped) or length-prefixed protobuf messages.
func (p *Part) records(name string, proto bool, fn func(i int, rec []byte) error) error {
	data := p.Data[name]
	for i := 1; len(data) > 0; i++ {
		var rec []byte
		if proto {
			if len(data) < 4 {
				return verifyErr(name, "record %d: truncated length prefix", i)
			}
			n := binary.BigEndian.Uint32(data)
			if uint64(n) > uint64(len(data)-4) {
				return verifyErr(name, "record %d: length %d exceeds the %d bytes left", i, n, len(data)-4)
			}
			rec, data = data[4:4+n], data[4+n:]
		} else {
			line, rest, _ := bytes.Cut(data, []byte{'\n'})
			rec, data = line, rest
			if len(bytes.TrimSpace(rec)) == 0 {
				continue
			}
		}
		if err := fn(i, rec); err != nil {
			return err
		}
	}
	return nil
}

// RecordError marks an error of decoding a record that EachRecord's
// caller returns: EachRecord reports it as a *VerifyError naming the file
// and the record.
type RecordError struct{ Err error }

func (e RecordError) Error() string { return e.Err.Error() }
func (e RecordError) Unwrap() error { return e.Err }

// EachRecord calls fn with every record of the part's data file name,
// undecoded and in order: a line of an otlp_json part (blank lines
// skipped), a length-prefixed message of an otlp_proto part. It lets a
// reader decode only what it needs; Traces, Logs, Metrics and Events decode
// records whole.
func (p *Part) EachRecord(name string, fn func(rec []byte) error) error {
	return p.each(name, p.Info.Encoding == EncodingProto, func(rec []byte) error {
		err := fn(rec)
		var re RecordError
		if errors.As(err, &re) {
			return decodeErr{re.Err}
		}
		return err
	})
}

// decodeErr marks errors from decoding a record, leaving fn's errors as
// they are.
type decodeErr struct{ err error }

func (d decodeErr) Error() string { return d.err.Error() }

func (p *Part) each(name string, proto bool, decode func([]byte) error) error {
	err := p.records(name, proto, func(i int, rec []byte) error {
		if err := decode(rec); err != nil {
			var de decodeErr
			if errors.As(err, &de) {
				return verifyErr(name, "record %d: %v", i, de.err)
			}
			return err
		}
		return nil
	})
	return err
}

// Traces calls fn with every request in the traces file, in order. It
// stops at the first error, from decoding (a *VerifyError) or from fn.
func (p *Part) Traces(fn func(ptrace.Traces) error) error {
	name := signalFiles[p.Info.Encoding][0]
	proto := p.Info.Encoding == EncodingProto
	return p.each(name, proto, func(rec []byte) error {
		var td ptrace.Traces
		var err error
		if proto {
			td, err = (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(rec)
		} else {
			td, err = (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(rec)
		}
		if err != nil {
			return decodeErr{err}
		}
		return fn(td)
	})
}

// Logs calls fn with every request in the logs file, in order.
func (p *Part) Logs(fn func(plog.Logs) error) error {
	name := signalFiles[p.Info.Encoding][1]
	proto := p.Info.Encoding == EncodingProto
	return p.each(name, proto, func(rec []byte) error {
		var ld plog.Logs
		var err error
		if proto {
			ld, err = (&plog.ProtoUnmarshaler{}).UnmarshalLogs(rec)
		} else {
			ld, err = (&plog.JSONUnmarshaler{}).UnmarshalLogs(rec)
		}
		if err != nil {
			return decodeErr{err}
		}
		return fn(ld)
	})
}

// Metrics calls fn with every request in the metrics file, in order.
func (p *Part) Metrics(fn func(pmetric.Metrics) error) error {
	name := signalFiles[p.Info.Encoding][2]
	proto := p.Info.Encoding == EncodingProto
	return p.each(name, proto, func(rec []byte) error {
		var md pmetric.Metrics
		var err error
		if proto {
			md, err = (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(rec)
		} else {
			md, err = (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(rec)
		}
		if err != nil {
			return decodeErr{err}
		}
		return fn(md)
	})
}

// Events calls fn with every event in events.jsonl, in order.
func (p *Part) Events(fn func(incident.Event) error) error {
	return p.each(EventsFile, false, func(rec []byte) error {
		var ev incident.Event
		if err := json.Unmarshal(rec, &ev); err != nil {
			return decodeErr{err}
		}
		return fn(ev)
	})
}
