package image

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

func spec() Spec {
	return Spec{
		Version: "1.2.3", Revision: "abc", Source: "https://example.com/x", Created: time.Unix(1_700_000_000, 0),
		OS: "linux", Arch: "arm64", Collector: []byte("\x7fELF"), Config: []byte("receivers: {}\n"),
		CACerts: []byte("-----BEGIN CERTIFICATE-----\n"), License: []byte("license"), Notice: []byte("notice"),
	}
}

func TestBuildIsReproducible(t *testing.T) {
	one, err := Build(spec())
	require.NoError(t, err)
	two, err := Build(spec())
	require.NoError(t, err)
	d1, err := one.Digest()
	require.NoError(t, err)
	d2, err := two.Digest()
	require.NoError(t, err)
	require.Equal(t, d1, d2)

	changed := spec()
	changed.Config = []byte("receivers: {otlp: {}}\n")
	three, err := Build(changed)
	require.NoError(t, err)
	d3, err := three.Digest()
	require.NoError(t, err)
	require.NotEqual(t, d1, d3, "the configuration is part of the image")

	p, err := Platform(one)
	require.NoError(t, err)
	require.Equal(t, "arm64", p.Architecture)
}

func TestBuildRefusesMissingContent(t *testing.T) {
	s := spec()
	s.Collector = nil
	_, err := Build(s)
	require.ErrorContains(t, err, "/otelcol-evidence has no content")
}
