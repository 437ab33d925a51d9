package incidentsextension

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"go.opentelemetry.io/otel/metric"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/extension/incidentsextension/internal/journal"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// The registry is local-first. A batch of changes is
//
//  1. appended to the local journal and fsync'd (record type recBatch,
//     holding the sync log object to publish: an EventBatch with an ID);
//  2. applied to the registry and announced to subscribers (the exporter's
//     freezer starts at once), whether the store is reachable or not;
//  3. published by the publisher goroutine, in journal order, as one sync
//     log object under an event key of the time of publication, so that
//     replicas polling the log from their cursor find it however long the
//     store was down; then marked published (recPublished).
//
// The batch ID, not the object key, names the events (BatchEventKey), so a
// batch published twice (after a crash between the write and its mark, or
// a write whose answer was lost) is applied once everywhere.
const (
	recBatch     byte = 1
	recPublished byte = 2
)

// Publication tuning.
const (
	publishRetryFirst = 500 * time.Millisecond
	publishRetryLast  = 30 * time.Second
	// publishTimeout bounds one publication attempt.
	publishTimeout = 30 * time.Second
)

// pendingBatch is a journaled batch not yet published.
type pendingBatch struct {
	id      string
	segment int
	offset  int64
	// notes: the batch carries timeline notes, which the publisher writes
	// to their incidents' folders first.
	notes bool
}

// publishedMark is the payload of a recPublished record.
type publishedMark struct {
	ID string `json:"id"`
}

// journalBatch is what replayJournal keeps of a batch.
type journalBatch struct {
	pendingBatch
	batch incidentsapi.EventBatch
}

// openJournal opens the journal and returns its batches in order, with
// those already published marked. A damaged journal is repaired, counted
// and logged; it never stops the start.
func (e *incidentsExtension) openJournal() ([]journalBatch, map[string]bool, error) {
	dir := e.cfg.Journal.Directory
	var batches []journalBatch
	published := map[string]bool{}
	j, err := journal.Open(dir, 0, func(r journal.Record) error {
		switch r.Type {
		case recBatch:
			var b incidentsapi.EventBatch
			if err := json.Unmarshal(r.Payload, &b); err != nil || b.ID == "" {
				e.logger.Warn("Skipping an unreadable batch in the local journal", zap.Int("segment", r.Segment), zap.Int64("offset", r.Offset), zap.Error(err))
				return nil
			}
			batches = append(batches, journalBatch{pendingBatch: pendingBatch{id: b.ID, segment: r.Segment, offset: r.Offset, notes: hasNotes(b.Events)}, batch: b})
		case recPublished:
			var m publishedMark
			if json.Unmarshal(r.Payload, &m) == nil {
				published[m.ID] = true
			}
		}
		return nil
	})
	var ce *journal.CorruptionError
	if errors.As(err, &ce) {
		e.tel.ExtensionIncidentsJournalRepairs.Add(context.Background(), 1)
		e.logger.Error("The local journal was damaged and has been repaired: the changes recorded from the damage on are lost "+
			"(those already published to the store are not)", zap.String("journal.directory", dir), zap.Error(err))
		err = nil
	}
	if err != nil {
		return nil, nil, fmt.Errorf("incidents: open the local journal 'journal.directory' (%s): %w", filepath.Clean(dir), err)
	}
	e.journal = j
	return batches, published, nil
}

// replayJournal applies the journal's batches (merges are idempotent, so
// those the store already holds change nothing) and queues the unpublished
// ones. Called in Start, after the store's state is loaded.
func (e *incidentsExtension) replayJournal(batches []journalBatch, published map[string]bool) {
	for _, jb := range batches {
		n := len(jb.batch.Events)
		for i := range jb.batch.Events {
			ev := jb.batch.Events[i]
			if validateEvent(&ev) != nil {
				continue
			}
			e.applyRemote(incidentsapi.BatchEventKey("", jb.id, i, n), ev)
		}
		if !published[jb.id] {
			e.pendingPub = append(e.pendingPub, jb.pendingBatch)
		}
	}
	if len(e.pendingPub) > 0 {
		e.logger.Info("Publishing changes recorded in the local journal before the restart", zap.Int("batches", len(e.pendingPub)))
	}
}

// appendEvents makes evs durable in the journal as one batch and queues it
// for publication. It returns the key of each event. Called with e.mu
// held, so the journal's order is the order of the changes.
func (e *incidentsExtension) appendEvents(_ context.Context, evs []incident.Event) (keys []string, id string, err error) {
	e.seq++
	id = fmt.Sprintf("%s.%d.%d", e.id, e.started.UnixNano(), e.seq)
	b, err := json.Marshal(incidentsapi.EventBatch{ID: id, Events: evs})
	if err != nil {
		return nil, "", fmt.Errorf("encode batch %s: %w", id, err)
	}
	seg, off, err := e.journal.Append(recBatch, b)
	if err != nil {
		return nil, "", fmt.Errorf("record in the local journal 'journal.directory': %w", err)
	}
	e.pendingPub = append(e.pendingPub, pendingBatch{id: id, segment: seg, offset: off, notes: hasNotes(evs)})
	e.wakePublisher()
	keys = make([]string, len(evs))
	for i := range evs {
		keys[i] = incidentsapi.BatchEventKey("", id, i, len(evs))
	}
	return keys, id, nil
}

func (e *incidentsExtension) wakePublisher() {
	select {
	case e.pubWake <- struct{}{}:
	default:
	}
}

// publishLoop publishes the journal's pending batches, retrying with
// backoff while the store refuses them.
func (e *incidentsExtension) publishLoop(ctx context.Context) {
	defer close(e.pubDone)
	wait := time.Duration(0)
	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-e.pubWake:
		case <-timer.C:
		}
		if err := e.publishPending(ctx); err != nil {
			if ctx.Err() != nil {
				return
			}
			wait = min(max(2*wait, publishRetryFirst), publishRetryLast)
			e.logger.Warn("Could not publish recorded changes to the evidence store; they are safe in the local journal, retrying",
				zap.Duration("retry_in", wait), zap.Error(err))
			timer.Reset(wait)
			continue
		}
		wait = 0
	}
}

// publishPending publishes the pending batches in order, then the
// incident.json files that changed.
func (e *incidentsExtension) publishPending(ctx context.Context) error {
	for {
		e.mu.Lock()
		if len(e.pendingPub) == 0 {
			e.mu.Unlock()
			break
		}
		p := e.pendingPub[0]
		e.mu.Unlock()

		rec, err := e.journal.Read(p.segment, p.offset)
		if err != nil {
			// The journal lost it (a damaged disk): nothing to publish.
			e.logger.Error("A recorded batch could not be read back from the local journal; it is not published",
				zap.String("batch", p.id), zap.Error(err))
			e.dropPending(p.id)
			continue
		}
		pctx, cancel := context.WithTimeout(ctx, publishTimeout)
		if p.notes {
			err = e.writeNotes(pctx, rec.Payload)
		}
		var key string
		if err == nil {
			key, err = incidentsapi.EventKey(e.now(), e.id, e.nextPublishSeq())
		}
		if err == nil {
			err = e.st.Put(pctx, key, bytes.NewReader(rec.Payload), int64(len(rec.Payload)), store.PutOptions{ContentType: "application/json"})
		}
		cancel()
		if err != nil {
			e.tel.ExtensionIncidentsPublishFailures.Add(context.Background(), 1)
			return fmt.Errorf("publish batch %s: %w", p.id, err)
		}
		t, _, _, _ := incidentsapi.ParseEventKey(key)
		e.mu.Lock()
		e.applied[key] = t // this replica's own: its poll skips it
		e.mu.Unlock()
		mark, _ := json.Marshal(publishedMark{ID: p.id})
		if _, _, err := e.journal.Append(recPublished, mark); err != nil {
			// Published all the same; after a restart it is published
			// again, and applied once (its ID names its events).
			e.logger.Warn("Could not mark a batch published in the local journal", zap.Error(err))
		}
		e.dropPending(p.id)
	}
	e.trimJournal()
	return e.writeDirtyIncidents(ctx)
}

func hasNotes(evs []incident.Event) bool {
	for i := range evs {
		if evs[i].Kind == incident.EventNote {
			return true
		}
	}
	return false
}

// writeNotes writes the notes of a journaled batch to their incidents'
// folders (the same note twice is one object).
func (e *incidentsExtension) writeNotes(ctx context.Context, payload []byte) error {
	var b incidentsapi.EventBatch
	if err := json.Unmarshal(payload, &b); err != nil {
		return fmt.Errorf("decode a journaled batch: %w", err)
	}
	for i := range b.Events {
		if b.Events[i].Kind != incident.EventNote {
			continue
		}
		if err := e.writeNote(ctx, &b.Events[i]); err != nil {
			return fmt.Errorf("write note: %w", err)
		}
	}
	return nil
}

// nextPublishSeq numbers the sync log objects this replica writes.
func (e *incidentsExtension) nextPublishSeq() uint64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.pubSeq++
	return e.pubSeq
}

func (e *incidentsExtension) dropPending(id string) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if len(e.pendingPub) > 0 && e.pendingPub[0].id == id {
		e.pendingPub = e.pendingPub[1:]
	}
	close(e.pubNotify)
	e.pubNotify = make(chan struct{})
}

// waitPublished waits until batch id is published or ctx ends. Timeline
// notes wait for it: a note is answered once it is in its incident's
// folder, where evidencectl reads it. (It is journaled either way.)
func (e *incidentsExtension) waitPublished(ctx context.Context, id string) {
	for {
		e.mu.Lock()
		pending := slices.ContainsFunc(e.pendingPub, func(p pendingBatch) bool { return p.id == id })
		ch := e.pubNotify
		e.mu.Unlock()
		if !pending {
			return
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return
		}
	}
}

// trimJournal removes the segments that hold only published batches.
func (e *incidentsExtension) trimJournal() {
	e.mu.Lock()
	keepFrom := -1
	if len(e.pendingPub) > 0 {
		keepFrom = e.pendingPub[0].segment
	}
	e.mu.Unlock()
	segs := e.journal.Segments()
	if keepFrom < 0 {
		keepFrom = segs[len(segs)-1]
	}
	if err := e.journal.RemoveBefore(keepFrom); err != nil {
		e.logger.Warn("Could not remove published segments of the local journal", zap.Error(err))
	}
}

// writeDirtyIncidents (re)writes the incident.json files that changed,
// without holding e.mu while the store works.
func (e *incidentsExtension) writeDirtyIncidents(ctx context.Context) error {
	e.mu.Lock()
	type item struct {
		id  string
		rec incident.Incident
	}
	var items []item
	for _, id := range sortedIDs(e.dirty) {
		if s := e.incidents[id]; s != nil {
			items = append(items, item{id, s.rec})
		} else {
			delete(e.dirty, id)
		}
	}
	e.mu.Unlock()
	for _, it := range items {
		key, err := incidentKey(it.id)
		if err == nil {
			err = putJSON(ctx, e.st, key, &it.rec)
		}
		if err != nil {
			return fmt.Errorf("write incident.json of %q: %w", it.id, err)
		}
		e.mu.Lock()
		if s := e.incidents[it.id]; s == nil || sameIncident(&s.rec, &it.rec) {
			delete(e.dirty, it.id)
		}
		e.mu.Unlock()
	}
	return nil
}

// registerJournalGauges reports the journal's size and pending batches.
func (e *incidentsExtension) registerJournalGauges() error {
	if err := e.tel.RegisterExtensionIncidentsJournalSizeCallback(func(_ context.Context, o metric.Int64Observer) error {
		o.Observe(e.journal.Size())
		return nil
	}); err != nil {
		return err
	}
	return e.tel.RegisterExtensionIncidentsJournalPendingCallback(func(_ context.Context, o metric.Int64Observer) error {
		e.mu.Lock()
		n := len(e.pendingPub)
		e.mu.Unlock()
		o.Observe(int64(n))
		return nil
	})
}
