package cli

import (
	"time"

	"github.com/schollz/progressbar/v3"

	"github.com/otel-evidence/otel-evidence/internal/safetext"
)

// progress counts bytes towards a total; the terminal implementation draws
// a bar on stderr.
type progress interface {
	Add64(n int64) error
	Finish() error
}

type noProgress struct{}

func (noProgress) Add64(int64) error { return nil }
func (noProgress) Finish() error     { return nil }

// newProgress returns a byte progress bar on stderr when stderr is a
// terminal, and a no-op otherwise (pipes, files, CI logs).
func (o *rootOptions) newProgress(total int64, desc string) progress {
	if total <= 0 || !o.env.StderrIsTerminal() {
		return noProgress{}
	}
	return progressbar.NewOptions64(total,
		progressbar.OptionSetWriter(o.env.Stderr),
		progressbar.OptionSetDescription(safetext.Escape(desc)),
		progressbar.OptionShowBytes(true),
		progressbar.OptionShowTotalBytes(true),
		progressbar.OptionSetWidth(30),
		progressbar.OptionThrottle(100*time.Millisecond),
		progressbar.OptionSetPredictTime(true),
		progressbar.OptionClearOnFinish(),
		progressbar.OptionUseIECUnits(true),
	)
}
