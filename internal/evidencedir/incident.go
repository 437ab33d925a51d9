package evidencedir

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// FindIncident finds the incident record of a merged evidence folder:
// DIR/incident.json, else the incident in merged-manifest.json, else
// raw/incidents/<id>/incident.json (id from merged-manifest.json, or the
// only incident under raw/). It returns a nil incident when there is none,
// with the incident ID when it is known.
func FindIncident(dir string) (*incident.Incident, string, error) {
	inc, err := ReadIncidentFile(filepath.Join(dir, bundle.IncidentFile))
	if err == nil {
		return inc, inc.ID, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return nil, "", err
	}
	var merged struct {
		IncidentID string             `json:"incident_id"`
		Incident   *incident.Incident `json:"incident"`
	}
	mpath := filepath.Join(dir, ManifestFile)
	data, err := os.ReadFile(mpath)
	switch {
	case err == nil:
		if err := json.Unmarshal(data, &merged); err != nil {
			return nil, "", &bundle.VerifyError{File: mpath, Reason: "invalid JSON: " + err.Error()}
		}
		if merged.Incident != nil {
			if err := merged.Incident.Validate(); err != nil {
				return nil, "", &bundle.VerifyError{File: mpath, Reason: "'incident': " + err.Error()}
			}
			return merged.Incident, merged.Incident.ID, nil
		}
	case !errors.Is(err, fs.ErrNotExist):
		return nil, "", fmt.Errorf("evidence file: %w", err)
	}
	raw := filepath.Join(dir, RawDir)
	id := merged.IncidentID
	if id == "" {
		ids, err := IncidentIDs(raw)
		if err != nil {
			return nil, "", err
		}
		if len(ids) != 1 {
			return nil, "", nil
		}
		id = ids[0]
	}
	if incident.ValidateID(id) != nil {
		return nil, "", nil
	}
	inc, err = ReadIncidentFile(filepath.Join(raw, filepath.FromSlash(bundle.IncidentsPrefix), id, bundle.IncidentFile))
	switch {
	case err == nil:
		return inc, inc.ID, nil
	case errors.Is(err, fs.ErrNotExist):
		return nil, merged.IncidentID, nil
	}
	return nil, "", err
}

// IncidentIDs returns, sorted, the incidents a copy of the store layout
// at root holds (the valid directory names under root/incidents/).
func IncidentIDs(root string) ([]string, error) {
	entries, err := os.ReadDir(filepath.Join(root, strings.TrimSuffix(bundle.IncidentsPrefix, "/")))
	if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("evidence directory: %w", err)
	}
	var ids []string
	for _, e := range entries {
		if e.IsDir() && incident.ValidateID(e.Name()) == nil {
			ids = append(ids, e.Name())
		}
	}
	slices.Sort(ids)
	return ids, nil
}

// ReadIncidentFile reads and validates an incident.json; an invalid one is
// a *bundle.VerifyError.
func ReadIncidentFile(path string) (*incident.Incident, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer func() { _ = f.Close() }()
	data, err := io.ReadAll(io.LimitReader(f, bundle.MaxIncidentSize+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	if len(data) > bundle.MaxIncidentSize {
		return nil, fmt.Errorf("%s: larger than %d bytes", path, bundle.MaxIncidentSize)
	}
	inc, err := bundle.ParseIncident(data)
	if err != nil {
		return nil, &bundle.VerifyError{File: path, Reason: err.Error()}
	}
	return inc, nil
}
