package bundle

import (
	"archive/tar"
	"bytes"
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"maps"
	"math"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// encoderPool holds single-threaded zstd encoders: no goroutines, and the
// same input always compresses to the same bytes.
var encoderPool = sync.Pool{New: func() any {
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedDefault))
	if err != nil {
		panic(fmt.Sprintf("bundle: zstd encoder options: %v", err)) // static options; cannot fail
	}
	return enc
}}

// dataFile is one data file being written: content and running SHA-256.
type dataFile struct {
	buf bytes.Buffer
	sum hash.Hash
}

func (f *dataFile) write(p ...[]byte) {
	for _, b := range p {
		f.buf.Write(b)
		f.sum.Write(b)
	}
}

// PartWriter builds one part in memory. Add items, then call Finish once.
// The caller bounds the part's size (see Size) and cuts parts as it likes.
// A PartWriter is not safe for concurrent use.
type PartWriter struct {
	info     PartInfo
	files    map[string]*dataFile
	size     int64
	maxFile  int64
	finished bool

	traceJSON  ptrace.JSONMarshaler
	traceProto ptrace.ProtoMarshaler
	logJSON    plog.JSONMarshaler
	logProto   plog.ProtoMarshaler
	metricJSON pmetric.JSONMarshaler
	metricPB   pmetric.ProtoMarshaler
}

// NewPartWriter starts a part. info must carry IncidentID, CollectorID,
// Seq, Encoding, CreatedAt and Window; Format, TimeRange, Counts and Files
// are filled in by the writer. Times are stored in UTC.
func NewPartWriter(info PartInfo) (*PartWriter, error) {
	info.Format = FormatVersion
	info.CreatedAt = normalizeTime(info.CreatedAt)
	info.Window = Window{Start: normalizeTime(info.Window.Start), End: normalizeTime(info.Window.End)}
	info.TimeRange = TimeRange{}
	info.Counts = Counts{}
	info.Files = nil
	info.Losses = MergeLosses(nil, info.Losses...)
	if err := info.validateHeader(); err != nil {
		return nil, fmt.Errorf("part info: %w", err)
	}
	return &PartWriter{
		info:    info,
		files:   make(map[string]*dataFile),
		maxFile: DefaultLimits.MaxFileSize,
	}, nil
}

// Size is the number of uncompressed bytes of data added so far.
func (w *PartWriter) Size() int64 { return w.size }

// Counts returns the items added so far.
func (w *PartWriter) Counts() Counts { return w.info.Counts }

// Info returns the part's info as it stands (Files is filled in by Finish).
func (w *PartWriter) Info() PartInfo { return w.info }

var errFinished = errors.New("part writer: already finished")

// appendRecord adds one record to the named file: a JSON line or a
// length-prefixed protobuf message, depending on the file.
func (w *PartWriter) appendRecord(name string, rec []byte, proto bool) error {
	f := w.files[name]
	if f == nil {
		f = &dataFile{sum: sha256.New()}
		w.files[name] = f
	}
	n := int64(len(rec)) + 1
	if proto {
		if len(rec) > math.MaxUint32 {
			return fmt.Errorf("%s: record of %d bytes is too large for a 4-byte length", name, len(rec))
		}
		n = int64(len(rec)) + 4
	}
	if int64(f.buf.Len())+n > w.maxFile {
		return fmt.Errorf("%s: adding %d bytes would exceed the %d-byte file limit; cut the part earlier", name, n, w.maxFile)
	}
	if proto {
		var hdr [4]byte
		binary.BigEndian.PutUint32(hdr[:], uint32(len(rec)))
		f.write(hdr[:], rec)
	} else {
		f.write(rec, []byte{'\n'})
	}
	w.size += n
	return nil
}

func (w *PartWriter) isProto() bool { return w.info.Encoding == EncodingProto }

// AddTraces appends one request to the traces file. Batches without spans
// are skipped.
func (w *PartWriter) AddTraces(td ptrace.Traces) error {
	if w.finished {
		return errFinished
	}
	n, tr := scanTraces(td)
	if n == 0 {
		return nil
	}
	var rec []byte
	var err error
	if w.isProto() {
		rec, err = w.traceProto.MarshalTraces(td)
	} else {
		rec, err = w.traceJSON.MarshalTraces(td)
	}
	if err != nil {
		return fmt.Errorf("encoding traces: %w", err)
	}
	if err := w.appendRecord(signalFiles[w.info.Encoding][0], rec, w.isProto()); err != nil {
		return err
	}
	w.info.Counts.Spans += n
	w.info.TimeRange = w.info.TimeRange.Union(tr)
	return nil
}

// AddLogs appends one request to the logs file. Batches without log
// records are skipped.
func (w *PartWriter) AddLogs(ld plog.Logs) error {
	if w.finished {
		return errFinished
	}
	n, tr := scanLogs(ld)
	if n == 0 {
		return nil
	}
	var rec []byte
	var err error
	if w.isProto() {
		rec, err = w.logProto.MarshalLogs(ld)
	} else {
		rec, err = w.logJSON.MarshalLogs(ld)
	}
	if err != nil {
		return fmt.Errorf("encoding logs: %w", err)
	}
	if err := w.appendRecord(signalFiles[w.info.Encoding][1], rec, w.isProto()); err != nil {
		return err
	}
	w.info.Counts.LogRecords += n
	w.info.TimeRange = w.info.TimeRange.Union(tr)
	return nil
}

// AddMetrics appends one request to the metrics file. Batches without data
// points are skipped.
func (w *PartWriter) AddMetrics(md pmetric.Metrics) error {
	if w.finished {
		return errFinished
	}
	n, tr := scanMetrics(md)
	if n == 0 {
		return nil
	}
	var rec []byte
	var err error
	if w.isProto() {
		rec, err = w.metricPB.MarshalMetrics(md)
	} else {
		rec, err = w.metricJSON.MarshalMetrics(md)
	}
	if err != nil {
		return fmt.Errorf("encoding metrics: %w", err)
	}
	if err := w.appendRecord(signalFiles[w.info.Encoding][2], rec, w.isProto()); err != nil {
		return err
	}
	w.info.Counts.DataPoints += n
	w.info.TimeRange = w.info.TimeRange.Union(tr)
	return nil
}

// AddEvent appends one line to events.jsonl.
func (w *PartWriter) AddEvent(ev incident.Event) error {
	if w.finished {
		return errFinished
	}
	rec, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("encoding %s event: %w", ev.Kind, err)
	}
	if err := w.appendRecord(EventsFile, rec, false); err != nil {
		return err
	}
	w.info.Counts.Events++
	w.info.TimeRange.Extend(normalizeTime(ev.Time))
	return nil
}

// Finish writes the tar archive, compresses it and returns the part object
// and its final PartInfo. The writer cannot be used afterwards.
func (w *PartWriter) Finish() ([]byte, PartInfo, error) {
	if w.finished {
		return nil, PartInfo{}, errFinished
	}
	w.finished = true
	info := w.info
	info.Lossless = len(info.Losses) == 0
	info.Files = make(map[string]FileInfo, len(w.files))
	for name, f := range w.files {
		info.Files[name] = FileInfo{Size: int64(f.buf.Len()), SHA256: hex.EncodeToString(f.sum.Sum(nil))}
	}
	infoJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, PartInfo{}, fmt.Errorf("encoding %s: %w", PartInfoFile, err)
	}
	infoJSON = append(infoJSON, '\n')

	var out bytes.Buffer
	out.Grow(int(w.size/4) + 4096)
	enc := encoderPool.Get().(*zstd.Encoder)
	defer encoderPool.Put(enc)
	enc.Reset(&out)
	tw := tar.NewWriter(enc)
	mtime := info.CreatedAt.Truncate(time.Second)
	add := func(name string, data []byte) error {
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     name,
			Size:     int64(len(data)),
			Mode:     fileMode,
			ModTime:  mtime,
			Format:   tar.FormatUSTAR,
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return fmt.Errorf("tar header for %s: %w", name, err)
		}
		if _, err := tw.Write(data); err != nil {
			return fmt.Errorf("writing %s: %w", name, err)
		}
		return nil
	}
	if err := add(PartInfoFile, infoJSON); err != nil {
		_ = enc.Close()
		return nil, PartInfo{}, err
	}
	for _, name := range slices.Sorted(maps.Keys(w.files)) {
		if err := add(name, w.files[name].buf.Bytes()); err != nil {
			_ = enc.Close()
			return nil, PartInfo{}, err
		}
	}
	w.files = nil
	if err := tw.Close(); err != nil {
		_ = enc.Close()
		return nil, PartInfo{}, fmt.Errorf("closing tar: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, PartInfo{}, fmt.Errorf("closing zstd stream: %w", err)
	}
	return out.Bytes(), info, nil
}
