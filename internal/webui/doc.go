// Package webui is the web page for incident owners: the incidents an
// evidence store (or a folder `evidencectl get` wrote) holds, and for each
// incident its summary, suspects, timeline, per-version charts, traces,
// logs and bundle. `evidencectl serve` serves it on loopback, and the
// incidents extension can serve it inside the collector behind an auth
// extension.
//
// The pages read the evidence through the packages the CLI uses: the
// incident summaries of internal/catalog, the analysis of
// internal/timeline (one incident analysed at a time, the last few
// cached while their evidence is unchanged) and the verification of
// pkg/bundle. They are read-only, rendered on the server (charts are SVG),
// need no script and load nothing from the network: every asset is
// embedded, and a strict Content-Security-Policy forbids the rest. Every
// string that comes from the evidence is escaped by html/template after
// Text has made its control and format characters visible.
package webui // import "github.com/otel-evidence/otel-evidence/internal/webui"
