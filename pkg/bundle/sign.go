package bundle

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"

	"github.com/secure-systems-lab/go-securesystemslib/dsse"
	ssv "github.com/secure-systems-lab/go-securesystemslib/signerverifier"
)

// Payload types of the DSSE envelopes the bundle signs. They differ, so
// that an envelope made for one kind of document is never accepted as the
// other.
const (
	PartPayloadType     = "application/vnd.otel-evidence.part+json"
	ManifestPayloadType = "application/vnd.otel-evidence.manifest+json"
)

// maxPartEnvelopeSize bounds part.json's signature envelope as readers accept
// it (a manifest's envelope carries the manifest: MaxManifestSize bounds it).
const maxPartEnvelopeSize = 4 * maxPartInfoSize

// Signer signs part.json documents and manifests with an Ed25519 key, in
// DSSE envelopes (the in-toto and Sigstore envelope) whose signature names
// the key by its securesystemslib key ID: the SHA-256 of the canonical JSON
// of the public key, as in-toto computes it.
type Signer struct {
	sv    *ssv.ED25519SignerVerifier
	es    *dsse.EnvelopeSigner
	keyID string
	pub   ed25519.PublicKey
}

// NewSigner reads an Ed25519 private key in PEM (PKCS #8, as
// `openssl genpkey -algorithm ed25519` and `evidencectl keygen` write it).
func NewSigner(privatePEM []byte) (*Signer, error) {
	key, err := ssv.LoadKey(privatePEM)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	if key.KeyType != ssv.ED25519KeyType {
		return nil, fmt.Errorf("signing key: a %s key, want an Ed25519 key", key.KeyType)
	}
	if key.KeyVal.Private == "" {
		return nil, errors.New("signing key: a public key, want the private key (PEM \"PRIVATE KEY\")")
	}
	sv, err := ssv.NewED25519SignerVerifierFromSSLibKey(key)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	es, err := dsse.NewEnvelopeSigner(sv)
	if err != nil {
		return nil, fmt.Errorf("signing key: %w", err)
	}
	pub, _ := sv.Public().(ed25519.PublicKey)
	return &Signer{sv: sv, es: es, keyID: key.KeyID, pub: pub}, nil
}

// KeyID is the key ID every signature of this signer carries.
func (s *Signer) KeyID() string { return s.keyID }

// PublicKeyPEM returns the public half, as verifiers load it.
func (s *Signer) PublicKeyPEM() []byte { return publicPEM(s.pub) }

// Sign returns the DSSE envelope (JSON) of payload.
func (s *Signer) Sign(payloadType string, payload []byte) ([]byte, error) {
	env, err := s.es.SignPayload(context.Background(), payloadType, payload)
	if err != nil {
		return nil, fmt.Errorf("signing: %w", err)
	}
	b, err := json.Marshal(env)
	if err != nil {
		return nil, fmt.Errorf("encoding the signature envelope: %w", err)
	}
	return b, nil
}

func publicPEM(pub ed25519.PublicKey) []byte {
	der, err := x509.MarshalPKIXPublicKey(pub)
	if err != nil {
		panic(fmt.Sprintf("bundle: encoding an Ed25519 public key: %v", err)) // cannot fail for a valid key
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
}

// GenerateKey makes a new Ed25519 key pair, as PEM: the private key
// (PKCS #8) for the collector, the public key (PKIX) for verifiers, and
// the key ID signatures will carry.
func GenerateKey() (privatePEM, publicPEMBytes []byte, keyID string, err error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, nil, "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(priv)
	if err != nil {
		return nil, nil, "", err
	}
	privatePEM = pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
	s, err := NewSigner(privatePEM)
	if err != nil {
		return nil, nil, "", err
	}
	return privatePEM, publicPEM(pub), s.KeyID(), nil
}

// KeyRing is the set of trusted public keys, by key ID: the current
// collector key and the ones it replaced, so that evidence signed before a
// key rotation still verifies.
type KeyRing struct {
	keys map[string]*ssv.ED25519SignerVerifier
}

// NewKeyRing returns an empty key ring.
func NewKeyRing() *KeyRing { return &KeyRing{keys: map[string]*ssv.ED25519SignerVerifier{}} }

// Add trusts the Ed25519 key in PEM (a public key, or a private key whose
// public half is then trusted) and returns its key ID.
func (k *KeyRing) Add(keyPEM []byte) (string, error) {
	key, err := ssv.LoadKey(keyPEM)
	if err != nil {
		return "", err
	}
	if key.KeyType != ssv.ED25519KeyType {
		return "", fmt.Errorf("a %s key, want an Ed25519 key", key.KeyType)
	}
	key.KeyVal.Private = ""
	sv, err := ssv.NewED25519SignerVerifierFromSSLibKey(key)
	if err != nil {
		return "", err
	}
	k.keys[key.KeyID] = sv
	return key.KeyID, nil
}

// AddFile trusts the key in a PEM file.
func (k *KeyRing) AddFile(path string) (string, error) {
	b, err := os.ReadFile(path) //nolint:gosec // the path is the operator's choice
	if err != nil {
		return "", fmt.Errorf("reading key: %w", err)
	}
	id, err := k.Add(b)
	if err != nil {
		return "", fmt.Errorf("key %s: %w", path, err)
	}
	return id, nil
}

// Len is the number of trusted keys; a nil ring has none.
func (k *KeyRing) Len() int {
	if k == nil {
		return 0
	}
	return len(k.keys)
}

// KeyIDs returns the trusted key IDs, sorted.
func (k *KeyRing) KeyIDs() []string {
	if k == nil {
		return nil
	}
	return slices.Sorted(maps.Keys(k.keys))
}

// SignatureState says what a document's signature check found.
type SignatureState string

// Signature states.
const (
	// SigUnsigned: the document carries no signature (a collector without
	// a signing key, or a bundle of format 1).
	SigUnsigned SignatureState = "unsigned"
	// SigNotChecked: signed, but no trusted key was given to check it.
	SigNotChecked SignatureState = "not_checked"
	// SigValid: signed by a trusted key.
	SigValid SignatureState = "valid"
	// SigUnknownKey: signed only by keys that are not trusted.
	SigUnknownKey SignatureState = "unknown_key"
	// SigInvalid: the signature of a trusted key does not verify, or the
	// envelope is malformed or does not match the document.
	SigInvalid SignatureState = "invalid"
)

// Signature is the outcome of checking one envelope.
type Signature struct {
	State SignatureState `json:"state"`
	// KeyIDs are the key IDs the envelope names.
	KeyIDs []string `json:"key_ids,omitempty"`
	// Detail says what was wrong, for SigInvalid and SigUnknownKey.
	Detail string `json:"detail,omitempty"`
}

// OK reports whether the signature is acceptable: valid, or not checked
// because no key is trusted. An unsigned document is acceptable only when
// no key is trusted; callers decide that with Required.
func (s Signature) OK(keys *KeyRing) bool {
	switch s.State {
	case SigValid:
		return true
	case SigNotChecked, SigUnsigned:
		return keys.Len() == 0
	}
	return false
}

// Problem describes an unacceptable signature for a VerifyError, or "".
func (s Signature) Problem(keys *KeyRing) string {
	if s.OK(keys) {
		return ""
	}
	switch s.State {
	case SigUnsigned:
		return "not signed, but trusted keys were given: the signature is missing"
	case SigUnknownKey:
		return fmt.Sprintf("signed by unknown key %s, not by a trusted key (%s)", joinIDs(s.KeyIDs), joinIDs(keys.KeyIDs()))
	case SigInvalid:
		return "bad signature: " + s.Detail
	}
	return "signature not accepted: " + string(s.State)
}

func joinIDs(ids []string) string {
	if len(ids) == 0 {
		return "(none)"
	}
	var b bytes.Buffer
	for i, id := range ids {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(id)
	}
	return b.String()
}

// parseEnvelope decodes a DSSE envelope.
func parseEnvelope(data []byte) (*dsse.Envelope, error) {
	var env dsse.Envelope
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&env); err != nil {
		return nil, fmt.Errorf("not a DSSE envelope: %w", err)
	}
	if env.PayloadType == "" || env.Payload == "" {
		return nil, errors.New("not a DSSE envelope: 'payloadType' and 'payload' are required")
	}
	return &env, nil
}

// checkEnvelope checks env against the trusted keys and returns its
// payload (decoded even when no key can check it) and the signature state.
// The payload type must be want.
func (k *KeyRing) checkEnvelope(env *dsse.Envelope, want string) ([]byte, Signature) {
	var sig Signature
	for _, s := range env.Signatures {
		sig.KeyIDs = append(sig.KeyIDs, s.KeyID)
	}
	payload, err := env.DecodeB64Payload()
	if err != nil {
		return nil, Signature{State: SigInvalid, KeyIDs: sig.KeyIDs, Detail: err.Error()}
	}
	if env.PayloadType != want {
		return payload, Signature{State: SigInvalid, KeyIDs: sig.KeyIDs,
			Detail: fmt.Sprintf("payload type %q, want %q", env.PayloadType, want)}
	}
	if len(env.Signatures) == 0 {
		return payload, Signature{State: SigInvalid, Detail: "the envelope holds no signature"}
	}
	if k.Len() == 0 {
		sig.State = SigNotChecked
		return payload, sig
	}
	// Only the trusted keys the envelope names are tried: a signature
	// without a key ID, or one naming an untrusted key, proves nothing.
	trusted := false
	for _, s := range env.Signatures {
		v := k.keys[s.KeyID]
		if v == nil {
			continue
		}
		trusted = true
		ev, err := dsse.NewEnvelopeVerifier(v)
		if err != nil {
			continue
		}
		one := *env
		one.Signatures = []dsse.Signature{s}
		if _, err := ev.Verify(context.Background(), &one); err == nil {
			sig.State = SigValid
			sig.KeyIDs = []string{s.KeyID}
			return payload, sig
		}
	}
	if !trusted {
		sig.State = SigUnknownKey
		return payload, sig
	}
	sig.State = SigInvalid
	sig.Detail = "the signature of key " + joinIDs(sig.KeyIDs) + " does not match the content"
	return payload, sig
}
