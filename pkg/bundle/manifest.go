package bundle

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// PartRef is a manifest's record of one part object.
type PartRef struct {
	// Name is the object name, e.g. "part-000001.tar.zst".
	Name string `json:"name"`
	Seq  int    `json:"seq"`
	// Size and SHA256 (lowercase hex) are those of the compressed object.
	Size      int64     `json:"size"`
	SHA256    string    `json:"sha256"`
	Counts    Counts    `json:"counts"`
	TimeRange TimeRange `json:"time_range,omitzero"`
	// Late marks a part written after the bundle was complete.
	Late bool `json:"late,omitempty"`
}

// NewPartRef describes the part object data (as returned by
// PartWriter.Finish together with info).
func NewPartRef(info PartInfo, data []byte) (PartRef, error) {
	name, err := PartName(info.Seq)
	if err != nil {
		return PartRef{}, err
	}
	sum := sha256.Sum256(data)
	return partRef(name, info, int64(len(data)), sum[:]), nil
}

// partRef is the PartRef of the part object called name, of size bytes
// with SHA-256 sum, whose final PartInfo is info.
func partRef(name string, info PartInfo, size int64, sum []byte) PartRef {
	return PartRef{
		Name:      name,
		Seq:       info.Seq,
		Size:      size,
		SHA256:    hex.EncodeToString(sum),
		Counts:    info.Counts,
		TimeRange: info.TimeRange,
		Late:      info.Late,
	}
}

// Manifest is a collector's manifest.json for one incident.
type Manifest struct {
	// Format is FormatVersion.
	Format      int    `json:"format"`
	IncidentID  string `json:"incident_id"`
	CollectorID string `json:"collector_id"`
	// Window is the incident's evidence window as this collector froze it.
	Window Window `json:"window"`
	// Parts are ordered by Seq, without duplicates.
	Parts []PartRef `json:"parts"`
	// Complete is set once the collector has written its last part.
	Complete  bool      `json:"complete"`
	UpdatedAt time.Time `json:"updated_at"`
	// Totals is the sum of the parts' counts.
	Totals Counts `json:"totals"`
	// Lossless is true only when nothing of the window is known to be
	// missing: Losses is empty. Marshal sets it. In format 1 it is absent
	// and the losses are unknown (see LossesKnown).
	Lossless bool `json:"lossless"`
	// Losses are the items of the window known to be missing, by signal and
	// reason (see Loss): the sum of the parts' losses.
	Losses []Loss `json:"losses,omitempty"`
	// DerivedFrom is set in a derived bundle (a redacted copy): what it was
	// made from and how.
	DerivedFrom *Derivation `json:"derived_from,omitempty"`
}

// Derivation records the source of a derived (redacted) bundle: the source
// collector's manifest object, whole, with its SHA-256, and the SHA-256 of
// the redaction rules applied. The source manifest keeps its own signature,
// so a reader can check the copy against evidence the collector signed.
type Derivation struct {
	// SourceManifestSHA256 is the SHA-256 of SourceManifest.
	SourceManifestSHA256 string `json:"source_manifest_sha256"`
	// SourceManifest is the source manifest.json object as stored, byte
	// for byte (base64 in JSON, so no re-encoding can change it): a DSSE
	// envelope when the source was signed.
	SourceManifest []byte `json:"source_manifest"`
	// RulesSHA256 is the SHA-256 of the rules file as given.
	RulesSHA256 string `json:"rules_sha256"`
	// Tool names what made the copy ("evidencectl redact").
	Tool string `json:"tool,omitempty"`
	// CreatedAt is when the copy was made.
	CreatedAt time.Time `json:"created_at"`
}

// NewManifest starts an empty manifest.
func NewManifest(incidentID, collectorID string, window Window) (*Manifest, error) {
	m := &Manifest{
		Format:      FormatVersion,
		IncidentID:  incidentID,
		CollectorID: collectorID,
		Window:      Window{Start: normalizeTime(window.Start), End: normalizeTime(window.End)},
		Parts:       []PartRef{},
	}
	if err := m.validateHeader(); err != nil {
		return nil, err
	}
	return m, nil
}

// NextSeq is the number the collector's next part gets.
func (m *Manifest) NextSeq() int {
	if len(m.Parts) == 0 {
		return 1
	}
	return m.Parts[len(m.Parts)-1].Seq + 1
}

// AddPart appends ref, which must have a higher Seq than every listed part,
// and updates Totals.
func (m *Manifest) AddPart(ref PartRef) error {
	if m.Complete {
		return fmt.Errorf("manifest of %s/%s is complete; no part can be added", m.IncidentID, m.CollectorID)
	}
	if err := ref.validate(); err != nil {
		return err
	}
	if len(m.Parts) > 0 && ref.Seq <= m.Parts[len(m.Parts)-1].Seq {
		return fmt.Errorf("part %d: seq must be greater than the last listed part %d", ref.Seq, m.Parts[len(m.Parts)-1].Seq)
	}
	m.Parts = append(m.Parts, ref)
	m.Totals = m.Totals.Add(ref.Counts)
	return nil
}

// TimeRange spans the time ranges of all parts.
func (m *Manifest) TimeRange() TimeRange {
	var r TimeRange
	for _, p := range m.Parts {
		r = r.Union(p.TimeRange)
	}
	return r
}

func (r *PartRef) validate() error {
	if err := checkSeq(r.Seq); err != nil {
		return fmt.Errorf("part 'seq': %w", err)
	}
	if want, _ := PartName(r.Seq); r.Name != want {
		return fmt.Errorf("part %d: 'name' is %q, want %q", r.Seq, r.Name, want)
	}
	if r.Size <= 0 {
		return fmt.Errorf("part %d: 'size' must be positive", r.Seq)
	}
	if !isSHA256Hex(r.SHA256) {
		return fmt.Errorf("part %d: 'sha256' must be 64 lowercase hex digits", r.Seq)
	}
	if err := r.Counts.validate(); err != nil {
		return fmt.Errorf("part %d: 'counts': %w", r.Seq, err)
	}
	return nil
}

func (m *Manifest) validateHeader() error {
	if m.Format < MinFormatVersion || m.Format > FormatVersion {
		return fmt.Errorf("'format' is %d, this version reads %d to %d", m.Format, MinFormatVersion, FormatVersion)
	}
	if err := incident.ValidateID(m.IncidentID); err != nil {
		return fmt.Errorf("'incident_id': %w", err)
	}
	if err := incident.ValidateID(m.CollectorID); err != nil {
		return fmt.Errorf("'collector_id': %w", err)
	}
	if !m.Window.End.IsZero() && m.Window.End.Before(m.Window.Start) {
		return fmt.Errorf("'window.end' %s is before 'window.start' %s", m.Window.End, m.Window.Start)
	}
	return nil
}

// Validate checks the manifest: format, IDs, parts ordered by Seq without
// duplicates, well-formed references, and Totals equal to the sum of the
// parts' counts.
func (m *Manifest) Validate() error {
	if err := m.validateHeader(); err != nil {
		return err
	}
	var sum Counts
	for i := range m.Parts {
		r := &m.Parts[i]
		if err := r.validate(); err != nil {
			return fmt.Errorf("'parts[%d]': %w", i, err)
		}
		if i > 0 && r.Seq <= m.Parts[i-1].Seq {
			return fmt.Errorf("'parts[%d]': seq %d does not follow %d", i, r.Seq, m.Parts[i-1].Seq)
		}
		sum = sum.Add(r.Counts)
	}
	if sum != m.Totals {
		return fmt.Errorf("'totals' %+v differ from the sum of the parts %+v", m.Totals, sum)
	}
	if d := m.DerivedFrom; d != nil {
		if !isSHA256Hex(d.SourceManifestSHA256) || !isSHA256Hex(d.RulesSHA256) {
			return errors.New("'derived_from': 'source_manifest_sha256' and 'rules_sha256' must be 64 lowercase hex digits")
		}
		if len(d.SourceManifest) == 0 {
			return errors.New("'derived_from.source_manifest' is required")
		}
	}
	return validateLosses(m.Format, m.Lossless, m.Losses)
}

// Marshal validates the manifest and encodes it as indented JSON. Callers
// set UpdatedAt before each write.
func (m *Manifest) Marshal() ([]byte, error) {
	if m.LossesKnown() {
		m.Lossless = len(m.Losses) == 0
	}
	if err := m.Validate(); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	out := *m
	out.UpdatedAt = normalizeTime(m.UpdatedAt)
	if out.Parts == nil {
		out.Parts = []PartRef{}
	}
	b, err := json.MarshalIndent(&out, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("encoding manifest: %w", err)
	}
	return append(b, '\n'), nil
}

// MarshalSigned is Marshal, signed: the manifest.json object of a signed
// bundle is the DSSE envelope (payload type ManifestPayloadType) whose
// payload is the manifest. A nil signer gives the plain manifest.
func (m *Manifest) MarshalSigned(s *Signer) ([]byte, error) {
	b, err := m.Marshal()
	if err != nil || s == nil {
		return b, err
	}
	return s.Sign(ManifestPayloadType, b)
}

// ParseManifest decodes and validates a manifest.json object, signed or
// not, without checking a signature (see OpenManifest).
func ParseManifest(data []byte) (*Manifest, error) {
	m, _, err := OpenManifest(data, nil)
	return m, err
}

// isEnvelope reports whether a JSON object looks like a DSSE envelope.
func isEnvelope(data []byte) bool {
	var probe struct {
		PayloadType *string `json:"payloadType"`
	}
	return json.Unmarshal(data, &probe) == nil && probe.PayloadType != nil
}

// OpenManifest decodes and validates a manifest.json object and checks its
// signature against keys: a plain manifest is SigUnsigned, an envelope is
// checked (SigNotChecked when keys holds none). The manifest is returned
// whatever the signature state; an error means it cannot be read at all.
func OpenManifest(data []byte, keys *KeyRing) (*Manifest, Signature, error) {
	if len(data) > MaxManifestSize {
		return nil, Signature{}, fmt.Errorf("manifest of %d bytes exceeds the limit of %d", len(data), MaxManifestSize)
	}
	sig := Signature{State: SigUnsigned}
	if isEnvelope(data) {
		env, err := parseEnvelope(data)
		if err != nil {
			return nil, Signature{}, fmt.Errorf("manifest: %w", err)
		}
		var payload []byte
		payload, sig = keys.checkEnvelope(env, ManifestPayloadType)
		if payload == nil {
			return nil, sig, fmt.Errorf("manifest envelope: %s", sig.Detail)
		}
		data = payload
	}
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(data))
	if err := dec.Decode(&m); err != nil {
		return nil, sig, fmt.Errorf("manifest is not valid JSON: %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, sig, errors.New("manifest has data after the JSON object")
	}
	if err := m.Validate(); err != nil {
		return nil, sig, fmt.Errorf("manifest: %w", err)
	}
	if m.Parts == nil {
		m.Parts = []PartRef{}
	}
	if sig.State != SigUnsigned && m.Format < 2 {
		return nil, sig, fmt.Errorf("manifest: a signed manifest of format %d", m.Format)
	}
	return &m, sig, nil
}
