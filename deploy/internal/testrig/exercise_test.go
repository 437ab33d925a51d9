package testrig

import (
	"encoding/hex"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// logsBinpb is an otlp_proto logs file of two requests, written by pdata's
// ProtoMarshaler with a 4-byte big-endian length before each: two
// telemetrygen records (with a resource, a scope version, bodies, times
// and attributes), then one of the webhook's, one without a scope name and
// one more of telemetrygen's in a second resource.
const logsBinpb = "000000810a7f125b122252004a003207120218000a016e2a0a0a087265636f726420300900002a36fe9c971712225200" +
	"4a003207120218010a016e2a0a0a087265636f726420310900002a36fe9c97170a111201310a0c74656c656d65747279" +
	"67656e0a200a1e120e0a0c74656c656d6574727967656e0a0c736572766963652e6e616d65000000960a741264121752" +
	"004a002a110a0f696e636964656e74206f70656e65640a490a476769746875622e636f6d2f6f74656c2d65766964656e" +
	"63652f6f74656c2d65766964656e63652f72656365697665722f696e636964656e74776562686f6f6b72656365697665" +
	"72120a120652004a002a000a000a000a1e121a120852004a002a0010090a0e0a0c74656c656d6574727967656e0a00"

func TestLogScopes(t *testing.T) {
	data, err := hex.DecodeString(logsBinpb)
	require.NoError(t, err)
	got, err := logScopes(data)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"telemetrygen": 3, webhookScope: 1, "": 1}, got)

	_, err = logScopes(data[:len(data)-1])
	assert.Error(t, err, "a torn record is an error, not fewer records")
	_, err = logScopes(data[:2])
	assert.Error(t, err, "a torn length is an error")
}
