package cli

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/otel-evidence/otel-evidence/internal/catalog"
	"github.com/otel-evidence/otel-evidence/internal/storage"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
	"github.com/otel-evidence/otel-evidence/pkg/store"
)

// defaultShareExpiry is how long share links stay valid unless --expires
// says otherwise.
const defaultShareExpiry = 24 * time.Hour

// shareOptions are the flags of `evidencectl share`.
type shareOptions struct {
	root    *rootOptions
	expires time.Duration
}

func newShareCmd(root *rootOptions) *cobra.Command {
	o := &shareOptions{root: root}
	cmd := &cobra.Command{
		Use:   "share INCIDENT [--expires 24h]",
		Short: "Print presigned download links to an incident's evidence in S3",
		Long: `Print a presigned URL for every object of an incident in an S3 store (its
record, manifests, parts and notes), as 'mc share download' does: anyone
with a link can download that object without credentials until it
expires (at most 7 days, the limit of S3 signatures). The links are signed
locally with the store's credentials; nothing in the store changes. The
web page ('evidencectl serve') makes the same links on its bundle page.`,
		Example: `  evidencectl share INC-42 --store s3://evidence/prod
  evidencectl share INC-42 --expires 2h --output json | jq -r '.objects[].url'`,
		Args: exactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error { return o.run(cmd.Context(), args[0]) },
	}
	cmd.Flags().DurationVar(&o.expires, "expires", defaultShareExpiry, "how long the links stay valid (1m to 168h)")
	return cmd
}

type shareResult struct {
	IncidentID string           `json:"incident_id"`
	Store      string           `json:"store"`
	Expires    time.Time        `json:"expires"`
	Objects    []catalog.Shared `json:"objects"`
}

func (o *shareOptions) run(ctx context.Context, id string) error {
	if err := incident.ValidateID(id); err != nil {
		return usageError("run `evidencectl list` for the incidents in the store", "invalid incident id: %v", err)
	}
	if o.expires < time.Minute || o.expires > storage.MaxPresignExpiry {
		return usageError("for example --expires 24h", "--expires must be from 1m to %s, got %s", storage.MaxPresignExpiry, o.expires)
	}
	st, release, err := o.root.openStore(ctx)
	if err != nil {
		return err
	}
	defer release()
	shared, err := catalog.Share(ctx, st, id, o.expires, o.root.now())
	switch {
	case errors.Is(err, catalog.ErrNotShareable):
		return usageError("share the evidence of an S3 store (--store s3://BUCKET/PREFIX), or send the folder `evidencectl get` writes", "%v", err)
	case errors.Is(err, store.ErrNotFound):
		return newError(ErrNotFound, nil, "check the ID with `evidencectl list` and the store with --store", "incident %s not found in %s", id, st)
	case err != nil:
		return interrupted(storeErr(err), "run the command again")
	}
	res := shareResult{IncidentID: id, Store: st.String(), Expires: o.root.now().Add(o.expires).UTC().Truncate(time.Second), Objects: shared}
	if o.root.jsonOutput() {
		return o.root.printJSON(res)
	}
	t := &textWriter{w: o.root.stdout()}
	t.printf("Links to the %d objects of %s in %s, valid until %s.\nAnyone with a link can download its object without credentials.\n",
		len(shared), id, st, res.Expires.Format(time.RFC3339))
	for _, s := range shared {
		t.printf("\n%s (%s)\n%s\n", s.Key, humanBytes(s.Size), s.URL)
	}
	if t.err != nil {
		return fmt.Errorf("writing the links: %w", t.err)
	}
	return nil
}
