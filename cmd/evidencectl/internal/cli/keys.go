package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/otel-evidence/otel-evidence/pkg/bundle"
)

// envKeys lists trusted public key files (separated like PATH) when no
// --key is given.
const envKeys = "EVIDENCECTL_KEYS"

// keyOptions are the trusted public keys: --key (repeatable) or
// EVIDENCECTL_KEYS.
type keyOptions struct {
	files []string
}

func (k *keyOptions) addFlags(fs *pflag.FlagSet) {
	fs.StringArrayVar(&k.files, "key", nil,
		"trusted public key (PEM, Ed25519) the evidence must be signed with; repeat for rotated keys ("+envKeys+" lists files like PATH; else the signing key of --config's evidence exporter)")
}

// ring loads the trusted keys: --key, else EVIDENCECTL_KEYS, else the
// signing key of the evidence exporters in the collector configuration of
// --config (whose public half is trusted). nil when there are none
// (signatures are then reported, not required).
func (k *keyOptions) ring(ctx context.Context, getenv func(string) string, configFile string) (*bundle.KeyRing, error) {
	files := k.files
	if len(files) == 0 {
		if v := getenv(envKeys); v != "" {
			files = filepath.SplitList(v)
		}
	}
	if len(files) == 0 && configFile != "" {
		return configKeys(ctx, configFile, getenv)
	}
	if len(files) == 0 {
		return nil, nil
	}
	r := bundle.NewKeyRing()
	for _, f := range files {
		if _, err := r.AddFile(f); err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil, newError(ErrNotFound, nil, "give the public key file the collector's signing key belongs to", "--key %s: %v", f, err)
			}
			return nil, usageError("give an Ed25519 public key in PEM (`evidencectl keygen` writes one)", "--key %s: %v", f, err)
		}
	}
	return r, nil
}

// configKeys trusts the signing keys of the evidence exporters of a
// collector configuration (signing.key_file, relative to the working
// directory or the configuration's directory, or signing.key_env).
func configKeys(ctx context.Context, path string, getenv func(string) string) (*bundle.KeyRing, error) {
	conf, err := resolveConfig(ctx, path, "give the collector's configuration file, or the public key with --key")
	if err != nil {
		return nil, err
	}
	exps, err := conf.Sub("exporters")
	if err != nil {
		return nil, nil //nolint:nilerr // no exporters: no keys
	}
	r := bundle.NewKeyRing()
	for name := range exps.ToStringMap() {
		if name != exporterType && !strings.HasPrefix(name, exporterType+"/") {
			continue
		}
		file, _ := exps.Get(name + "::signing::key_file").(string)
		env, _ := exps.Get(name + "::signing::key_env").(string)
		var pemData []byte
		switch {
		case file != "":
			if _, err := os.Stat(file); err != nil && !filepath.IsAbs(file) {
				file = filepath.Join(filepath.Dir(path), file)
			}
			b, err := os.ReadFile(file) //nolint:gosec // the operator's configuration names it
			if err != nil {
				return nil, usageError("give the public key with --key", "--config %s: 'exporters::%s::signing::key_file': %v", path, name, err)
			}
			pemData = b
		case env != "":
			pemData = []byte(getenv(env))
			if len(pemData) == 0 {
				return nil, usageError("give the public key with --key", "--config %s: 'exporters::%s::signing::key_env': %s is not set", path, name, env)
			}
		default:
			continue
		}
		if _, err := r.Add(pemData); err != nil {
			return nil, usageError("give the public key with --key", "--config %s: 'exporters::%s::signing': %v", path, name, err)
		}
	}
	if r.Len() == 0 {
		return nil, nil
	}
	return r, nil
}

// exporterType is the evidence exporter's component type.
const exporterType = "evidence"

// signatureLine says in one line what the signature checks found.
func signatureLine(rep *bundle.Report) string {
	if len(rep.Collectors) == 0 {
		return ""
	}
	var ids []string
	signed, unsigned := 0, 0
	for _, c := range rep.Collectors {
		if d := c.DerivedFrom; d != nil {
			return fmt.Sprintf("Signatures: a derived (redacted) copy: the copy is not the collectors' to sign; its source manifest's signature is %s", d.SourceSignature.State)
		}
		if c.Signed() {
			signed++
		} else {
			unsigned++
		}
		for _, id := range c.KeyIDs {
			if !contains(ids, id) {
				ids = append(ids, id)
			}
		}
	}
	switch {
	case signed == 0 && len(rep.TrustedKeys) == 0:
		return "Signatures: none (the collectors had no signing key); the hashes detect accidents, not a consistent rewrite"
	case signed == 0:
		return "Signatures: MISSING, but trusted keys were given"
	case len(rep.TrustedKeys) == 0:
		return fmt.Sprintf("Signatures: present (key %s) but NOT CHECKED: give --key with the collectors' public key", strings.Join(ids, ", "))
	case rep.OK():
		return fmt.Sprintf("Signatures: valid, key %s", strings.Join(ids, ", "))
	}
	return fmt.Sprintf("Signatures: checked against %s; see the problems", strings.Join(rep.TrustedKeys, ", "))
}

func contains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

// keygenOptions are the flags of `evidencectl keygen`.
type keygenOptions struct {
	root  *rootOptions
	out   string
	force bool
}

func newKeygenCmd(root *rootOptions) *cobra.Command {
	o := &keygenOptions{root: root}
	cmd := &cobra.Command{
		Use:   "keygen --out PREFIX",
		Short: "Make an Ed25519 key pair for signing evidence",
		Long: `Make an Ed25519 key pair: PREFIX.key, the private key (PEM, PKCS #8, mode
0600) for the collector's evidence exporter (signing.key_file or
signing.key_env), and PREFIX.pub, the public key (PEM) for whoever checks
the evidence (evidencectl verify --key PREFIX.pub). The key ID printed is
the one every signature names.

The same keys can be made with OpenSSL:
  openssl genpkey -algorithm ed25519 -out PREFIX.key
  openssl pkey -in PREFIX.key -pubout -out PREFIX.pub`,
		Example: `  evidencectl keygen --out /etc/otelcol/evidence-signing`,
		Args:    exactArgs(0),
		RunE:    func(*cobra.Command, []string) error { return o.run() },
	}
	cmd.Flags().StringVar(&o.out, "out", "", "path prefix of the key files (PREFIX.key and PREFIX.pub)")
	cmd.Flags().BoolVar(&o.force, "force", false, "overwrite existing key files")
	return cmd
}

// keygenResult is the JSON output of keygen.
type keygenResult struct {
	KeyID      string `json:"key_id"`
	PrivateKey string `json:"private_key_file"`
	PublicKey  string `json:"public_key_file"`
}

func (o *keygenOptions) run() error {
	if o.out == "" {
		return usageError("give --out PREFIX", "--out is required")
	}
	priv, pub, id, err := bundle.GenerateKey()
	if err != nil {
		return fmt.Errorf("generating a key: %w", err)
	}
	res := keygenResult{KeyID: id, PrivateKey: o.out + ".key", PublicKey: o.out + ".pub"}
	flags := os.O_WRONLY | os.O_CREATE | os.O_EXCL
	if o.force {
		flags = os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	}
	for _, f := range []struct {
		path string
		data []byte
		perm os.FileMode
	}{{res.PrivateKey, priv, 0o600}, {res.PublicKey, pub, 0o644}} {
		if err := writeNew(f.path, f.data, flags, f.perm); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return usageError("choose another --out, or --force to replace the key", "%s exists", f.path)
			}
			return fmt.Errorf("writing %s: %w", f.path, err)
		}
	}
	if o.root.jsonOutput() {
		return o.root.printJSON(res)
	}
	out := &textWriter{w: o.root.stdout()}
	out.printf("Private key: %s (give it to the collector: signing.key_file)\n", res.PrivateKey)
	out.printf("Public key:  %s (verify with: evidencectl verify --key %s)\n", res.PublicKey, res.PublicKey)
	out.printf("Key ID:      %s\n", res.KeyID)
	return out.err
}

func writeNew(path string, data []byte, flags int, perm os.FileMode) error {
	f, err := os.OpenFile(path, flags, perm) //nolint:gosec // the path is the user's choice
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		_ = f.Close()
		return err
	}
	return f.Close()
}
