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
	"io"
	"maps"
	"math"
	"os"
	"slices"
	"sync"
	"time"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// encoders holds single-threaded zstd encoders: no goroutines, and the
// same input always compresses to the same bytes. It is a small free list
// rather than a sync.Pool: a pool is emptied by every other GC, and the
// freeze path allocates enough to collect often, so each part paid for a
// new encoder and its window buffers.
//
// The level is zstd's fastest: on OTLP/JSON parts it compresses as well as
// the default level (the records repeat long runs of keys and resource
// attributes, which the fast matcher finds) in about half the time, and
// protobuf parts grow by about 1%. The window is a segment (see
// segmentChunks): a segment's frame cannot use a longer one. The history
// buffer is the window and one block (WithLowerEncoderMem), not twice the
// window: a frame never holds more than a segment, so the history is never
// moved down and the output is the same bytes, for half the memory (two
// encoders are in use while a part is written).
var encoders = make(chan *zstd.Encoder, 4)

func getEncoder() *zstd.Encoder {
	keepFreeLists()
	select {
	case enc := <-encoders:
		return enc
	default:
	}
	enc, err := zstd.NewWriter(nil, zstd.WithEncoderConcurrency(1), zstd.WithEncoderLevel(zstd.SpeedFastest),
		zstd.WithWindowSize(segmentChunks*chunkSize), zstd.WithLowerEncoderMem(true))
	if err != nil {
		panic(fmt.Sprintf("bundle: zstd encoder options: %v", err)) // static options; cannot fail
	}
	return enc
}

func putEncoder(enc *zstd.Encoder) {
	// The encoder keeps the writer it was last reset to: a pooled encoder
	// would otherwise hold the last part's whole output alive.
	enc.Reset(nil)
	select {
	case encoders <- enc:
	default:
	}
}

// chunkSize is the unit in which data files grow.
const chunkSize = 1 << 20

// segmentChunks is the number of chunks compressed as one zstd frame: a
// data file is compressed in frames of segmentChunks*chunkSize bytes, each
// as soon as it is full, while the caller goes on adding records. A frame
// is compressed on its own, so the part object is the same bytes whichever
// goroutine compressed it.
//
// Two chunks (2 MiB frames): while a part is written, the segment being
// filled, the one compressed beside it and each encoder's history are live
// at once, so the segment is what a freeze keeps in memory besides the
// part's compressed frames (about 9 MiB at 2 MiB, 17 MiB at 4 MiB, in a
// heap that the garbage collector's headroom doubles); with a spill file
// (SetSpill) those frames wait in the file instead. OTLP/JSON parts grow
// by about 1% against 4 MiB frames (56.58 -> 57.13 bytes per span in
// BenchmarkFreezeTraces).
const segmentChunks = 2

// compressSlots bounds the frames compressed in the background, beside the
// goroutine adding records: one, so that a freeze takes at most two cores
// and the pipeline keeps its share. A frame that finds no slot free is
// compressed by the goroutine that filled it.
var compressSlots = make(chan struct{}, 1)

// freeChunks and freeFrames hold the chunks of compressed segments and
// the output buffers of frames for the next ones, so that a part's data is
// neither copied as it grows nor cleared when allocated. They are small
// free lists rather than sync.Pools, as encoders is: a segment's chunks go
// back as soon as it is compressed, and a pool emptied by every other GC
// would make most segments allocate (and clear) fresh ones. They hold at
// most 6 MiB of chunks and the frames of a 64 MiB part kept in memory (a
// part with a spill file hands each frame back once it is in the file).
var (
	freeChunks = make(chan *[chunkSize]byte, 3*segmentChunks)
	freeFrames = make(chan *bytes.Buffer, 64/segmentChunks)
)

func getChunk() *[chunkSize]byte {
	keepFreeLists()
	select {
	case c := <-freeChunks:
		return c
	default:
		return new([chunkSize]byte)
	}
}

func putChunk(c *[chunkSize]byte) {
	select {
	case freeChunks <- c:
	default:
	}
}

func getFrameBuf() *bytes.Buffer {
	keepFreeLists()
	select {
	case b := <-freeFrames:
		b.Reset()
		return b
	default:
		return new(bytes.Buffer)
	}
}

func putFrameBuf(b *bytes.Buffer) {
	select {
	case freeFrames <- b:
	default:
	}
}

// freeListIdle is how long the free lists (encoders, freeChunks,
// freeFrames) are kept after their last use. While freezes follow each
// other (the parts of one window, the incidents of one flush) they reuse
// the same encoders and buffers; a collector that is not freezing gives
// them back instead of holding tens of MiB of part buffers for the next
// incident, which then pays for one new encoder and a few chunks.
var freeListIdle = 2 * time.Second

var freeListTimer struct {
	sync.Mutex
	t *time.Timer
}

// keepFreeLists records a use of the free lists: they are emptied
// freeListIdle after the last one.
func keepFreeLists() {
	freeListTimer.Lock()
	defer freeListTimer.Unlock()
	if freeListTimer.t == nil {
		freeListTimer.t = time.AfterFunc(freeListIdle, emptyFreeLists)
		return
	}
	freeListTimer.t.Reset(freeListIdle)
}

// emptyFreeLists drops what the free lists hold; a writer still running
// is unaffected (it only finds them empty and allocates).
func emptyFreeLists() {
	for {
		select {
		case <-encoders:
		case <-freeChunks:
		case <-freeFrames:
		default:
			return
		}
	}
}

// frame is one compressed zstd frame of a part object; data is set once
// done is closed. A frame moved to the part's spill file has no data: its
// bytes are n bytes at off in the file.
type frame struct {
	done   chan struct{}
	data   *bytes.Buffer
	off, n int64
}

// spill is the scratch file that holds a part's compressed frames until
// the part object is written (see PartWriter.SetSpill).
type spill struct {
	create func() (*os.File, error)
	file   *os.File
	off    int64
	// failed is set once the file could not be created or written: the
	// frames from then on stay in memory.
	failed bool
}

// move writes done frames to the spill file, in order, and hands their
// buffers back. It stops at the first frame still being compressed.
func (s *spill) move(frames []*frame) {
	if s == nil {
		return
	}
	for _, fr := range frames {
		if s.failed {
			return
		}
		select {
		case <-fr.done:
		default:
			return // still being compressed
		}
		if fr.data == nil {
			continue // moved already
		}
		if s.file == nil {
			f, err := s.create()
			if err != nil {
				s.failed = true
				return
			}
			s.file = f
		}
		n, err := s.file.WriteAt(fr.data.Bytes(), s.off)
		if err != nil {
			// The frame stays in memory; the spill file may hold part of
			// it, which no frame points at.
			s.failed = true
			return
		}
		putFrameBuf(fr.data)
		fr.data, fr.off, fr.n = nil, s.off, int64(n)
		s.off += int64(n)
	}
}

// close closes and forgets the spill file (its creator unlinked it).
func (s *spill) close() {
	if s != nil && s.file != nil {
		_ = s.file.Close()
		s.file, s.off = nil, 0
	}
}

// compressFrame compresses the concatenation of raw into one zstd frame.
func compressFrame(raw ...[]byte) *bytes.Buffer {
	out := getFrameBuf()
	enc := getEncoder()
	enc.Reset(out)
	for _, b := range raw {
		_, _ = enc.Write(b) // writes to a bytes.Buffer: cannot fail
	}
	_ = enc.Close()
	putEncoder(enc)
	return out
}

// dataFile is one data file being written: its size and running SHA-256,
// the compressed frames of its full segments and the chunks of the
// segment being filled.
type dataFile struct {
	n      int64
	sum    hash.Hash
	frames []*frame
	chunks []*[chunkSize]byte
	// pend is the number of bytes in chunks.
	pend int64
	// spill is the part's spill file, if it has one.
	spill *spill
}

func (f *dataFile) write(p ...[]byte) {
	for _, b := range p {
		f.sum.Write(b)
		for len(b) > 0 {
			if f.pend == int64(len(f.chunks))*chunkSize {
				if len(f.chunks) == segmentChunks {
					f.seal()
				}
				f.chunks = append(f.chunks, getChunk())
			}
			c := copy(f.chunks[len(f.chunks)-1][f.pend%chunkSize:], b)
			b = b[c:]
			f.n += int64(c)
			f.pend += int64(c)
		}
	}
}

// seal compresses the full segment in chunks as one frame, in the
// background if a slot is free, and hands its chunks back.
func (f *dataFile) seal() {
	fr := &frame{done: make(chan struct{})}
	cs := f.chunks
	f.chunks, f.pend = nil, 0
	f.frames = append(f.frames, fr)
	run := func() {
		raw := make([][]byte, len(cs))
		for i, c := range cs {
			raw[i] = c[:]
		}
		fr.data = compressFrame(raw...)
		for _, c := range cs {
			putChunk(c)
		}
		close(fr.done)
	}
	select {
	case compressSlots <- struct{}{}:
		go func() {
			defer func() { <-compressSlots }()
			run()
		}()
	default:
		run()
	}
	f.spill.move(f.frames)
}

// tail returns the bytes of the segment not compressed yet.
func (f *dataFile) tail() [][]byte {
	out := make([][]byte, 0, len(f.chunks))
	left := f.pend
	for _, c := range f.chunks {
		n := min(left, chunkSize)
		out = append(out, c[:n])
		left -= n
	}
	return out
}

// release hands the chunks and frame buffers back for the next part,
// once the frames compressed in the background are done.
func (f *dataFile) release() {
	for _, c := range f.chunks {
		putChunk(c)
	}
	for _, fr := range f.frames {
		<-fr.done
		if fr.data != nil {
			putFrameBuf(fr.data)
		}
	}
	f.chunks, f.frames, f.n, f.pend = nil, nil, 0, 0
}

// PartWriter builds one part in memory. Add items, then call Finish once.
// The caller bounds the part's size (see Size) and cuts parts as it likes.
// A PartWriter is not safe for concurrent use.
type PartWriter struct {
	info      PartInfo
	files     map[string]*dataFile
	size      int64
	maxFile   int64
	maxRecord int64
	limit     int64 // see SetLimit
	finished  bool
	// incident is the frozen incident record (incident.json), if set.
	incident []byte
	signer   *Signer
	spill    *spill // see SetSpill

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
		info:      info,
		files:     make(map[string]*dataFile),
		maxFile:   DefaultLimits.MaxFileSize,
		maxRecord: DefaultLimits.MaxRecordSize,
	}, nil
}

// SetIncident freezes the incident record into the part, as incident.json.
// Its ID must be the part's.
func (w *PartWriter) SetIncident(inc *incident.Incident) error {
	if w.finished {
		return errFinished
	}
	if inc.ID != w.info.IncidentID {
		return fmt.Errorf("incident record of %q in a part of incident %q", inc.ID, w.info.IncidentID)
	}
	b, err := json.MarshalIndent(inc, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", PartIncidentFile, err)
	}
	w.incident = append(b, '\n') //nolint:gocritic // b is MarshalIndent's own buffer, handed over
	return nil
}

// SetSigner makes Finish sign part.json with s (nil: unsigned).
func (w *PartWriter) SetSigner(s *Signer) { w.signer = s }

// SetSpill makes the writer keep the compressed frames of its data files
// in a scratch file rather than in memory until Finish or FinishTo writes
// them, so that a part being written holds only the segments it is
// compressing: the part object's frames are otherwise its whole
// compressed size, kept until the end because part.json, which comes
// first, lists every file's size and hash. create is called for the first
// frame; it returns a new empty file, read and written at offsets only,
// that nothing else uses and nobody needs to remove (created and unlinked
// at once, for example), and the writer closes it. If create or a write
// fails, the frames from then on stay in memory: the part is the same
// bytes either way. Call it before the first Add.
func (w *PartWriter) SetSpill(create func() (*os.File, error)) {
	if w.finished || w.size > 0 {
		return
	}
	w.spill = &spill{create: create}
}

// Discard drops a part that will not be finished: its buffers go back for
// the next part and its spill file is closed. The writer cannot be used
// afterwards.
func (w *PartWriter) Discard() {
	if w.finished {
		return
	}
	w.finished = true
	for _, f := range w.files {
		f.release()
	}
	w.files = nil
	w.spill.close()
}

// Size is the number of uncompressed bytes of data added so far.
func (w *PartWriter) Size() int64 { return w.size }

// Counts returns the items added so far.
func (w *PartWriter) Counts() Counts { return w.info.Counts }

// Info returns the part's info as it stands (Files is filled in by Finish).
func (w *PartWriter) Info() PartInfo { return w.info }

var errFinished = errors.New("part writer: already finished")

// errRecordTooLarge makes the Add methods split a batch: readers refuse
// records over Limits.MaxRecordSize.
var errRecordTooLarge = errors.New("record larger than the reader limit")

// appendRecord adds one record to the named file: a JSON line or a
// length-prefixed protobuf message, depending on the file.
func (w *PartWriter) appendRecord(name string, rec []byte, proto bool) error {
	n := int64(len(rec)) + 1
	if proto {
		if len(rec) > math.MaxUint32 {
			return fmt.Errorf("%s: record of %d bytes is too large for a 4-byte length", name, len(rec))
		}
		n = int64(len(rec)) + 4
	}
	if w.limit > 0 && (w.size+int64(len(w.incident))+n > w.limit || int64(len(rec)) > w.maxRecord) {
		// With a limit, the caller splits: so a batch is never added
		// in part.
		return ErrPartFull
	}
	if int64(len(rec)) > w.maxRecord {
		return errRecordTooLarge
	}
	f := w.files[name]
	if f == nil {
		f = &dataFile{sum: sha256.New(), spill: w.spill}
		w.files[name] = f
	}
	if f.n+n > w.maxFile {
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
// are skipped. A request that would encode to more than
// Limits.MaxRecordSize is split into several (a copy is split; td is left
// as it is).
func (w *PartWriter) AddTraces(td ptrace.Traces) error {
	return addSplit(w, td, 0, scanTraces, func(td ptrace.Traces) ([]byte, error) {
		if w.isProto() {
			return w.traceProto.MarshalTraces(td)
		}
		return w.traceJSON.MarshalTraces(td)
	}, halveTraces, func(n int64) { w.info.Counts.Spans += n })
}

// AddTracesJSON appends one request that the caller has already encoded
// as OTLP/JSON, exactly as AddTraces would have (pdata's JSONMarshaler
// output for a batch of spans spans, whose start times span tr), to the
// traces file of a JSON part. A record that would take the part past its
// limit, or is larger than Limits.MaxRecordSize, is refused with
// ErrPartFull whether or not a limit is set: the caller adds the batch
// with AddTraces instead, which splits it.
func (w *PartWriter) AddTracesJSON(rec []byte, spans int64, tr TimeRange) error {
	return w.addEncoded(0, false, rec, spans, tr, func(n int64) { w.info.Counts.Spans += n })
}

// AddLogsJSON is AddTracesJSON for a request of records log records (item
// times as AddLogs takes them), added to the logs file.
func (w *PartWriter) AddLogsJSON(rec []byte, records int64, tr TimeRange) error {
	return w.addEncoded(1, false, rec, records, tr, func(n int64) { w.info.Counts.LogRecords += n })
}

// AddTracesProto is AddTracesJSON for a part encoded as otlp_proto: rec is
// the request as pdata's ProtoMarshaler writes it (AddTraces' record).
func (w *PartWriter) AddTracesProto(rec []byte, spans int64, tr TimeRange) error {
	return w.addEncoded(0, true, rec, spans, tr, func(n int64) { w.info.Counts.Spans += n })
}

// AddLogsProto is AddTracesProto for a request of records log records.
func (w *PartWriter) AddLogsProto(rec []byte, records int64, tr TimeRange) error {
	return w.addEncoded(1, true, rec, records, tr, func(n int64) { w.info.Counts.LogRecords += n })
}

func (w *PartWriter) addEncoded(signal int, proto bool, rec []byte, n int64, tr TimeRange, count func(int64)) error {
	if w.finished {
		return errFinished
	}
	if w.isProto() != proto {
		want := EncodingJSON
		if proto {
			want = EncodingProto
		}
		return fmt.Errorf("adding an %s record to a part encoded as %s", want, w.info.Encoding)
	}
	if n == 0 {
		return nil
	}
	if int64(len(rec)) > w.maxRecord {
		return ErrPartFull
	}
	if err := w.appendRecord(signalFiles[w.info.Encoding][signal], rec, proto); err != nil {
		return err
	}
	count(n)
	w.info.TimeRange = w.info.TimeRange.Union(TimeRange{Min: normalizeTime(tr.Min), Max: normalizeTime(tr.Max)})
	return nil
}

// AddLogs appends one request to the logs file, as AddTraces does.
func (w *PartWriter) AddLogs(ld plog.Logs) error {
	return addSplit(w, ld, 1, scanLogs, func(ld plog.Logs) ([]byte, error) {
		if w.isProto() {
			return w.logProto.MarshalLogs(ld)
		}
		return w.logJSON.MarshalLogs(ld)
	}, halveLogs, func(n int64) { w.info.Counts.LogRecords += n })
}

// AddMetrics appends one request to the metrics file, as AddTraces does.
func (w *PartWriter) AddMetrics(md pmetric.Metrics) error {
	return addSplit(w, md, 2, scanMetrics, func(md pmetric.Metrics) ([]byte, error) {
		if w.isProto() {
			return w.metricPB.MarshalMetrics(md)
		}
		return w.metricJSON.MarshalMetrics(md)
	}, halveMetrics, func(n int64) { w.info.Counts.DataPoints += n })
}

// addSplit encodes batch as one record of the signal's file (0 traces, 1
// logs, 2 metrics); a record over the limit is split in two halves, each
// added the same way.
func addSplit[T any](w *PartWriter, batch T, signal int, scan func(T) (int64, TimeRange),
	marshal func(T) ([]byte, error), halve func(T) (T, T, bool), count func(int64)) error {
	if w.finished {
		return errFinished
	}
	n, tr := scan(batch)
	if n == 0 {
		return nil
	}
	name := signalFiles[w.info.Encoding][signal]
	rec, err := marshal(batch)
	if err != nil {
		return fmt.Errorf("encoding %s: %w", name, err)
	}
	err = w.appendRecord(name, rec, w.isProto())
	if errors.Is(err, errRecordTooLarge) {
		a, b, ok := halve(batch)
		if !ok {
			return fmt.Errorf("%s: a single item encodes to %d bytes, more than the %d-byte record limit", name, len(rec), w.maxRecord)
		}
		if err := addSplit(w, a, signal, scan, marshal, halve, count); err != nil {
			return err
		}
		return addSplit(w, b, signal, scan, marshal, halve, count)
	}
	if err != nil {
		return err
	}
	count(n)
	w.info.TimeRange = w.info.TimeRange.Union(tr)
	return nil
}

// EncodedEvent is an event with its line of events.jsonl, encoded once by
// EncodeEvent, for a writer that needs the line before it adds the event
// (the evidence exporter hashes it to recognise events a bundle holds).
type EncodedEvent struct {
	time time.Time
	line []byte
}

// EncodeEvent encodes ev as AddEvent writes it.
func EncodeEvent(ev incident.Event) (EncodedEvent, error) {
	line, err := json.Marshal(ev)
	if err != nil {
		return EncodedEvent{}, fmt.Errorf("encoding %s event: %w", ev.Kind, err)
	}
	return EncodedEvent{time: ev.Time, line: line}, nil
}

// Line returns the event's line of events.jsonl, without its newline. The
// caller must not change it.
func (e EncodedEvent) Line() []byte { return e.line }

// AddEvent appends one line to events.jsonl.
func (w *PartWriter) AddEvent(ev incident.Event) error {
	if w.finished {
		return errFinished
	}
	e, err := EncodeEvent(ev)
	if err != nil {
		return err
	}
	return w.AddEncodedEvent(e)
}

// AddEncodedEvent is AddEvent for an event EncodeEvent encoded.
func (w *PartWriter) AddEncodedEvent(e EncodedEvent) error {
	if w.finished {
		return errFinished
	}
	if err := w.appendRecord(EventsFile, e.line, false); err != nil {
		return err
	}
	w.info.Counts.Events++
	w.info.TimeRange.Extend(normalizeTime(e.time))
	return nil
}

// Finish writes the tar archive, compresses it and returns the part object
// and its final PartInfo. The writer cannot be used afterwards.
func (w *PartWriter) Finish() ([]byte, PartInfo, error) {
	frames, info, err := w.finish()
	if err != nil {
		return nil, PartInfo{}, err
	}
	defer frames.release()
	defer w.spill.close()
	var out bytes.Buffer
	out.Grow(int(frames.size()))
	if _, err := frames.writeTo(&out, w.spill); err != nil {
		return nil, PartInfo{}, err
	}
	return out.Bytes(), info, nil
}

// FinishTo is Finish writing the part object to dst, frame by frame,
// instead of returning it: the compressed frames are not copied into one
// buffer first, so a part costs its compressed size once, not twice. It
// returns the object's PartRef (its size and SHA-256 as written) beside
// the final PartInfo. On an error from dst the object is incomplete; the
// writer cannot be used afterwards either way.
func (w *PartWriter) FinishTo(dst io.Writer) (PartRef, PartInfo, error) {
	frames, info, err := w.finish()
	if err != nil {
		return PartRef{}, PartInfo{}, err
	}
	defer frames.release()
	defer w.spill.close()
	name, err := PartName(info.Seq)
	if err != nil {
		return PartRef{}, PartInfo{}, err
	}
	sum := sha256.New()
	size, err := frames.writeTo(io.MultiWriter(sum, dst), w.spill)
	if err != nil {
		return PartRef{}, PartInfo{}, fmt.Errorf("writing part %s: %w", name, err)
	}
	return partRef(name, info, size, sum.Sum(nil)), info, nil
}

// partFrames are the zstd frames of a part object, in order, each done.
type partFrames []*frame

// size is the object's size.
func (fs partFrames) size() int64 {
	var n int64
	for _, fr := range fs {
		if fr.data != nil {
			n += int64(fr.data.Len())
		} else {
			n += fr.n
		}
	}
	return n
}

// writeTo writes the frames to dst, those in the spill file from it, and
// returns the bytes written.
func (fs partFrames) writeTo(dst io.Writer, sp *spill) (int64, error) {
	var size int64
	for _, fr := range fs {
		var (
			n   int64
			err error
		)
		if fr.data != nil {
			var m int
			m, err = dst.Write(fr.data.Bytes())
			n = int64(m)
		} else {
			n, err = io.Copy(dst, io.NewSectionReader(sp.file, fr.off, fr.n))
			if err == nil && n < fr.n {
				err = io.ErrUnexpectedEOF
			}
		}
		size += n
		if err != nil {
			return size, err
		}
	}
	return size, nil
}

// release hands the frames' buffers back to the free list.
func (fs partFrames) release() {
	for _, fr := range fs {
		if fr.data != nil {
			putFrameBuf(fr.data)
		}
	}
}

// finish builds the part object's frames and the final PartInfo (see
// Finish). The caller releases the frames.
func (w *PartWriter) finish() (partFrames, PartInfo, error) {
	if w.finished {
		return nil, PartInfo{}, errFinished
	}
	w.finished = true
	info := w.info
	info.Lossless = len(info.Losses) == 0
	info.Files = make(map[string]FileInfo, len(w.files))
	for name, f := range w.files {
		info.Files[name] = FileInfo{Size: f.n, SHA256: hex.EncodeToString(f.sum.Sum(nil))}
	}
	if w.incident != nil {
		sum := sha256.Sum256(w.incident)
		info.Files[PartIncidentFile] = FileInfo{Size: int64(len(w.incident)), SHA256: hex.EncodeToString(sum[:])}
	}
	infoJSON, err := json.MarshalIndent(info, "", "  ")
	if err != nil {
		return nil, PartInfo{}, fmt.Errorf("encoding %s: %w", PartInfoFile, err)
	}
	infoJSON = append(infoJSON, '\n')
	var envelope []byte
	if w.signer != nil {
		if envelope, err = w.signer.Sign(PartPayloadType, infoJSON); err != nil {
			return nil, PartInfo{}, fmt.Errorf("signing %s: %w", PartInfoFile, err)
		}
	}

	// The object is a tar archive in zstd frames: the data files' full
	// segments are the frames compressed while they were added; what lies
	// between them (tar headers, padding, the small files and each data
	// file's last segment) is compressed into frames of its own here.
	mtime := info.CreatedAt.Truncate(time.Second)
	var (
		frames partFrames
		raw    [][]byte
		done   bool
	)
	glue := func() {
		if len(raw) > 0 {
			frames = append(frames, &frame{data: compressFrame(raw...)})
			raw = raw[:0]
		}
	}
	defer func() {
		if !done {
			frames.release()
			w.spill.close()
		}
		for _, f := range w.files {
			f.release()
		}
		w.files = nil
	}()
	header := func(name string, size int64) error {
		hdr, err := tarHeader(name, size, mtime)
		if err != nil {
			return err
		}
		raw = append(raw, hdr)
		return nil
	}
	// part.json first, then its signature and the incident record, so
	// that a reader knows every file's size and hash, and whether to trust
	// them, before the first byte of data.
	head := []struct {
		name string
		data []byte
	}{{PartInfoFile, infoJSON}, {PartSignatureFile, envelope}, {PartIncidentFile, w.incident}}
	for _, h := range head {
		if h.data != nil {
			if err := header(h.name, int64(len(h.data))); err != nil {
				return nil, PartInfo{}, err
			}
			raw = append(raw, h.data, tarPadding(int64(len(h.data))))
		}
	}
	for _, name := range slices.Sorted(maps.Keys(w.files)) {
		f := w.files[name]
		if err := header(name, f.n); err != nil {
			return nil, PartInfo{}, err
		}
		if len(f.frames) > 0 {
			glue()
			for _, fr := range f.frames {
				<-fr.done
				frames = append(frames, fr)
			}
			f.frames = nil
		}
		raw = append(raw, f.tail()...)
		raw = append(raw, tarPadding(f.n))
	}
	raw = append(raw, tarEnd[:])
	glue()
	done = true
	return frames, info, nil
}

// tarBlock is the size of a tar block: headers and file content are padded
// to it.
const tarBlock = 512

// tarEnd is the end of a tar archive: two zero blocks.
var tarEnd [2 * tarBlock]byte

// tarPadding returns the zero bytes that pad size bytes of file content to
// a whole tar block.
func tarPadding(size int64) []byte {
	return tarEnd[:(tarBlock-size%tarBlock)%tarBlock]
}

// tarHeader returns the USTAR header block of a regular file, as
// archive/tar writes it.
func tarHeader(name string, size int64, mtime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	err := tw.WriteHeader(&tar.Header{
		Typeflag: tar.TypeReg,
		Name:     name,
		Size:     size,
		Mode:     fileMode,
		ModTime:  mtime,
		Format:   tar.FormatUSTAR,
	})
	if err != nil {
		return nil, fmt.Errorf("tar header for %s: %w", name, err)
	}
	if buf.Len() != tarBlock {
		return nil, fmt.Errorf("tar header for %s: %d bytes, want one %d-byte block", name, buf.Len(), tarBlock)
	}
	return buf.Bytes(), nil
}
