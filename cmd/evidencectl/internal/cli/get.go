package cli

import (
	"cmp"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/otel-evidence/otel-evidence/internal/atomicfile"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

const (
	defaultGetParallel = 4
	dirPerm            = evidencedir.DirPerm
	filePerm           = evidencedir.FilePerm
)

// getOptions are the flags of `evidencectl get`.
type getOptions struct {
	root     *rootOptions
	dir      string
	parallel int
}

func newGetCmd(root *rootOptions) *cobra.Command {
	o := &getOptions{root: root}
	cmd := &cobra.Command{
		Use:   "get INCIDENT [-o DIR] [--parallel N]",
		Short: "Download, verify and merge an incident's evidence from every collector",
		Long: `Download every part and manifest of the incident from every collector, in
parallel, verify each part's SHA-256 against its manifest, and merge them
into DIR (default ./INCIDENT):

  traces.jsonl, logs.jsonl, metrics.jsonl  OTLP JSON Lines from all parts of
                                           all collectors (otlp_proto parts
                                           are re-encoded to JSON)
  events.jsonl                             incident and deploy events, each
                                           once even when several replicas
                                           recorded it
  merged-manifest.json                     collectors, completeness, counts
                                           per collector and totals
  raw/                                     the store layout, for
                                           'evidencectl verify DIR'

Running get again resumes: parts already present with the right SHA-256
are kept, others are downloaded again (to a .partial file, renamed when
verified). Manifests are always fetched again, so a bundle that was still
being written is completed by the next run.`,
		Example: `  evidencectl get INC-42
  evidencectl get INC-42 -o /tmp/inc-42 --parallel 8
  evidencectl get INC-42 --store s3://evidence/prod --s3-region eu-west-1`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVarP(&o.dir, "dir", "o", "", "directory to write into (default ./INCIDENT)")
	cmd.Flags().IntVar(&o.parallel, "parallel", defaultGetParallel, "parts downloaded at the same time")
	return cmd
}

// partJob is one part object to fetch (Ref is nil for a part the manifest
// does not list: the collector is still writing, or has no manifest).
type partJob struct {
	evidencedir.Part
	size int64
}

// downloadStats counts what get did.
type downloadStats struct {
	// Downloaded parts and their bytes.
	Downloaded      int   `json:"downloaded"`
	DownloadedBytes int64 `json:"downloaded_bytes"`
	// Skipped parts were already present with the right SHA-256.
	Skipped int `json:"skipped"`
	// Failed parts are missing from the store or do not match their
	// manifest; they are named in the problems.
	Failed int `json:"failed"`
}

// getResult is the JSON output of get.
type getResult struct {
	Dir      string               `json:"dir"`
	Download downloadStats        `json:"download"`
	Merged   evidencedir.Manifest `json:"merged"`
}

// fetchState is shared by the download workers.
type fetchState struct {
	st       store.Store
	dir      string
	progress progress

	mu       sync.Mutex
	stats    downloadStats
	problems []*bundle.VerifyError
	// bad holds the keys of parts that must not be merged.
	bad map[string]bool
}

func (s *fetchState) problem(key, format string, args ...any) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.problems = append(s.problems, &bundle.VerifyError{File: key, Reason: fmt.Sprintf(format, args...)})
	s.bad[key] = true
	s.stats.Failed++
}

func (o *getOptions) run(ctx context.Context, id string) error {
	if err := incident.ValidateID(id); err != nil {
		return usageError("run `evidencectl list` for the incidents in the store", "invalid incident id: %v", err)
	}
	if o.parallel < 1 {
		return usageError("use --parallel 1 or more", "invalid --parallel %d", o.parallel)
	}
	dir := o.dir
	if dir == "" {
		dir = id
	}
	st, release, err := o.root.openStore(ctx)
	if err != nil {
		return err
	}
	defer release()

	prefix, _ := bundle.IncidentPrefix(id)
	objs, err := listAll(ctx, st, prefix)
	if err != nil {
		return err
	}
	g := groupObjects(objs)[id]
	if g == nil {
		return newError(ErrNotFound, nil, "check --store or run `evidencectl list`", "incident %s not found in %s", id, st)
	}
	rawDir := filepath.Join(dir, evidencedir.RawDir)
	if err := os.MkdirAll(rawDir, dirPerm); err != nil {
		return newError(nil, err, "choose another directory with -o", "cannot create %s: %v", rawDir, err)
	}
	fetch := &fetchState{st: st, dir: dir, bad: make(map[string]bool)}

	// incident.json and the manifests: small, mutable, always fetched again.
	inc, manifests, err := o.fetchMetadata(ctx, fetch, g)
	if err != nil {
		return interrupted(err, "run the same command again to resume")
	}
	jobs := planParts(id, g, manifests)
	var total int64
	for _, j := range jobs {
		total += j.size
	}
	fetch.progress = o.root.newProgress(total, "downloading "+id)
	err = forEach(ctx, len(jobs), o.parallel, func(ctx context.Context, i int) error {
		return fetch.fetchPart(ctx, jobs[i])
	})
	_ = fetch.progress.Finish()
	if err != nil {
		return interrupted(err, "run the same command again to resume; verified parts are kept")
	}

	parts := make([]evidencedir.Part, len(jobs))
	for i, j := range jobs {
		parts[i] = j.Part
	}
	merged, err := evidencedir.Merge(dir, id, inc, g.collectorIDs(), manifests, parts, fetch.bad)
	if err != nil {
		return err
	}
	merged.Store = st.String()
	merged.CreatedAt = o.root.now().UTC()
	merged.Problems = append(fetch.problems, merged.Problems...)
	merged.Complete = merged.Complete && len(merged.Problems) == 0
	if err := evidencedir.WriteJSON(filepath.Join(dir, evidencedir.ManifestFile), merged); err != nil {
		return err
	}

	res := getResult{Dir: dir, Download: fetch.stats, Merged: *merged}
	if o.root.jsonOutput() {
		err = o.root.printJSON(res)
	} else {
		err = writeGetText(o.root.stdout(), &res)
	}
	if err != nil {
		return err
	}
	for _, c := range merged.Collectors {
		if !c.Complete {
			o.root.warnf("collector %s has not finished this bundle (its manifest is not complete): run `evidencectl get %s` again later for the rest", c.CollectorID, id)
		}
	}
	if len(merged.Problems) > 0 {
		return newError(ErrVerifyFailed, nil, "the parts named above were not merged; run `evidencectl get "+id+"` again, and if they stay bad, `evidencectl verify "+id+"` checks the store's copy",
			"%d problem(s) in the evidence of %s: %s", len(merged.Problems), id, problemList(merged.Problems))
	}
	return nil
}

// problemList joins the problems for an error message.
func problemList(probs []*bundle.VerifyError) string {
	const maxShown = 5
	var s string
	for i, p := range probs {
		if i == maxShown {
			s += fmt.Sprintf("; and %d more", len(probs)-maxShown)
			break
		}
		if i > 0 {
			s += "; "
		}
		s += p.Error()
	}
	return s
}

// fetchMetadata downloads incident.json and every manifest into the raw
// directory and decodes them. Undecodable objects are kept and reported.
func (o *getOptions) fetchMetadata(ctx context.Context, fetch *fetchState, g *incidentObjects) (*incident.Incident, map[string]*bundle.Manifest, error) {
	var inc *incident.Incident
	if g.incident != nil {
		key, _ := bundle.IncidentKey(g.id)
		data, err := readObject(ctx, fetch.st, key, maxIncidentJSON)
		if err != nil {
			return nil, nil, err
		}
		if err := evidencedir.WriteFile(fetch.localPath(key), data); err != nil {
			return nil, nil, err
		}
		var v incident.Incident
		if err := json.Unmarshal(data, &v); err != nil {
			fetch.problem(key, "invalid JSON: %v", err)
		} else if err := v.Validate(); err != nil {
			fetch.problem(key, "invalid incident: %v", err)
		} else {
			inc = &v
		}
	} else {
		o.root.warnf("%s has no %s (the incidents extension writes it): the merged evidence has no incident record", g.id, bundle.IncidentFile)
	}
	ids := g.collectorIDs()
	manifests := make(map[string]*bundle.Manifest, len(ids))
	var mu sync.Mutex
	err := forEach(ctx, len(ids), o.parallel, func(ctx context.Context, i int) error {
		cid := ids[i]
		if g.collectors[cid].manifest == nil {
			return nil
		}
		key, _ := bundle.ManifestKey(g.id, cid)
		data, err := readObject(ctx, fetch.st, key, maxManifestJSON)
		if err != nil {
			return err
		}
		if err := evidencedir.WriteFile(fetch.localPath(key), data); err != nil {
			return err
		}
		m, err := bundle.ParseManifest(data)
		switch {
		case err != nil:
			fetch.problem(key, "%v", err)
		case m.IncidentID != g.id || m.CollectorID != cid:
			fetch.problem(key, "names incident %q and collector %q", m.IncidentID, m.CollectorID)
		default:
			mu.Lock()
			manifests[cid] = m
			mu.Unlock()
		}
		return nil
	})
	return inc, manifests, err
}

// planParts lists the parts to fetch: every part each manifest lists, and
// every part found in the store that no manifest lists.
func planParts(id string, g *incidentObjects, manifests map[string]*bundle.Manifest) []partJob {
	var jobs []partJob
	for _, cid := range g.collectorIDs() {
		listed := make(map[int]bool)
		if m := manifests[cid]; m != nil {
			for i := range m.Parts {
				ref := &m.Parts[i]
				key, _ := bundle.PartKey(id, cid, ref.Seq)
				jobs = append(jobs, partJob{Part: evidencedir.Part{Collector: cid, Seq: ref.Seq, Key: key, Ref: ref}, size: ref.Size})
				listed[ref.Seq] = true
			}
		}
		objs := g.collectors[cid]
		for _, seq := range slices.Sorted(maps.Keys(objs.parts)) {
			if listed[seq] {
				continue
			}
			p := objs.parts[seq]
			jobs = append(jobs, partJob{Part: evidencedir.Part{Collector: cid, Seq: seq, Key: p.Key}, size: p.Size})
		}
	}
	slices.SortStableFunc(jobs, func(a, b partJob) int {
		return cmp.Or(strings.Compare(a.Collector, b.Collector), cmp.Compare(a.Seq, b.Seq))
	})
	return jobs
}

// localPath is where key lives in the folder's raw copy.
func (s *fetchState) localPath(key string) string { return evidencedir.RawPath(s.dir, key) }

// fetchPart makes the local copy of one part: kept when present with the
// manifest's size and SHA-256, else downloaded to a .partial file, checked
// and renamed. A missing or mismatching part is a problem, not an error.
func (s *fetchState) fetchPart(ctx context.Context, j partJob) error {
	path := s.localPath(j.Key)
	if j.Ref != nil {
		ok, err := fileMatches(path, j.Ref.Size, j.Ref.SHA256)
		if err != nil {
			return err
		}
		if ok {
			_ = s.progress.Add64(j.size)
			s.mu.Lock()
			s.stats.Skipped++
			s.mu.Unlock()
			return nil
		}
	}
	rc, info, err := s.st.Get(ctx, j.Key)
	if errors.Is(err, store.ErrNotFound) {
		s.problem(j.Key, "listed in manifest.json but missing from the store")
		return nil
	}
	if err != nil {
		return storeError(err, fmt.Sprintf("%s in %s", j.Key, s.st))
	}
	defer func() { _ = rc.Close() }()
	if j.Ref == nil && info.Size > 0 {
		j.size = info.Size
	}
	if err := os.MkdirAll(filepath.Dir(path), dirPerm); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	f, err := atomicfile.Create(atomicfile.OS, path, atomicfile.Options{TempSuffix: evidencedir.PartialSuffix, Perm: filePerm})
	if err != nil {
		return err
	}
	defer f.Abort()
	h := sha256.New()
	limit := bundle.DefaultLimits.MaxTotalSize
	n, err := io.Copy(io.MultiWriter(f, h, progressWriter{s.progress}), io.LimitReader(rc, limit+1))
	if err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		if integrityFailure(err, n, j) {
			// The whole object arrived but failed the transport's own
			// integrity check (the S3 backend verifies a CRC32C at EOF):
			// the stored object is damaged, the store is reachable.
			s.problem(j.Key, "download failed its integrity check: %v", err)
			return nil
		}
		return storeError(err, fmt.Sprintf("%s in %s", j.Key, s.st))
	}
	sum := hex.EncodeToString(h.Sum(nil))
	switch {
	case n > limit:
		s.problem(j.Key, "larger than the limit of %d bytes", limit)
	case j.Ref != nil && n != j.Ref.Size:
		s.problem(j.Key, "size %d, manifest.json says %d", n, j.Ref.Size)
	case j.Ref != nil && sum != j.Ref.SHA256:
		s.problem(j.Key, "sha256 %s, manifest.json says %s", sum, j.Ref.SHA256)
	default:
		if err := f.Commit(); err != nil {
			return err
		}
		s.mu.Lock()
		s.stats.Downloaded++
		s.stats.DownloadedBytes += n
		s.mu.Unlock()
		return nil
	}
	return nil
}

// integrityFailure reports whether a download error is the store's
// integrity check failing rather than the store being unreachable: every
// expected byte arrived, or the S3 client says the checksum did not match
// (minio-go has no typed error for it).
func integrityFailure(err error, n int64, j partJob) bool {
	return (j.Ref != nil && n == j.Ref.Size) || strings.Contains(err.Error(), "checksum mismatch")
}

type progressWriter struct{ p progress }

func (w progressWriter) Write(b []byte) (int, error) {
	_ = w.p.Add64(int64(len(b)))
	return len(b), nil
}

// fileMatches reports whether the file at path exists with the given size
// and SHA-256.
func fileMatches(path string, size int64, sha string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	defer func() { _ = f.Close() }()
	info, err := f.Stat()
	if err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	if !info.Mode().IsRegular() || info.Size() != size {
		return false, nil
	}
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return false, fmt.Errorf("checking %s: %w", path, err)
	}
	return hex.EncodeToString(h.Sum(nil)) == sha, nil
}

// writeGetText prints what get did for a human.
func writeGetText(w io.Writer, r *getResult) error {
	out := &textWriter{w: w}
	m := &r.Merged
	if m.Incident != nil {
		out.printf("Incident %s", m.IncidentID)
		if m.Incident.Title != "" {
			out.printf(" %q", m.Incident.Title)
		}
		out.printf(" (%s", m.Incident.Status)
		if m.Incident.Severity != "" {
			out.printf(", %s", m.Incident.Severity)
		}
		out.printf(") from %s\n\n", m.Store)
	} else {
		out.printf("Incident %s from %s\n\n", m.IncidentID, m.Store)
	}
	if out.err != nil {
		return out.err
	}
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	table := &textWriter{w: tw}
	table.println("COLLECTOR\tCOMPLETE\tPARTS\tSIZE\tSPANS\tLOG RECORDS\tDATA POINTS\tEVENTS")
	for _, c := range m.Collectors {
		complete := yesNo(c.Complete)
		if !c.HasManifest {
			complete = "no manifest"
		}
		table.printf("%s\t%s\t%d\t%s\t%d\t%d\t%d\t%d\n", c.CollectorID, complete, c.Parts, humanBytes(c.Bytes),
			c.Counts.Spans, c.Counts.LogRecords, c.Counts.DataPoints, c.Counts.Events)
	}
	if table.err != nil {
		return table.err
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	out.printf("\nMerged into %s: %d spans, %d log records, %d data points, %d events (%d recorded across collectors).\n",
		r.Dir, m.Totals.Spans, m.Totals.LogRecords, m.Totals.DataPoints, m.Totals.Events, m.EventsRecorded)
	d := r.Download
	out.printf("Downloaded %s (%s); %d already present and verified", plural(d.Downloaded, "part"), humanBytes(d.DownloadedBytes), d.Skipped)
	if d.Failed > 0 {
		out.printf("; %d failed", d.Failed)
	}
	out.println(".")
	for _, p := range m.Problems {
		out.printf("BAD  %s\n", p.Error())
	}
	if m.Complete {
		out.println("The bundle is complete.")
	} else {
		out.println("The bundle is NOT complete.")
	}
	out.printf("Check the copy any time with: evidencectl verify %s\n", r.Dir)
	return out.err
}

// plural formats a count with its noun: "1 part", "3 parts".
func plural(n int, noun string) string {
	if n == 1 {
		return "1 " + noun
	}
	return fmt.Sprintf("%d %ss", n, noun)
}
