package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// Where verify looked.
const (
	sourceDirectory = "directory"
	sourceStore     = "store"
)

// verifyOptions are the flags of `evidencectl verify`.
type verifyOptions struct {
	root            *rootOptions
	inStore         bool
	requireComplete bool
	id              string
}

func newVerifyCmd(root *rootOptions) *cobra.Command {
	o := &verifyOptions{root: root}
	cmd := &cobra.Command{
		Use:   "verify PATH|INCIDENT",
		Short: "Verify a downloaded evidence directory or an incident in the store",
		Long: `Verify evidence against its manifests: every part's size and SHA-256
against its collector's manifest, every file inside each part against the
part's part.json, and incident.json.

With a directory (as written by 'evidencectl get'), the copy of the store
layout in DIR/raw is checked, and the merged files against
merged-manifest.json. With an incident ID, the evidence in the store is
checked where it lies. A directory wins over an incident ID of the same
name; --in-store checks the store instead.

Signatures: with --key (repeatable, for rotated keys; or EVIDENCECTL_KEYS),
every manifest and part.json must carry a valid signature of a trusted key;
a bad, missing or unknown-key signature fails. Without --key, signatures
are reported but not checked. Each part also names the SHA-256 of the part
before it (a hash chain), and incident.json is compared with the incident
record frozen into the parts: the fields that changed, and when, are shown;
a change the incidents registry cannot have made is tampering.

The exit code is 0 when everything matches and 4 when anything does not;
every bad file is named.`,
		Example: `  evidencectl verify ./INC-42 --key evidence-signing.pub
  evidencectl verify INC-42 --in-store --store s3://evidence/prod --key old.pub --key new.pub
  evidencectl verify ./INC-42 --require-complete --output json`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().BoolVar(&o.inStore, "in-store", false, "verify the incident in the store even when a directory of that name exists")
	cmd.Flags().BoolVar(&o.requireComplete, "require-complete", false, "also fail (exit 4) when a collector has not finished its bundle")
	cmd.Flags().StringVar(&o.id, "id", "", "incident to verify in a directory holding several")
	return cmd
}

// verifyResult is the JSON output of verify.
type verifyResult struct {
	// Source is "directory" or "store"; Location is the directory or store.
	Source     string `json:"source"`
	Location   string `json:"location"`
	IncidentID string `json:"incident_id"`
	// OK: no problem found. Complete: OK and every collector finished.
	OK       bool `json:"ok"`
	Complete bool `json:"complete"`
	// Lossless: every collector's manifest says nothing is missing.
	// Losses do not fail verification: they are named, not hidden.
	Lossless bool                        `json:"lossless"`
	Losses   []evidencedir.CollectorLoss `json:"losses,omitempty"`
	// Problems lists every bad file: those of the report and of the
	// merged files.
	Problems []*bundle.VerifyError `json:"problems"`
	Report   bundle.Report         `json:"report"`
}

func (o *verifyOptions) run(ctx context.Context, arg string) error {
	if !o.inStore {
		info, err := os.Stat(arg)
		switch {
		case err == nil && info.IsDir():
			return o.verifyDir(ctx, arg)
		case err == nil:
			return usageError("give a directory written by `evidencectl get`, or an incident ID", "%s is a file, not a directory", arg)
		case strings.ContainsAny(arg, `/\`) || strings.HasPrefix(arg, "."):
			return newError(ErrNotFound, err, "give a directory written by `evidencectl get`, or an incident ID", "directory %s does not exist", arg)
		}
	}
	if err := incident.ValidateID(arg); err != nil {
		return usageError("run `evidencectl list` for the incidents in the store", "invalid incident id: %v", err)
	}
	if o.id != "" && o.id != arg {
		return usageError("drop --id", "--id %s differs from the incident %s", o.id, arg)
	}
	keys, err := o.root.keyRing(ctx)
	if err != nil {
		return err
	}
	st, release, err := o.root.openStore(ctx)
	if err != nil {
		return err
	}
	defer release()
	rep, err := bundle.VerifyBundle(ctx, st, arg, bundle.VerifyOptions{Keys: keys})
	if errors.Is(err, store.ErrNotFound) {
		return newError(ErrNotFound, nil, "check --store or run `evidencectl list`", "incident %s not found in %s", arg, st)
	}
	if err != nil {
		return interrupted(storeError(err, "the evidence of "+arg+" in "+st.String()), "run the command again")
	}
	return o.report(verifyResult{Source: sourceStore, Location: st.String(), IncidentID: arg, Report: rep})
}

// verifyDir checks a directory written by get (DIR/raw plus the merged
// files) or a bare copy of the store layout (DIR/incidents).
func (o *verifyOptions) verifyDir(ctx context.Context, dir string) error {
	root := filepath.Join(dir, evidencedir.RawDir)
	merged := true
	if !isDir(root) {
		if !isDir(filepath.Join(dir, strings.TrimSuffix(bundle.IncidentsPrefix, "/"))) {
			return usageError("give a directory written by `evidencectl get`, or an incident ID with --in-store",
				"%s is not an evidence directory: it has neither %s/ nor incidents/", dir, evidencedir.RawDir)
		}
		root, merged = dir, false
	}
	var mm *evidencedir.Manifest
	var mmProblem *bundle.VerifyError
	if merged {
		var err error
		mm, err = evidencedir.ReadManifest(dir)
		mmPath := filepath.Join(dir, evidencedir.ManifestFile)
		switch {
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			mmProblem = &bundle.VerifyError{File: mmPath, Reason: "missing: run `evidencectl get` again to merge"}
		case errors.As(err, &mmProblem):
		default:
			mmProblem = &bundle.VerifyError{File: mmPath, Reason: err.Error()}
		}
	}
	id, err := o.dirIncident(root, mm)
	if err != nil {
		return err
	}
	keys, err := o.root.keyRing(ctx)
	if err != nil {
		return err
	}
	rep, err := bundle.VerifyDir(ctx, root, id, bundle.VerifyOptions{Keys: keys})
	if errors.Is(err, store.ErrNotFound) {
		return newError(ErrNotFound, nil, fmt.Sprintf("run `evidencectl get %s -o %s`", id, dir), "no evidence of incident %s in %s", id, root)
	}
	if err != nil {
		return interrupted(fmt.Errorf("verifying %s: %w", root, err), "run the command again")
	}
	res := verifyResult{Source: sourceDirectory, Location: dir, IncidentID: id, Report: rep}
	if mmProblem != nil {
		res.Problems = append(res.Problems, mmProblem)
	}
	if mm != nil {
		res.Problems = append(res.Problems, checkMergedFiles(dir, id, mm)...)
	}
	return o.report(res)
}

// dirIncident picks the incident to verify in a raw layout: --id, the
// merged manifest's, or the only one present.
func (o *verifyOptions) dirIncident(root string, mm *evidencedir.Manifest) (string, error) {
	if o.id != "" {
		if err := incident.ValidateID(o.id); err != nil {
			return "", usageError("check --id", "invalid --id: %v", err)
		}
		return o.id, nil
	}
	if mm != nil && incident.ValidateID(mm.IncidentID) == nil {
		return mm.IncidentID, nil
	}
	ids, err := evidencedir.IncidentIDs(root)
	if err != nil {
		return "", err
	}
	switch len(ids) {
	case 1:
		return ids[0], nil
	case 0:
		return "", newError(ErrNotFound, nil, "run `evidencectl get INCIDENT -o DIR` first", "no incident in %s", root)
	default:
		return "", usageError("choose one with --id", "%s holds several incidents (%s)", root, strings.Join(ids, ", "))
	}
}

// checkMergedFiles compares the merged files with merged-manifest.json.
func checkMergedFiles(dir, id string, mm *evidencedir.Manifest) []*bundle.VerifyError {
	var out []*bundle.VerifyError
	mmPath := filepath.Join(dir, evidencedir.ManifestFile)
	if mm.IncidentID != id {
		out = append(out, &bundle.VerifyError{File: mmPath, Reason: fmt.Sprintf("'incident_id' is %q, want %q", mm.IncidentID, id)})
	}
	for _, name := range evidencedir.MergedFiles {
		want, ok := mm.Files[name]
		path := filepath.Join(dir, name)
		if !ok {
			out = append(out, &bundle.VerifyError{File: mmPath, Reason: fmt.Sprintf("'files' does not list %s", name)})
			continue
		}
		match, err := evidencedir.FileMatches(path, want.Size, want.SHA256)
		switch {
		case err != nil:
			out = append(out, &bundle.VerifyError{File: path, Reason: err.Error()})
		case !match:
			if _, serr := os.Stat(path); serr != nil {
				out = append(out, &bundle.VerifyError{File: path, Reason: "missing"})
			} else {
				out = append(out, &bundle.VerifyError{File: path, Reason: fmt.Sprintf("does not match the size %d and sha256 %s in %s", want.Size, want.SHA256, evidencedir.ManifestFile)})
			}
		}
	}
	return out
}

func isDir(path string) bool {
	info, err := os.Stat(path)
	return err == nil && info.IsDir()
}

// report prints the result and returns the verification error, if any.
func (o *verifyOptions) report(res verifyResult) error {
	res.Problems = append(res.Report.AllProblems(), res.Problems...)
	if res.Problems == nil {
		res.Problems = []*bundle.VerifyError{}
	}
	res.OK = len(res.Problems) == 0
	res.Complete = res.OK && res.Report.Complete()
	res.Lossless = res.Report.Lossless()
	res.Losses = reportLosses(&res.Report)
	var err error
	if o.root.jsonOutput() {
		err = o.root.printJSON(res)
	} else {
		err = writeVerifyText(o.root.stdout(), &res)
	}
	if err != nil {
		return err
	}
	again := fmt.Sprintf("run `evidencectl get %s` again to download the bad files afresh; if they stay bad, `evidencectl verify %s --in-store` checks the store's copy", res.IncidentID, res.IncidentID)
	if res.Source == sourceStore {
		again = "the store's copy is damaged or incomplete; keep it as it is and compare with the other collectors' evidence"
	}
	switch {
	case !res.OK:
		return newError(ErrVerifyFailed, nil, again, "verification of %s failed, %d problem(s): %s", res.Location, len(res.Problems), problemList(res.Problems))
	case o.requireComplete && !res.Complete:
		return newError(ErrVerifyFailed, nil, "wait for the collectors to finish, then run `evidencectl get "+res.IncidentID+"` again",
			"the evidence of %s is intact but not complete: %s", res.IncidentID, strings.Join(unfinished(&res.Report), ", "))
	}
	return nil
}

// unfinished names the collectors that have not finished.
func unfinished(rep *bundle.Report) []string {
	var out []string
	for _, c := range rep.Collectors {
		if !c.Complete {
			out = append(out, "collector "+c.CollectorID+" has not finished")
		}
	}
	if len(rep.Collectors) == 0 {
		out = append(out, "no collector has written evidence")
	}
	return out
}

func writeVerifyText(w io.Writer, res *verifyResult) error {
	out := &textWriter{w: w}
	out.printf("Verified incident %s in %s %s\n", res.IncidentID, res.Source, res.Location)
	for _, c := range res.Report.Collectors {
		state := "ok"
		if n := len(c.Problems); n > 0 {
			state = fmt.Sprintf("%d problem(s)", n)
		}
		done := "complete"
		if !c.Complete {
			done = "not complete"
		}
		if !c.HasManifest {
			done = "no manifest"
		}
		out.printf("  collector %s: %s, %d parts, %s\n", c.CollectorID, state, c.Parts, done)
	}
	for _, u := range res.Report.Unexpected {
		out.printf("  not part of the layout (not checked): %s\n", u)
	}
	if line := signatureLine(&res.Report); line != "" {
		out.printf("%s\n", line)
	}
	for _, c := range res.Report.Collectors {
		if d := c.DerivedFrom; d != nil {
			out.printf("Derived bundle (%s) of collector %s: source manifest sha256 %s (signature %s), rules sha256 %s\n",
				dash(d.Tool), c.CollectorID, d.SourceManifestSHA256, d.SourceSignature.State, d.RulesSHA256)
		}
	}
	if ic := res.Report.IncidentRecord; ic != nil && ic.Tampered == "" {
		out.printf("Incident record: %s\n", ic.Summary())
	}
	for _, p := range res.Problems {
		out.printf("BAD  %s\n", p.Error())
	}
	writeLosses(out, res.Losses)
	switch {
	case !res.OK:
		out.printf("FAILED: %d problem(s)\n", len(res.Problems))
	case res.Complete:
		out.printf("OK: every file matches its manifest; the bundle is complete%s\n", lossSuffix(res))
	default:
		out.printf("OK: every file matches its manifest; the bundle is not complete yet%s\n", lossSuffix(res))
	}
	return out.err
}

// lossSuffix ends verify's verdict with what the bundle says it lacks.
func lossSuffix(res *verifyResult) string {
	switch {
	case len(res.Losses) > 0:
		return fmt.Sprintf(", and it names missing evidence (%s above)", plural(len(res.Losses), "MISSING line"))
	case res.Lossless:
		return " and lossless"
	}
	return "; it does not record whether anything is missing (a manifest is missing or predates loss records)"
}

// reportLosses lists the losses of every collector's manifest.
func reportLosses(rep *bundle.Report) []evidencedir.CollectorLoss {
	var out []evidencedir.CollectorLoss
	for _, c := range rep.Collectors {
		for _, l := range c.Losses {
			out = append(out, evidencedir.CollectorLoss{CollectorID: c.CollectorID, Loss: l})
		}
	}
	return out
}
