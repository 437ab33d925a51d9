package testrig

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestLogScopes(t *testing.T) {
	data := []byte(`{"resourceLogs":[{"resource":{"attributes":[{"key":"service.name","value":{"stringValue":"telemetrygen"}}]},"scopeLogs":[{"scope":{"name":"telemetrygen"},"logRecords":[{"body":{"stringValue":"a"}},{"body":{"stringValue":"b"}}]}]}]}

{"resourceLogs":[{"scopeLogs":[{"scope":{"name":"` + webhookScope + `"},"logRecords":[{}]},{"logRecords":[{}]}]},{"scopeLogs":[{"scope":{"name":"telemetrygen"},"logRecords":[{}]}]}]}
`)
	got, err := logScopes(data)
	require.NoError(t, err)
	assert.Equal(t, map[string]int64{"telemetrygen": 3, webhookScope: 1, "": 1}, got)

	_, err = logScopes([]byte("{\"resourceLogs\":[\n"))
	assert.Error(t, err, "a torn line is an error, not zero records")
}
