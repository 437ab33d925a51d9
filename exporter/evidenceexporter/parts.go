package evidenceexporter

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"time"

	"go.opentelemetry.io/collector/pdata/plog"
	"go.opentelemetry.io/collector/pdata/pmetric"
	"go.opentelemetry.io/collector/pdata/ptrace"
	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/otlpwire"
	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/ring"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// partBuilder collects the items of one flush into parts whose data stays
// within the freezer's dataLimit (so that each part object stays within
// part_max_bytes) and writes each finished part to the spool.
type partBuilder struct {
	f      *freezer
	ctx    context.Context
	state  *incidentState
	bounds windowBounds
	window bundle.Window
	now    time.Time
	w      *bundle.PartWriter
	// parts and items count what was frozen since the last commit; commits
	// counts the commits made during the flush (see commitAt).
	parts   int
	items   [ring.NumSignals]int64
	commits int
	// pending are the losses found and not yet in a part; lost those put
	// in parts since the last commit.
	pending, lost []bundle.Loss
	// seen are the sequence numbers of the blocks the flush read, ascending.
	seen []uint64
	// cut is set when putBatch finishes a part.
	cut bool
	// late is set when the bundle was complete before this flush: its
	// parts are late parts.
	late bool

	tr ptrace.ProtoUnmarshaler
	lr plog.ProtoUnmarshaler
	mr pmetric.ProtoUnmarshaler
	// rec is the buffer of the records transcoded from ring blocks.
	rec []byte
	// payload is the buffer of the ring block being added: nothing holds
	// a block's bytes once it is added (the part writer copies its
	// records), so one buffer serves the whole flush instead of one
	// allocation of each block's size, which made a flush allocate about
	// as much as the data it read.
	payload []byte
}

func (b *partBuilder) writer() (*bundle.PartWriter, error) {
	if b.w != nil {
		return b.w, nil
	}
	info := bundle.PartInfo{
		IncidentID:  b.state.Incident.ID,
		CollectorID: b.f.collectorID,
		Seq:         b.state.NextPart,
		Encoding:    b.f.encoding,
		CreatedAt:   b.now,
		Window:      b.window,
		Late:        b.late,
	}
	// The hash chain: the previous part's object, as the manifest lists it.
	if n := len(b.state.Parts); n > 0 && b.state.Parts[n-1].Seq == info.Seq-1 {
		info.PrevPartSHA256 = b.state.Parts[n-1].SHA256
	}
	w, err := bundle.NewPartWriter(info)
	if err != nil {
		return nil, err
	}
	// The incident record as it stands now, frozen with the data.
	if err := w.SetIncident(&b.state.Incident); err != nil {
		return nil, err
	}
	w.SetSigner(b.f.signer)
	w.SetLimit(b.f.dataLimit)
	// The part's compressed frames wait in the spool, not in memory.
	id := b.state.Incident.ID
	w.SetSpill(func() (*os.File, error) { return b.f.spool.scratchFile(id) })
	b.w = w
	return w, nil
}

// visit returns the scan callback that adds the items of a block whose
// time is in r and usable (see ring.Usable). With commit set (blocks after
// the old cursor, each seen once), every part it cuts is committed at once,
// and the items with an unusable time of a block that arrived inside the
// window are counted as a loss.
func (b *partBuilder) visit(r timeRange, commit bool) func(ring.Block) error {
	return func(blk ring.Block) error {
		if err := b.ctx.Err(); err != nil {
			return err
		}
		payload, err := blk.AppendPayload(b.payload[:0])
		if err != nil {
			return fmt.Errorf("reading ring block %d: %w", blk.Seq, err)
		}
		b.payload = payload
		b.seen = append(b.seen, blk.Seq)
		u := b.f.ring.Usable(blk.Arrival)
		rr := timeRange{lo: max(r.lo, u.Lo), hi: min(r.hi, u.Hi)}
		var unusable *otlpwire.Range
		if commit && !blk.Arrival.Before(b.bounds.start) && !blk.Arrival.After(b.bounds.bound) {
			unusable = &u
		}
		b.cut = false
		n, err := b.add(blk.Signal, payload, rr, unusable, wholeIn(blk, rr))
		if err != nil {
			if errors.Is(err, errCorruptBlock) {
				b.f.logger.Error("Skipping a ring block that does not decode", zap.Uint64("seq", blk.Seq), zap.Error(err))
				return nil
			}
			return err
		}
		b.items[blk.Signal] += int64(n)
		if b.late && n > 0 {
			b.f.tb.ExporterEvidenceItemsLate.Add(b.ctx, int64(n), metric.WithAttributeSet(signalAttrs[blk.Signal]))
		}
		if !b.cut || !commit {
			return nil
		}
		// Parts were cut in this block: commit them with the rest of the
		// block in a part of its own, so that the state never claims a
		// block whose items are only partly in committed parts.
		if err := b.finish(); err != nil {
			return err
		}
		return b.commitAt(blk.Seq)
	}
}

// wholeIn returns the Batch of an exact block (see ring.Block.Exact) whose
// items all lie in r, and nil for any other block. r lies within the
// block's usable range (see visit), so none of those items is unusable.
func wholeIn(blk ring.Block, r timeRange) *otlpwire.Batch {
	lo, hi := ts(blk.MinTime), ts(blk.MaxTime)
	if !blk.Exact || lo == 0 || lo < r.lo || hi > r.hi {
		return nil
	}
	return &otlpwire.Batch{Items: blk.Items, MinT: lo, MaxT: hi}
}

// visited reports whether the flush read block seq.
func (b *partBuilder) visited(seq uint64) bool {
	_, ok := slices.BinarySearch(b.seen, seq)
	return ok
}

// commitAt commits the flush so far as if it had scanned up to block seq,
// so that its parts go to the store while it goes on. The flush's final
// commit gets a later version.
func (b *partBuilder) commitAt(seq uint64) error {
	cp := b.state.clone()
	cp.Cursor = seq
	cp.Complete, cp.Final = b.late, false
	if err := b.f.commit(b.ctx, cp, flushResult{parts: b.parts, items: b.items, losses: b.lost}); err != nil {
		return err
	}
	b.state.Unchecked = cp.Unchecked // the commit may have settled it
	b.state.Version++
	b.parts, b.items, b.lost = 0, [ring.NumSignals]int64{}, nil
	b.commits++
	return nil
}

var errCorruptBlock = errors.New("ring block does not decode")

// add decodes a block's payload, keeps the items in r and adds them to the
// current part. It returns the number of items added. With usable set, the
// items whose time it does not contain are counted as an unusable_time
// loss, in the same pass as the selection. whole, when not nil, describes
// every item of the block, all of them in r (see wholeIn): an otlp_proto
// part then takes the payload as it is, without reading its items.
func (b *partBuilder) add(sig ring.Signal, payload []byte, r timeRange, usable *otlpwire.Range, whole *otlpwire.Batch) (int, error) {
	sel := &selection{r: r, usable: usable}
	defer func() {
		if sel.unusable > 0 {
			b.pending = bundle.MergeLosses(b.pending, bundle.Loss{Signal: sig.String(), Reason: bundle.LossUnusableTime, Items: sel.unusable})
		}
	}()
	switch sig {
	case ring.SignalTraces:
		if !b.f.viaPdata {
			n, bad, done, err := b.addEncoded(b.pick(otlpwire.TracesJSON, otlpwire.TracesProto),
				b.pickAdd((*bundle.PartWriter).AddTracesJSON, (*bundle.PartWriter).AddTracesProto), payload, r, usable, whole)
			sel.unusable += bad
			if done || err != nil {
				return n, err
			}
			// Not transcoded, or too large for a part: through pdata,
			// its unusable times counted already if transcoded.
			if n < 0 {
				sel.usable = nil
			}
		}
		td, err := b.tr.UnmarshalTraces(payload)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errCorruptBlock, err)
		}
		n := selectTracesBy(td, sel)
		if n == 0 {
			return 0, nil
		}
		return n, putBatch(b, td, (*bundle.PartWriter).AddTraces, splitTraces)
	case ring.SignalLogs:
		if !b.f.viaPdata {
			n, bad, done, err := b.addEncoded(b.pick(otlpwire.LogsJSON, otlpwire.LogsProto),
				b.pickAdd((*bundle.PartWriter).AddLogsJSON, (*bundle.PartWriter).AddLogsProto), payload, r, usable, whole)
			sel.unusable += bad
			if done || err != nil {
				return n, err
			}
			if n < 0 {
				sel.usable = nil
			}
		}
		ld, err := b.lr.UnmarshalLogs(payload)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errCorruptBlock, err)
		}
		n := selectLogsBy(ld, sel)
		if n == 0 {
			return 0, nil
		}
		return n, putBatch(b, ld, (*bundle.PartWriter).AddLogs, splitLogs)
	case ring.SignalMetrics:
		md, err := b.mr.UnmarshalMetrics(payload)
		if err != nil {
			return 0, fmt.Errorf("%w: %w", errCorruptBlock, err)
		}
		n := selectMetricsBy(md, sel)
		if n == 0 {
			return 0, nil
		}
		return n, putBatch(b, md, (*bundle.PartWriter).AddMetrics, splitMetrics)
	}
	return 0, fmt.Errorf("%w: unknown signal %s", errCorruptBlock, sig)
}

// transcoder writes the record of a block's items in keep (otlpwire).
type transcoder func(dst, payload []byte, keep otlpwire.Range, usable *otlpwire.Range) ([]byte, otlpwire.Batch, error)

// pick returns the transcoder of the part's encoding.
func (b *partBuilder) pick(json, proto transcoder) transcoder {
	if b.f.encoding == bundle.EncodingProto {
		return proto
	}
	return json
}

// pickAdd returns the PartWriter method that adds a record of the part's
// encoding.
func (b *partBuilder) pickAdd(json, proto func(*bundle.PartWriter, []byte, int64, bundle.TimeRange) error) func(*bundle.PartWriter, []byte, int64, bundle.TimeRange) error {
	if b.f.encoding == bundle.EncodingProto {
		return proto
	}
	return json
}

// addEncoded adds the items of a traces or logs block in r to the current
// part without pdata: it transcodes the block to OTLP/JSON
// (otlpwire.TracesJSON, LogsJSON) or filters its protobuf
// (otlpwire.TracesProto, LogsProto), as the part's encoding asks, adds
// the record with add, and returns how
// many it added and, with usable set, how many items of the block have an
// unusable time. It reports whether it added
// the block; when it did not, the caller adds it through pdata: n is then
// -1 if the block was transcoded (its unusable times are counted) but is
// too large for a part, so that pdata splits it, and 0 if it was not
// transcoded. The parts it cuts are the ones putBatch would: the records
// are the same bytes.
func (b *partBuilder) addEncoded(
	transcode transcoder,
	add func(w *bundle.PartWriter, rec []byte, n int64, tr bundle.TimeRange) error,
	payload []byte, r timeRange, usable *otlpwire.Range, whole *otlpwire.Batch,
) (n int, unusable int64, done bool, err error) {
	var (
		rec []byte
		bt  otlpwire.Batch
	)
	if whole != nil && b.f.encoding == bundle.EncodingProto {
		// What TracesProto and LogsProto return for a request they
		// keep whole, without walking it.
		rec, bt = payload, *whole
	} else {
		rec, bt, err = transcode(b.rec[:0], payload, otlpwire.Range{Lo: r.lo, Hi: r.hi}, usable)
		if err != nil {
			return 0, 0, false, nil
		}
	}
	if len(rec) == 0 || &rec[0] != &payload[0] {
		// Kept for the next block, unless the record is the payload
		// itself (a block kept whole), which the next block's read
		// overwrites.
		b.rec = rec
	}
	unusable = int64(bt.Unusable)
	if bt.Items == 0 {
		return 0, unusable, true, nil
	}
	tr := bundle.TimeRange{Min: bt.MinT.AsTime(), Max: bt.MaxT.AsTime()}
	// As putBatch: a record that does not fit goes into the next part.
	w, err := b.writer()
	if err != nil {
		return 0, unusable, false, err
	}
	err = add(w, rec, int64(bt.Items), tr)
	if errors.Is(err, bundle.ErrPartFull) && w.Size() > 0 {
		if err := b.finish(); err != nil {
			return 0, unusable, false, err
		}
		b.cut = true
		if w, err = b.writer(); err != nil {
			return 0, unusable, false, err
		}
		err = add(w, rec, int64(bt.Items), tr)
	}
	if errors.Is(err, bundle.ErrPartFull) {
		return -1, unusable, false, nil
	}
	if err != nil {
		return 0, unusable, false, err
	}
	return bt.Items, unusable, true, nil
}

// addEvents adds the registry's events in [start, bound] that are not in
// the bundle yet. The registry leaves out those the incident's last flush
// in this process took: recorded up to that flush's mark, with a time
// within its bound. So an event recorded late (with a time already frozen)
// is still added, once, and a flush costs what is new, not every event of
// the window: with many incidents open, each window holds every other
// one's events. The first flush after a restart goes by the hashes of the
// events the parts hold (prev.taken) instead: the SHA-256 of each event's
// line, which the spool keeps for that. Each event is encoded once, for
// its hash and its line.
func (b *partBuilder) addEvents(wb windowBounds, prev *incidentState) error {
	var mark uint64
	var had time.Time
	if prev.taken == nil {
		mark, had = prev.eventMark, prev.eventBound
	}
	evs, next := b.f.reg.EventsSince(wb.start, wb.bound, mark, had)
	for _, ev := range evs {
		enc, err := bundle.EncodeEvent(ev)
		if err != nil {
			return err
		}
		sum := sha256.Sum256(enc.Line())
		if _, ok := prev.taken[sum]; ok {
			continue
		}
		if err := putBatch(b, enc, (*bundle.PartWriter).AddEncodedEvent, noSplit); err != nil {
			return err
		}
		b.state.newEvents = append(b.state.newEvents, sum)
	}
	b.state.taken = nil
	b.state.eventMark, b.state.eventBound = next, wb.bound
	return nil
}

// finish closes the current part, if any, and writes it to the spool.
func (b *partBuilder) finish() error {
	if b.w == nil {
		return nil
	}
	if len(b.pending) > 0 {
		b.w.AddLosses(b.pending...)
		b.state.Losses = bundle.MergeLosses(b.state.Losses, b.pending...)
		b.lost = bundle.MergeLosses(b.lost, b.pending...)
		b.pending = nil
	}
	w := b.w
	b.w = nil
	var (
		ref  bundle.PartRef
		info bundle.PartInfo
	)
	// Straight to the spool: the part object is never one buffer.
	err := b.f.spool.writePartWith(b.state.Incident.ID, w.Info().Seq, func(dst io.Writer) error {
		var err error
		ref, info, err = w.FinishTo(dst)
		return err
	})
	if err != nil {
		return err
	}
	b.state.Parts = append(b.state.Parts, ref)
	b.state.NextPart = info.Seq + 1
	b.parts++
	if b.f.partWritten != nil {
		b.f.partWritten(b.state.Incident.ID, info.Seq)
	}
	return nil
}

// signalAttrs are the metric attributes of each signal.
var signalAttrs = func() [ring.NumSignals]attribute.Set {
	var out [ring.NumSignals]attribute.Set
	for i := range out {
		out[i] = attribute.NewSet(attribute.String("signal", ring.Signal(i).String()))
	}
	return out
}()
