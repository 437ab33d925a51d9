// Package evidencedir is the folder `evidencectl get` writes for one
// incident, and everything that reads it back (evidencectl verify,
// timeline and replay, the web page):
//
//	DIR/traces.jsonl, logs.jsonl, metrics.jsonl  OTLP JSON Lines merged from
//	                                             every part of every collector
//	DIR/events.jsonl                             incident and deploy events,
//	                                             each once, in time order
//	DIR/merged-manifest.json                     Manifest: collectors,
//	                                             completeness, counts, files
//	DIR/raw/incidents/<id>/...                   the store layout, as fetched
//
// Merge writes the merged files from the raw copy; FindIncident finds the
// incident record; ReadLines reads the JSON Lines files.
package evidencedir // import "github.com/otel-evidence/otel-evidence/internal/evidencedir"

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/otel-evidence/otel-evidence/internal/atomicfile"
	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// Layout of the folder.
const (
	// RawDir holds the store layout (incidents/<id>/...), so that
	// bundle.VerifyDir can check it.
	RawDir = "raw"
	// ManifestFile describes the merged files.
	ManifestFile = "merged-manifest.json"
	// PartialSuffix marks a file being written; it is renamed when complete,
	// and a later run writes over what an interrupted one left.
	PartialSuffix = ".partial"
	// Format is the version of merged-manifest.json.
	Format = 1

	// DirPerm and FilePerm are the modes of what is written.
	DirPerm  = 0o750
	FilePerm = 0o640
)

// MergedFiles are the merged files, in the order they are listed: the
// three signals (SignalFiles), then the events.
var MergedFiles = []string{bundle.TracesJSONFile, bundle.LogsJSONFile, bundle.MetricsJSONFile, bundle.EventsFile}

// SignalFiles are the merged traces, logs and metrics files.
var SignalFiles = MergedFiles[:3]

// Collector is one collector's share of the merged evidence.
type Collector struct {
	CollectorID string `json:"collector_id"`
	// HasManifest is false when the collector's manifest is missing or
	// unreadable; its parts are then merged as found.
	HasManifest bool `json:"has_manifest"`
	// Complete is the manifest's claim that the collector finished.
	Complete bool `json:"complete"`
	// Window is the evidence window the collector froze.
	Window *bundle.Window `json:"window,omitempty"`
	// Parts is the number of parts merged; Bytes their compressed size.
	Parts int   `json:"parts"`
	Bytes int64 `json:"bytes"`
	// UnlistedParts are merged parts its manifest does not list (yet).
	UnlistedParts []int `json:"unlisted_parts,omitempty"`
	// Counts are the items merged from this collector; events are counted
	// as recorded, before deduplication across collectors.
	Counts bundle.Counts `json:"counts"`
	// TimeRange spans the merged items' times.
	TimeRange bundle.TimeRange `json:"time_range,omitzero"`
	// LossesKnown is false without a manifest, or with one of format 1,
	// which predates Lossless and Losses.
	LossesKnown bool `json:"losses_known"`
	// Lossless and Losses are the manifest's: nothing known to be missing,
	// or what is.
	Lossless bool          `json:"lossless"`
	Losses   []bundle.Loss `json:"losses,omitempty"`
}

// CollectorLoss is a loss named by one collector's manifest.
type CollectorLoss struct {
	CollectorID string `json:"collector_id"`
	bundle.Loss
}

// Manifest is merged-manifest.json.
type Manifest struct {
	Format     int    `json:"format"`
	IncidentID string `json:"incident_id"`
	// Store is where the evidence came from.
	Store     string    `json:"store"`
	CreatedAt time.Time `json:"created_at"`
	// Incident is the store's incident.json, when readable.
	Incident *incident.Incident `json:"incident,omitempty"`
	// Complete: every collector finished and nothing was wrong.
	Complete bool `json:"complete"`
	// Lossless: every collector's manifest is known to lack nothing (see
	// Collector.Losses for what is missing otherwise).
	Lossless   bool        `json:"lossless"`
	Collectors []Collector `json:"collectors"`
	// Totals are the merged items; Events counts distinct events.
	Totals bundle.Counts `json:"totals"`
	// EventsRecorded counts events before deduplication.
	EventsRecorded int64 `json:"events_recorded"`
	// TimeRange spans every merged item.
	TimeRange bundle.TimeRange `json:"time_range,omitzero"`
	// Files are the merged files with their size and SHA-256.
	Files map[string]bundle.FileInfo `json:"files"`
	// Problems name the objects that were not merged and why.
	Problems []*bundle.VerifyError `json:"problems,omitempty"`
}

// ReadManifest reads DIR/merged-manifest.json. A missing file is an error
// wrapping fs.ErrNotExist; an undecodable one is a *bundle.VerifyError.
func ReadManifest(dir string) (*Manifest, error) {
	path := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, &bundle.VerifyError{File: path, Reason: "invalid JSON: " + err.Error()}
	}
	return &m, nil
}

// RawPath is where the object key lives in the folder's raw copy.
func RawPath(dir, key string) string {
	return filepath.Join(dir, RawDir, filepath.FromSlash(key))
}

// WriteFile writes data to path, atomically, creating its directory; its
// temporary file is path+PartialSuffix.
func WriteFile(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), DirPerm); err != nil {
		return fmt.Errorf("creating %s: %w", filepath.Dir(path), err)
	}
	return atomicfile.WriteFile(atomicfile.OS, path, data, atomicfile.Options{TempSuffix: PartialSuffix, Perm: FilePerm})
}

// WriteJSON writes v as indented JSON to path, atomically.
func WriteJSON(path string, v any) error {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		return fmt.Errorf("encoding %s: %w", filepath.Base(path), err)
	}
	return WriteFile(path, append(b, '\n'))
}

// LossesKnown reports whether every collector's manifest records its
// losses.
func (m *Manifest) LossesKnown() bool {
	for _, c := range m.Collectors {
		if !c.LossesKnown {
			return false
		}
	}
	return len(m.Collectors) > 0
}

// Losses lists every collector's losses, by collector.
func (m *Manifest) Losses() []CollectorLoss {
	var out []CollectorLoss
	for _, c := range m.Collectors {
		for _, l := range c.Losses {
			out = append(out, CollectorLoss{CollectorID: c.CollectorID, Loss: l})
		}
	}
	return out
}
