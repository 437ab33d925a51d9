package bundle

import (
	"archive/tar"
	"bufio"
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
	"slices"

	"github.com/klauspost/compress/zstd"
	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// ReadOptions tune OpenPart.
type ReadOptions struct {
	// Limits bound the reading; the zero value means DefaultLimits.
	Limits Limits
	// Keys are the trusted keys part.json's signature is checked against;
	// nil checks none (the signature state is then SigNotChecked).
	Keys *KeyRing
}

// PartStream reads a part object entry by entry, in one pass and in
// bounded memory: part.json (the first entry), its signature and the
// frozen incident record are read by OpenPart; Next hands out each data
// file as a reader that hashes what it reads, refuses to read past the size
// part.json declares and reports a hash mismatch at the file's end. Nothing
// of a data file is held beyond what the caller reads.
type PartStream struct {
	lim  Limits
	zr   *zstd.Decoder
	tr   *tar.Reader
	info PartInfo
	// infoJSON, envelope and incidentJSON are the raw entries.
	infoJSON, envelope, incidentJSON []byte
	sig                              Signature
	pending                          *tar.Header
	seen                             map[string]bool
	total                            int64
	cur                              *fileReader
	problems                         []*VerifyError
	err                              error
	done                             bool
}

// OpenPart starts reading a part object. It reads part.json, checks its
// signature (if the part carries one) against opts.Keys and reads the
// frozen incident record. Structural problems are *VerifyError values.
// The caller calls Close.
func OpenPart(r io.Reader, opts ReadOptions) (*PartStream, error) {
	lim := opts.Limits.orDefault()
	window := max(lim.MaxWindow, zstd.MinWindowSize)
	zr, err := zstd.NewReader(bufio.NewReaderSize(r, 64<<10),
		zstd.WithDecoderConcurrency(1),
		zstd.WithDecoderLowmem(true),
		zstd.WithDecoderMaxWindow(window),
		zstd.WithDecoderMaxMemory(window),
	)
	if err != nil {
		return nil, fmt.Errorf("zstd decoder: %w", err)
	}
	s := &PartStream{lim: lim, zr: zr, tr: tar.NewReader(zr), seen: map[string]bool{}}
	if err := s.readHead(opts.Keys); err != nil {
		zr.Close()
		return nil, err
	}
	return s, nil
}

// readSmall reads a whole small entry of at most limit bytes.
func (s *PartStream) readSmall(hdr *tar.Header, limit int64) ([]byte, error) {
	if hdr.Typeflag != tar.TypeReg {
		return nil, verifyErr(hdr.Name, "tar entry of type %q, want a regular file", hdr.Typeflag)
	}
	if hdr.Size > limit {
		return nil, verifyErr(hdr.Name, "size %d exceeds the limit of %d bytes", hdr.Size, limit)
	}
	buf := make([]byte, hdr.Size)
	if _, err := io.ReadFull(s.tr, buf); err != nil {
		return nil, streamErr(hdr.Name, err)
	}
	return buf, nil
}

func (s *PartStream) readHead(keys *KeyRing) error {
	hdr, err := s.tr.Next()
	if errors.Is(err, io.EOF) {
		return verifyErr("", "empty input: not a part")
	}
	if err != nil {
		return streamErr("", err)
	}
	if hdr.Name != PartInfoFile {
		if !knownFile(hdr.Name) {
			return verifyErr("", "unexpected entry %q in part", hdr.Name)
		}
		return verifyErr(PartInfoFile, "missing from part (the first entry is %q)", hdr.Name)
	}
	if s.infoJSON, err = s.readSmall(hdr, maxPartInfoSize); err != nil {
		return err
	}
	if err := json.Unmarshal(s.infoJSON, &s.info); err != nil {
		return verifyErr(PartInfoFile, "invalid JSON: %v", err)
	}
	if err := s.info.validate(); err != nil {
		return verifyErr(PartInfoFile, "%v", err)
	}
	s.sig = Signature{State: SigUnsigned}
	if err := s.next(); err != nil || s.pending == nil {
		return err
	}
	if s.pending.Name == PartSignatureFile {
		hdr := s.pending
		s.pending = nil
		if s.envelope, err = s.readSmall(hdr, maxPartEnvelopeSize); err != nil {
			return err
		}
		s.sig = checkPartEnvelope(s.envelope, s.infoJSON, keys)
		if s.info.Format < 2 {
			s.sig = Signature{State: SigInvalid, Detail: fmt.Sprintf("a signature in a format %d part", s.info.Format)}
		}
		if err := s.next(); err != nil || s.pending == nil {
			return err
		}
	}
	if s.pending.Name == PartIncidentFile {
		name, fr, err := s.Next()
		if err != nil {
			return err
		}
		b, err := io.ReadAll(io.LimitReader(fr, MaxIncidentSize+1))
		switch {
		case isContentMismatch(err):
			// Kept in Problems; the record is still handed out, as read.
		case err != nil:
			return err
		case int64(len(b)) > MaxIncidentSize:
			return verifyErr(name, "larger than the limit of %d bytes", MaxIncidentSize)
		}
		s.incidentJSON = b
	}
	return nil
}

// checkPartEnvelope checks the envelope of part.json: its payload must be
// the part.json entry, byte for byte.
func checkPartEnvelope(envelope, infoJSON []byte, keys *KeyRing) Signature {
	env, err := parseEnvelope(envelope)
	if err != nil {
		return Signature{State: SigInvalid, Detail: err.Error()}
	}
	payload, sig := keys.checkEnvelope(env, PartPayloadType)
	if payload != nil && !bytes.Equal(payload, infoJSON) {
		return Signature{State: SigInvalid, KeyIDs: sig.KeyIDs, Detail: "the signed payload is not this part.json"}
	}
	return sig
}

// next reads the next tar header into s.pending (nil at the end).
func (s *PartStream) next() error {
	hdr, err := s.tr.Next()
	if errors.Is(err, io.EOF) {
		s.pending = nil
		return nil
	}
	if err != nil {
		return streamErr("", err)
	}
	s.pending = hdr
	return nil
}

// Info returns the decoded part.json.
func (s *PartStream) Info() PartInfo { return s.info }

// InfoJSON returns part.json as stored.
func (s *PartStream) InfoJSON() []byte { return s.infoJSON }

// Signature is the outcome of checking part.json's signature.
func (s *PartStream) Signature() Signature { return s.sig }

// Incident returns the incident record frozen into the part (nil in a
// format 1 part). An undecodable record is an error.
func (s *PartStream) Incident() (*incident.Incident, error) {
	if s.incidentJSON == nil {
		return nil, nil
	}
	inc, err := ParseIncident(s.incidentJSON)
	if err != nil {
		return nil, verifyErr(PartIncidentFile, "%v", err)
	}
	return inc, nil
}

// IncidentJSON returns the frozen incident.json as stored, nil if none.
func (s *PartStream) IncidentJSON() []byte { return s.incidentJSON }

// errContentMismatch marks a file whose content does not match part.json
// while its size does: reading can go on with the next file.
var errContentMismatch = errors.New("content does not match part.json")

func isContentMismatch(err error) bool { return errors.Is(err, errContentMismatch) }

type mismatchError struct{ *VerifyError }

func (e mismatchError) Unwrap() []error { return []error{e.VerifyError, errContentMismatch} }

// fileReader reads one data file: at most its declared size, hashed.
type fileReader struct {
	s    *PartStream
	name string
	r    io.Reader
	h    hash.Hash
	want FileInfo
	n    int64
	done bool
	err  error
}

func (f *fileReader) Read(p []byte) (int, error) {
	if f.done {
		return 0, f.errOrEOF()
	}
	n, err := f.r.Read(p)
	f.h.Write(p[:n])
	f.n += int64(n)
	if errors.Is(err, io.EOF) {
		f.done = true
		f.finish()
		return n, f.errOrEOF()
	}
	if err != nil {
		f.done = true
		f.err = streamErr(f.name, err)
		f.s.err = f.err
		return n, f.err
	}
	return n, nil
}

func (f *fileReader) errOrEOF() error {
	if f.err != nil {
		return f.err
	}
	return io.EOF
}

func (f *fileReader) finish() {
	if f.n != f.want.Size {
		f.err = verifyErr(f.name, "part is truncated: read %d bytes, part.json says %d", f.n, f.want.Size)
		f.s.err = f.err
		return
	}
	if sum := hex.EncodeToString(f.h.Sum(nil)); sum != f.want.SHA256 {
		ve := verifyErr(f.name, "sha256 %s, %s says %s", sum, PartInfoFile, f.want.SHA256)
		f.s.problems = append(f.s.problems, ve)
		f.err = mismatchError{ve}
	}
}

// Next returns the next file of the part (the data files, in the order
// stored) as a reader of its content, or io.EOF after the last one. The
// rest of the previous file is read (and checked) first. The reader
// returns a *VerifyError at the end of a file whose SHA-256 differs from
// part.json (then Next may go on: the problem is also in Problems), or
// when the part is truncated or corrupt (then every later call fails).
// Reading never goes past the size part.json declares for the file.
func (s *PartStream) Next() (string, io.Reader, error) {
	if s.err != nil {
		return "", nil, s.err
	}
	if s.cur != nil {
		if _, err := io.Copy(io.Discard, s.cur); err != nil && !isContentMismatch(err) {
			return "", nil, err
		}
		s.cur = nil
	}
	if s.done {
		return "", nil, io.EOF
	}
	if s.pending == nil {
		if err := s.next(); err != nil {
			s.err = err
			return "", nil, err
		}
	}
	hdr := s.pending
	s.pending = nil
	if hdr == nil {
		s.done = true
		if err := s.finish(); err != nil {
			s.err = err
			return "", nil, err
		}
		return "", nil, io.EOF
	}
	if err := s.checkHeader(hdr); err != nil {
		s.err = err
		return "", nil, err
	}
	want := s.info.Files[hdr.Name]
	s.seen[hdr.Name] = true
	s.total += want.Size
	s.cur = &fileReader{s: s, name: hdr.Name, r: io.LimitReader(s.tr, want.Size), h: sha256.New(), want: want}
	return hdr.Name, s.cur, nil
}

// checkHeader refuses an entry before any of its content is read.
func (s *PartStream) checkHeader(hdr *tar.Header) *VerifyError {
	name := hdr.Name
	switch {
	case name == PartInfoFile || name == PartSignatureFile:
		return verifyErr(name, "appears twice in part, or out of place")
	case !knownFile(name):
		return verifyErr("", "unexpected entry %q in part", name)
	case hdr.Typeflag != tar.TypeReg:
		return verifyErr(name, "tar entry of type %q, want a regular file", hdr.Typeflag)
	case s.seen[name] || (name == PartIncidentFile && s.incidentJSON != nil):
		return verifyErr(name, "appears twice in part")
	}
	want, ok := s.info.Files[name]
	switch {
	case !dataFileAllowed(name, s.info.Encoding):
		return verifyErr(name, "not a data file of an %s part", s.info.Encoding)
	case !ok:
		return verifyErr(name, "present in part but not listed in %s", PartInfoFile)
	case hdr.Size != want.Size:
		return verifyErr(name, "size %d, %s says %d: not read", hdr.Size, PartInfoFile, want.Size)
	case want.Size > s.lim.MaxFileSize:
		return verifyErr(name, "size %d exceeds the limit of %d bytes", want.Size, s.lim.MaxFileSize)
	case s.total+want.Size > s.lim.MaxTotalSize:
		return verifyErr(name, "part content exceeds the limit of %d bytes", s.lim.MaxTotalSize)
	}
	return nil
}

// finish runs after the last entry: every listed file was there, the item
// counts agree with the files present, and the zstd stream ends (its
// checksum verified) with at most a little padding.
func (s *PartStream) finish() error {
	for _, name := range slices.Sorted(maps.Keys(s.info.Files)) {
		if !s.seen[name] {
			s.problems = append(s.problems, verifyErr(name, "listed in %s but missing from part", PartInfoFile))
		}
	}
	s.problems = append(s.problems, s.info.countProblems()...)
	n, err := io.Copy(io.Discard, io.LimitReader(s.zr, maxTrailing+1))
	if err != nil {
		return streamErr("", err)
	}
	if n > maxTrailing {
		return verifyErr("", "more than %d bytes after the end of the tar archive", maxTrailing)
	}
	return nil
}

// Problems returns the content problems found so far (hash mismatches,
// files missing, counts without their file): the part was read on, and
// they are complete once Next has returned io.EOF.
func (s *PartStream) Problems() []*VerifyError { return s.problems }

// Close releases the decoder.
func (s *PartStream) Close() { s.zr.Close() }

// Walk reads every remaining file to its end, calling fn with each record
// of the data files (not incident.json): JSON lines of an otlp_json file
// and of events.jsonl (blank lines skipped), length-prefixed messages of an
// otlp_proto file. Record errors name the file and the record. It returns
// the first error: fn's, a record over Limits.MaxRecordSize, a corrupt
// part; content problems are in Problems and also returned.
func (s *PartStream) Walk(fn func(name string, rec []byte) error) error {
	for {
		name, r, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if name == PartIncidentFile {
			continue
		}
		proto := name != EventsFile && s.info.Encoding == EncodingProto
		if err := ReadRecords(r, proto, s.lim.MaxRecordSize, func(i int, rec []byte) error {
			if err := fn(name, rec); err != nil {
				var re RecordError
				if errors.As(err, &re) {
					return verifyErr(name, "record %d: %v", i, re.Err)
				}
				return err
			}
			return nil
		}); err != nil {
			var ve *VerifyError
			if errors.As(err, &ve) && ve.Entry == "" {
				ve.Entry = name
			}
			return err
		}
	}
	if len(s.problems) > 0 {
		return s.problems[0]
	}
	return nil
}

// ReadRecords calls fn with every record read from r: JSON lines (blank
// lines skipped, \r\n accepted) or, with proto, 4-byte big-endian
// length-prefixed messages. A record longer than maxRecord is a
// *VerifyError, found before it is held. The record passed to fn is only
// valid during the call. Errors of r are returned as they are.
func ReadRecords(r io.Reader, proto bool, maxRecord int64, fn func(i int, rec []byte) error) error {
	br := bufio.NewReaderSize(r, 64<<10)
	var buf []byte
	for i := 1; ; i++ {
		var rec []byte
		if proto {
			var hdr [4]byte
			if _, err := io.ReadFull(br, hdr[:]); err != nil {
				if errors.Is(err, io.EOF) {
					return nil
				}
				if errors.Is(err, io.ErrUnexpectedEOF) {
					return verifyErr("", "record %d: truncated length prefix", i)
				}
				return err
			}
			n := int64(binary.BigEndian.Uint32(hdr[:]))
			if n > maxRecord {
				return verifyErr("", "record %d: length %d exceeds the reader's limit of %d bytes", i, n, maxRecord)
			}
			if int64(cap(buf)) < n {
				buf = make([]byte, n)
			}
			rec = buf[:n]
			if _, err := io.ReadFull(br, rec); err != nil {
				if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
					return verifyErr("", "record %d: length %d exceeds the bytes left", i, n)
				}
				return err
			}
		} else {
			buf = buf[:0]
			var err error
			for {
				var chunk []byte
				chunk, err = br.ReadSlice('\n')
				if int64(len(buf)+len(chunk)) > maxRecord+1 {
					return verifyErr("", "line %d: longer than the reader's limit of %d bytes", i, maxRecord)
				}
				buf = append(buf, chunk...)
				if !errors.Is(err, bufio.ErrBufferFull) {
					break
				}
			}
			if err != nil && !errors.Is(err, io.EOF) {
				return err
			}
			rec = bytes.TrimSpace(buf)
			if len(rec) == 0 {
				if err != nil { // io.EOF
					return nil
				}
				continue
			}
			if ferr := fn(i, rec); ferr != nil {
				return ferr
			}
			if err != nil {
				return nil
			}
			continue
		}
		if err := fn(i, rec); err != nil {
			return err
		}
	}
}

// DecodeTraces decodes one record of a traces file of the encoding.
func DecodeTraces(encoding string, rec []byte) (ptrace.Traces, error) {
	if encoding == EncodingProto {
		return (&ptrace.ProtoUnmarshaler{}).UnmarshalTraces(rec)
	}
	return (&ptrace.JSONUnmarshaler{}).UnmarshalTraces(rec)
}

// DecodeLogs decodes one record of a logs file of the encoding.
func DecodeLogs(encoding string, rec []byte) (plog.Logs, error) {
	if encoding == EncodingProto {
		return (&plog.ProtoUnmarshaler{}).UnmarshalLogs(rec)
	}
	return (&plog.JSONUnmarshaler{}).UnmarshalLogs(rec)
}

// DecodeMetrics decodes one record of a metrics file of the encoding.
func DecodeMetrics(encoding string, rec []byte) (pmetric.Metrics, error) {
	if encoding == EncodingProto {
		return (&pmetric.ProtoUnmarshaler{}).UnmarshalMetrics(rec)
	}
	return (&pmetric.JSONUnmarshaler{}).UnmarshalMetrics(rec)
}

// SignalOf says which signal a data file holds: "traces", "logs",
// "metrics", "events", or "" for another name.
func SignalOf(name string) string {
	switch name {
	case TracesJSONFile, TracesProtoFile:
		return "traces"
	case LogsJSONFile, LogsProtoFile:
		return "logs"
	case MetricsJSONFile, MetricsProtoFile:
		return "metrics"
	case EventsFile:
		return "events"
	}
	return ""
}
