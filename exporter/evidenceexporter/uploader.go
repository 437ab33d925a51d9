package evidenceexporter

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/retry"

	"go.opentelemetry.io/collector/config/configretry"
	"go.uber.org/zap"

	"github.com/otel-evidence/otel-evidence/exporter/evidenceexporter/internal/metadata"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incidentsapi"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// uploader moves committed parts from the spool to the store, in order,
// then the incident's manifest. A part leaves the spool only after the
// store has accepted it; the manifest goes up only once every part it lists
// is in the store. Uploads are idempotent (same key, same bytes), so a crash
// between an upload and the spool cleanup only repeats the upload.
type uploader struct {
	logger      *zap.Logger
	store       store.Store
	spool       *spool
	reg         incidentsapi.Registry
	tb          *metadata.TelemetryBuilder
	retry       configretry.BackOffConfig
	before      time.Duration
	collectorID string
	now         func() time.Time
	// signer signs manifests; nil leaves them unsigned.
	signer *bundle.Signer

	mu   sync.Mutex
	jobs map[string]*uploadJob
	wake chan struct{}
}

// uploadJob is the upload progress of one incident.
type uploadJob struct {
	// state is the latest committed state.
	state *incidentState
	// next indexes the first part of state.Parts that may still be in the
	// spool.
	next int
	// manifestVersion is the state version whose manifest is in the store.
	manifestVersion uint64
}

func newUploader(u *uploader) *uploader {
	u.jobs = make(map[string]*uploadJob)
	u.wake = make(chan struct{}, 1)
	return u
}

// submit hands over a committed state, which nobody changes any more: the
// freezer changes copies (freezer.update), so that the uploader and the
// freezer can hold the same state.
func (u *uploader) submit(st *incidentState) {
	id := st.Incident.ID
	u.mu.Lock()
	j := u.jobs[id]
	u.mu.Unlock()
	if j == nil {
		// First sight (at start): skip the parts uploaded before.
		next := 0
		for next < len(st.Parts) && !u.spool.hasPart(id, st.Parts[next].Seq) {
			next++
		}
		j = &uploadJob{next: next}
	}
	u.mu.Lock()
	j.state = st
	u.jobs[id] = j
	u.mu.Unlock()
	select {
	case u.wake <- struct{}{}:
	default:
	}
}

// forget drops an incident whose unchecked parts the freezer discarded.
func (u *uploader) forget(id string) {
	u.mu.Lock()
	delete(u.jobs, id)
	u.mu.Unlock()
}

// spooled returns the parts and bytes waiting in the spool.
func (u *uploader) spooled() (parts, size int64) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, j := range u.jobs {
		for _, p := range j.state.Parts[j.next:] {
			parts++
			size += p.Size
		}
	}
	return parts, size
}

// run uploads whenever a state is submitted and on every tick.
func (u *uploader) run(ctx context.Context, tick <-chan time.Time) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-u.wake:
		case <-tick:
		}
		u.drain(ctx)
	}
}

// drain uploads everything pending, retrying with backoff until it
// succeeds, the context ends or retry_on_failure gives up (then the next
// submit or tick tries again).
func (u *uploader) drain(ctx context.Context) {
	bo := retry.New(u.retry, time.Now())
	for {
		err := u.pass(ctx)
		if err == nil || ctx.Err() != nil {
			return
		}
		wait, ok := bo.Next(time.Now())
		if !ok {
			u.logger.Error("Uploading evidence to the store failed; the parts stay in the spool and are retried at the next flush",
				zap.String("store", u.store.String()), zap.Error(err))
			return
		}
		u.logger.Warn("Uploading evidence to the store failed; retrying",
			zap.String("store", u.store.String()), zap.Duration("retry_in", wait), zap.Error(err))
		if retry.Sleep(ctx, wait) != nil {
			return
		}
	}
}

// pass tries every incident once and returns the errors.
func (u *uploader) pass(ctx context.Context) error {
	u.mu.Lock()
	ids := slices.Sorted(maps.Keys(u.jobs))
	u.mu.Unlock()
	var errs []error
	for _, id := range ids {
		if err := u.process(ctx, id); err != nil {
			errs = append(errs, fmt.Errorf("incident %s: %w", id, err))
			if ctx.Err() != nil {
				break
			}
		}
	}
	return errors.Join(errs...)
}

// process uploads one incident's pending parts, then its manifest.
// incident.json is the incidents extension's to write.
func (u *uploader) process(ctx context.Context, id string) error {
	u.mu.Lock()
	j := u.jobs[id]
	if j == nil {
		u.mu.Unlock()
		return nil // forgotten: the store held the bundle already
	}
	st, next := j.state, j.next
	u.mu.Unlock()
	if st.Unchecked {
		// The freezer has not yet asked whether the store holds this
		// collector's bundle already; it submits the checked state.
		return nil
	}

	for i := next; i < len(st.Parts); i++ {
		if err := u.uploadPart(ctx, id, st.Parts[i]); err != nil {
			return err
		}
		u.mu.Lock()
		j.next = i + 1
		u.mu.Unlock()
	}
	if j.manifestVersion != st.Version {
		if err := u.putManifest(ctx, st); err != nil {
			u.tb.ExporterEvidencePartsFailed.Add(ctx, 1)
			return err
		}
		j.manifestVersion = st.Version
	}
	if !st.Final {
		return nil
	}
	// The complete bundle is in the store, its late-data period over.
	if err := u.spool.markDone(id); err != nil {
		u.logger.Warn("Cannot mark the incident done in the spool", zap.String("incident", id), zap.Error(err))
	}
	u.mu.Lock()
	if j.state == st {
		delete(u.jobs, id)
	}
	u.mu.Unlock()
	if inc := u.reg.Snapshot().Incidents[id]; inc == nil || !inc.IsOpen() {
		if err := u.spool.removeIncident(id); err != nil {
			u.logger.Warn("Cannot remove a finished incident from the spool", zap.String("incident", id), zap.Error(err))
		}
	}
	return nil
}

// uploadPart puts one spooled part in the store and removes it from the
// spool. A part missing from the spool was uploaded before.
func (u *uploader) uploadPart(ctx context.Context, id string, ref bundle.PartRef) error {
	// Streamed from the spool file (it is never changed once written),
	// so that an upload does not hold the part in memory while the next
	// part is frozen.
	f, size, err := u.spool.openPart(id, ref.Seq)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		u.tb.ExporterEvidencePartsFailed.Add(ctx, 1)
		return err
	}
	key, err := bundle.PartKey(id, u.collectorID, ref.Seq)
	if err != nil {
		_ = f.Close()
		return err
	}
	start := time.Now()
	err = u.store.Put(ctx, key, f, size,
		store.PutOptions{ContentType: bundle.PartContentType, Immutable: true})
	_ = f.Close() // read only; closed before the part is removed
	if err != nil {
		u.tb.ExporterEvidencePartsFailed.Add(ctx, 1)
		return fmt.Errorf("uploading %s: %w", key, err)
	}
	u.tb.ExporterEvidenceUploadDuration.Record(ctx, time.Since(start).Seconds())
	u.tb.ExporterEvidencePartsUploaded.Add(ctx, 1)
	if err := u.spool.removePart(id, ref.Seq); err != nil {
		// Harmless: the part is uploaded again after a restart.
		u.logger.Warn("Cannot remove an uploaded part from the spool", zap.String("key", key), zap.Error(err))
	}
	return nil
}

// putManifest writes the manifest of st. The complete manifest is
// immutable; the ones before it are rewritten as parts are added.
func (u *uploader) putManifest(ctx context.Context, st *incidentState) error {
	id := st.Incident.ID
	m, err := bundle.NewManifest(id, u.collectorID, st.window(u.before))
	if err != nil {
		return err
	}
	for _, p := range st.Parts {
		if err := m.AddPart(p); err != nil {
			return err
		}
	}
	m.AddLosses(st.Losses...)
	m.Complete = st.Complete
	m.UpdatedAt = u.now()
	data, err := m.MarshalSigned(u.signer)
	if err != nil {
		return err
	}
	key, err := bundle.ManifestKey(id, u.collectorID)
	if err != nil {
		return err
	}
	if err := u.store.Put(ctx, key, bytes.NewReader(data), int64(len(data)),
		store.PutOptions{ContentType: bundle.ManifestContentType, Immutable: st.Final}); err != nil {
		return fmt.Errorf("uploading %s: %w", key, err)
	}
	return nil
}
