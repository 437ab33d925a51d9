package cli

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/internal/evidencedir"
	"github.com/otel-evidence/otel-evidence/internal/redact"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// redactOptions are the flags of `evidencectl redact`.
type redactOptions struct {
	root  *rootOptions
	rules string
	out   string
	id    string
}

func newRedactCmd(root *rootOptions) *cobra.Command {
	o := &redactOptions{root: root}
	cmd := &cobra.Command{
		Use:   "redact DIR --rules FILE --out DIR2",
		Short: "Write a redacted copy of downloaded evidence, for sharing, that keeps custody",
		Long: `Write a derived bundle for sharing: every part of DIR (as written by
'evidencectl get', or a copy of the store layout) redacted by the rules,
into DIR2 in the store layout. The source is verified first (with --key,
its signatures too); evidence that does not verify is not copied.

The rules file (YAML or JSON) follows the collector contrib redaction
processor where it fits:

  allow_all_keys: true          # false: remove every attribute not allowed
  allowed_keys: [service.name]  # kept when allow_all_keys is false
  ignored_keys: [trace.id]      # never touched
  blocked_key_patterns: ["^user\\.", "token"]   # their values masked (or hashed)
  blocked_values: ["[0-9]{4}(-[0-9]{4}){3}"]    # masked wherever they appear
  hash_function: sha256         # hash instead of masking with ****

Attributes of resources, scopes, spans, span events and links, log records
and data points, log bodies, span names and status messages, the incident's
title and labels (in incident.json and in the record frozen into each part)
and event payloads are redacted. Each derived manifest records the source
manifest (whole, with its signature) and its SHA-256, and the SHA-256 of the
rules file; each derived part names the source part it was made from.
'evidencectl verify DIR2 --key ...' accepts the copy as derived: it checks
the source manifest's signature and that every part comes from it.`,
		Example: `  evidencectl redact ./INC-42 --rules redaction.yaml --out ./INC-42-shared --key evidence.pub
  evidencectl verify ./INC-42-shared --key evidence.pub`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().StringVar(&o.rules, "rules", "", "redaction rules file (YAML or JSON)")
	cmd.Flags().StringVar(&o.out, "out", "", "directory to write the redacted copy to (must not exist)")
	cmd.Flags().StringVar(&o.id, "id", "", "incident to copy in a directory holding several")
	return cmd
}

// redactResult is the JSON output of redact.
type redactResult struct {
	Dir         string         `json:"dir"`
	IncidentID  string         `json:"incident_id"`
	RulesSHA256 string         `json:"rules_sha256"`
	Summary     redact.Summary `json:"summary"`
}

func (o *redactOptions) run(ctx context.Context, dir string) error {
	if o.rules == "" || o.out == "" {
		return usageError("give --rules FILE and --out DIR2", "--rules and --out are required")
	}
	rulesData, err := os.ReadFile(o.rules)
	if err != nil {
		return newError(ErrNotFound, err, "give the redaction rules file", "cannot read --rules %s: %v", o.rules, err)
	}
	r, err := redact.Parse(rulesData)
	if err != nil {
		return usageError("fix the rules file", "--rules %s: %v", o.rules, err)
	}
	if _, err := os.Lstat(o.out); err == nil {
		return usageError("choose a new directory with --out", "%s exists: a redacted copy is written to a new directory", o.out)
	} else if !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("--out %s: %w", o.out, err)
	}
	src := filepath.Join(dir, evidencedir.RawDir)
	if !isDir(src) {
		src = dir
	}
	if !isDir(filepath.Join(src, strings.TrimSuffix(bundle.IncidentsPrefix, "/"))) {
		return usageError("give a directory written by `evidencectl get`", "%s is not an evidence directory: it has neither %s/ nor incidents/", dir, evidencedir.RawDir)
	}
	vo := verifyOptions{root: o.root, id: o.id}
	id, err := vo.dirIncident(src, nil)
	if err != nil {
		return err
	}
	keys, err := o.root.keyRing(ctx)
	if err != nil {
		return err
	}
	rep, err := bundle.VerifyDir(ctx, src, id, bundle.VerifyOptions{Keys: keys})
	if err != nil {
		return interrupted(fmt.Errorf("verifying %s: %w", src, err), "run the command again")
	}
	if !rep.OK() {
		return newError(ErrVerifyFailed, nil, "run `evidencectl verify "+dir+"` for the problems; only evidence that verifies is copied",
			"%s does not verify (%d problem(s)): %s", dir, len(rep.AllProblems()), problemList(rep.AllProblems()))
	}
	sum := sha256.Sum256(rulesData)
	res := redactResult{Dir: o.out, IncidentID: id, RulesSHA256: hex.EncodeToString(sum[:])}
	res.Summary, err = redact.Bundle(redact.Options{Src: src, Dst: o.out, IncidentID: id, RulesSHA256: res.RulesSHA256, Now: o.root.now().UTC()}, r)
	if err != nil {
		return fmt.Errorf("writing the redacted copy to %s: %w", o.out, err)
	}
	if o.root.jsonOutput() {
		return o.root.printJSON(res)
	}
	out := &textWriter{w: o.root.stdout()}
	out.printf("Redacted copy of %s in %s: %d collector(s), %d part(s), %d spans, %d log records, %d data points, %d events\n",
		id, o.out, res.Summary.Collectors, res.Summary.Parts, res.Summary.Counts.Spans, res.Summary.Counts.LogRecords,
		res.Summary.Counts.DataPoints, res.Summary.Counts.Events)
	out.printf("Rules sha256 %s; each manifest records its source manifest.\n", res.RulesSHA256)
	out.printf("Check it with: evidencectl verify %s --key ...\n", o.out)
	return out.err
}
