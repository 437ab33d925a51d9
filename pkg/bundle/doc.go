// Package bundle defines the evidence bundle: the object keys an incident's
// evidence lives under, the part format, the per-collector manifest, and
// the verification of a bundle in a store or in a downloaded directory.
//
// # Layout
//
// Keys are relative to the store (the store applies its own prefix):
//
//	incidents/<incident-id>/incident.json
//	incidents/<incident-id>/collectors/<collector-id>/part-000001.tar.zst
//	incidents/<incident-id>/collectors/<collector-id>/manifest.json
//
// Incident and collector IDs follow [incident.ValidateID], so a key can never
// leave its incident's directory. Part numbers run from 1 to [MaxSeq] and are
// zero-padded to six digits so that lexical key order is part order.
//
// # Parts
//
// A part is a zstd-compressed tar archive. Every entry is a regular file with
// mode 0644, owner 0:0 and the part's creation time (whole seconds) as its
// modification time. The first entry is part.json ([PartInfo]); the data
// files follow in lexical name order:
//
//	events.jsonl   one incident.Event (JSON) per line
//	logs.jsonl     OTLP File format: one ExportLogsServiceRequest per line
//	metrics.jsonl  OTLP File format: one ExportMetricsServiceRequest per line
//	traces.jsonl   OTLP File format: one ExportTraceServiceRequest per line
//
// With the "otlp_proto" encoding (the evidence exporter's default) the
// signal files are traces.binpb, logs.binpb and metrics.binpb instead: a
// sequence of records, each a 4-byte big-endian length followed by that
// many bytes of the protobuf-encoded request. events.jsonl is JSON Lines in
// both encodings.
//
// A data file is present exactly when the part holds at least one item of
// its kind: batches without items are skipped, and a part without spans has
// no traces file. part.json is always present. It records the counts, the
// time range of the items and the size and SHA-256 of every data file; it is
// not listed in its own Files map. The same input, added in the same order
// with the same PartInfo, always gives the same bytes.
//
// # Manifests
//
// Each collector writes a manifest.json listing its parts with the size and
// SHA-256 of each compressed part object, the totals, and whether the
// collector has finished the bundle. Parts are immutable once written; the
// manifest is rewritten as parts are added.
//
// # Custody (format 2)
//
// Right after part.json, a signed part holds part.json.dsse, a DSSE
// envelope ([PartPayloadType]) whose payload is part.json byte for byte,
// and then incident.json, the incident record as it stood when the part was
// frozen (listed in Files like a data file). part.json's prev_part_sha256
// names the SHA-256 of the collector's previous part object: a hash chain.
// A signed manifest.json is itself a DSSE envelope ([ManifestPayloadType])
// whose payload is the manifest, so that a manifest and its signature are
// replaced in one write. Signatures are Ed25519 ([Signer]); each names its
// key by key ID, and a [KeyRing] trusts several keys for rotation. A
// derived (redacted) bundle's manifest carries its source manifest in
// derived_from, and each of its parts names its source part.
//
// Readers stream: [OpenPart] reads part.json (and checks its signature)
// before any data, refuses an entry whose size differs from part.json before
// reading it, never reads past a file's declared size, bounds the zstd
// window and every record ([Limits]), and holds one record at a time.
//
// # Verification
//
// [VerifyBundle] and [VerifyDir] check one incident's evidence in a store or
// in a local copy: incident.json (against the records frozen into the
// parts, see [CheckIncident]), every manifest, every part's hash against its
// manifest, every file inside a part against part.json, the hash chain and,
// with [VerifyOptions].Keys, every signature. Problems are reported as
// [VerifyError] values naming the bad object and, where it applies, the file
// inside the part.
package bundle // import "github.com/otel-evidence/otel-evidence/pkg/bundle"
