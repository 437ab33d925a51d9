package ring

import (
	"fmt"
	"runtime"

	"github.com/klauspost/compress/s2"
	"github.com/klauspost/compress/zstd"
)

// Compression names accepted by Config.Compression.
const (
	CompressionS2   = "s2"
	CompressionZstd = "zstd"

	// DefaultCompression is chosen by the benchmarks in bench_test.go: it
	// keeps ring ingest within 2x of the bare OTLP protobuf marshal cost.
	DefaultCompression = CompressionS2
)

// codec identifies the compression of one block; it is stored on disk, so
// existing values must not change.
type codec uint8

const (
	codecS2   codec = 1
	codecZstd codec = 2
)

func (c codec) valid() bool { return c == codecS2 || c == codecZstd }

func parseCompression(name string) (codec, error) {
	switch name {
	case "":
		return parseCompression(DefaultCompression)
	case CompressionS2:
		return codecS2, nil
	case CompressionZstd:
		return codecZstd, nil
	}
	return 0, fmt.Errorf("ring: Compression %q is not supported (use %q or %q)", name, CompressionS2, CompressionZstd)
}

// codecs holds the reusable encoder and decoder of a ring. Both zstd
// EncodeAll and DecodeAll are safe for concurrent use and start no
// goroutines; s2 block encoding is stateless. They are deliberately never
// closed: closing a zstd decoder while a Block.Payload call decodes is a
// data race, and without streams there is nothing to release but memory.
type codecs struct {
	write codec
	zenc  *zstd.Encoder
	zdec  *zstd.Decoder
}

func newCodecs(write codec) (*codecs, error) {
	c := &codecs{write: write}
	var err error
	if write == codecZstd {
		c.zenc, err = zstd.NewWriter(nil,
			zstd.WithEncoderLevel(zstd.SpeedFastest),
			zstd.WithEncoderConcurrency(runtime.GOMAXPROCS(0)),
			zstd.WithEncoderCRC(false), // records carry a CRC32C already
		)
		if err != nil {
			return nil, fmt.Errorf("ring: create zstd encoder: %w", err)
		}
	}
	// The decoder is always available: a disk ring may hold blocks written
	// with another compression before a restart.
	c.zdec, err = zstd.NewReader(nil,
		zstd.WithDecoderConcurrency(0),
		zstd.WithDecoderMaxMemory(maxRawSize),
	)
	if err != nil {
		return nil, fmt.Errorf("ring: create zstd decoder: %w", err)
	}
	return c, nil
}

// compress appends the compressed form of src to dst.
func (c *codecs) compress(dst, src []byte) []byte {
	if c.write == codecZstd {
		return c.zenc.EncodeAll(src, dst)
	}
	n := len(dst)
	need := n + s2.MaxEncodedLen(len(src))
	if cap(dst) < need {
		grown := make([]byte, n, need)
		copy(grown, dst)
		dst = grown
	}
	out := s2.Encode(dst[n:need], src)
	return dst[:n+len(out)]
}

// decompress appends the decompressed form of src (rawLen bytes) to dst.
func (c *codecs) decompress(dst []byte, cd codec, src []byte, rawLen int) ([]byte, error) {
	n := len(dst)
	if cap(dst)-n < rawLen {
		grown := make([]byte, n, n+rawLen)
		copy(grown, dst)
		dst = grown
	}
	var (
		out []byte
		err error
	)
	switch cd {
	case codecS2:
		var decoded []byte
		decoded, err = s2.Decode(dst[n:n+rawLen], src)
		out = dst[:n+len(decoded)]
	case codecZstd:
		out, err = c.zdec.DecodeAll(src, dst)
	default:
		return nil, fmt.Errorf("unknown compression %d", cd)
	}
	if err != nil {
		return nil, err
	}
	if len(out)-n != rawLen {
		return nil, fmt.Errorf("decompressed %d bytes, want %d", len(out)-n, rawLen)
	}
	return out, nil
}
