package ring

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
)

// On-disk record framing, in the style of Prometheus tsdb/wlog:
//
//	frame header (9 bytes): type uint8 | length uint32 BE | CRC32C uint32 BE
//	data (length bytes):    block header (42 bytes) | compressed payload
//
// The CRC (Castagnoli) covers the data. The block header is
//
//	signal uint8 | codec uint8 | seq uint64 | arrival int64 | minT int64 |
//	maxT int64 | items uint32 | rawLen uint32
//
// with times in Unix nanoseconds and all integers big-endian.
const (
	frameHeaderLen = 1 + 4 + 4
	blockHeaderLen = 1 + 1 + 8 + 8 + 8 + 8 + 4 + 4
	recordPrefix   = frameHeaderLen + blockHeaderLen

	// recBlock is the only record type: one compressed block.
	recBlock byte = 1

	// maxRawSize bounds one uncompressed payload.
	maxRawSize = 1 << 30
	// maxRecordData bounds the data of one record; s2 and zstd never
	// expand a maxRawSize payload beyond it.
	maxRecordData = maxRawSize + maxRawSize/8
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// blockHeader is the decoded block header of a record.
type blockHeader struct {
	signal  Signal
	codec   codec
	seq     uint64
	arrival int64
	minT    int64
	maxT    int64
	items   uint32
	rawLen  uint32
}

// putRecordPrefix writes the frame and block headers into rec[:recordPrefix];
// rec[recordPrefix:] must already hold the compressed payload.
func putRecordPrefix(rec []byte, h blockHeader) {
	b := rec[frameHeaderLen:]
	b[0] = byte(h.signal)
	b[1] = byte(h.codec)
	binary.BigEndian.PutUint64(b[2:], h.seq)
	binary.BigEndian.PutUint64(b[10:], uint64(h.arrival))
	binary.BigEndian.PutUint64(b[18:], uint64(h.minT))
	binary.BigEndian.PutUint64(b[26:], uint64(h.maxT))
	binary.BigEndian.PutUint32(b[34:], h.items)
	binary.BigEndian.PutUint32(b[38:], h.rawLen)
	data := rec[frameHeaderLen:]
	rec[0] = recBlock
	binary.BigEndian.PutUint32(rec[1:], uint32(len(data)))
	binary.BigEndian.PutUint32(rec[5:], crc32.Checksum(data, castagnoli))
}

// parseFrameHeader checks a frame header and returns the data length.
func parseFrameHeader(hdr []byte) (length int, crc uint32, err error) {
	if hdr[0] != recBlock {
		return 0, 0, fmt.Errorf("unknown record type %d", hdr[0])
	}
	n := binary.BigEndian.Uint32(hdr[1:])
	if n < blockHeaderLen || n > maxRecordData {
		return 0, 0, fmt.Errorf("bad record length %d (want %d..%d)", n, blockHeaderLen, maxRecordData)
	}
	return int(n), binary.BigEndian.Uint32(hdr[5:]), nil
}

// parseRecordData checks the CRC of data and decodes its block header.
func parseRecordData(data []byte, crc uint32) (blockHeader, error) {
	if got := crc32.Checksum(data, castagnoli); got != crc {
		return blockHeader{}, fmt.Errorf("checksum mismatch (stored %08x, computed %08x)", crc, got)
	}
	h := blockHeader{
		signal:  Signal(data[0]),
		codec:   codec(data[1]),
		seq:     binary.BigEndian.Uint64(data[2:]),
		arrival: int64(binary.BigEndian.Uint64(data[10:])),
		minT:    int64(binary.BigEndian.Uint64(data[18:])),
		maxT:    int64(binary.BigEndian.Uint64(data[26:])),
		items:   binary.BigEndian.Uint32(data[34:]),
		rawLen:  binary.BigEndian.Uint32(data[38:]),
	}
	switch {
	case !h.signal.valid():
		return h, fmt.Errorf("unknown signal %d", data[0])
	case !h.codec.valid():
		return h, fmt.Errorf("unknown compression %d", data[1])
	case h.seq == 0:
		return h, fmt.Errorf("sequence number 0")
	case h.rawLen > maxRawSize:
		return h, fmt.Errorf("payload size %d exceeds %d", h.rawLen, maxRawSize)
	case h.minT > h.maxT:
		return h, fmt.Errorf("time range inverted (%d > %d)", h.minT, h.maxT)
	}
	return h, nil
}
