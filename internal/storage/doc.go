// Package storage holds the evidence store's two backends, a local
// directory (Filesystem) and S3 (minio-go), and the configuration that picks
// and tunes one (Config, Open). Both implement store.Store; the incidents
// extension opens the collector's store with it, and evidencectl the store it
// reads from.
package storage // import "github.com/otel-evidence/otel-evidence/internal/storage"
