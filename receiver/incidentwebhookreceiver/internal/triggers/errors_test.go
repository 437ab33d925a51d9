package triggers

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestErrorHelpers(t *testing.T) {
	h := http.Header{}
	h.Set(PagerDutySignatureHeader, "v1=00")
	err := VerifyPagerDuty([]byte("{}"), h, []string{"s"})
	wrapped := fmt.Errorf("webhook: %w", err)

	require.ErrorIs(t, wrapped, ErrBadSignature)
	require.NotErrorIs(t, wrapped, ErrMissingSignature)
	e, ok := AsError(wrapped)
	require.True(t, ok)
	assert.Equal(t, http.StatusForbidden, HTTPStatus(wrapped))
	assert.Equal(t, PagerDutySignatureHeader, e.Field)

	body, jerr := json.Marshal(e.Response())
	require.NoError(t, jerr)
	assert.JSONEq(t, `{"error":"bad_signature","field":"X-PagerDuty-Signature","message":"no well-formed v1 signature"}`, string(body))
	assert.Equal(t, "bad_signature 'X-PagerDuty-Signature': no well-formed v1 signature", e.Error())

	assert.Equal(t, http.StatusOK, HTTPStatus(nil))
	assert.Equal(t, http.StatusInternalServerError, HTTPStatus(errors.New("boom")))
	_, ok = AsError(errors.New("boom"))
	assert.False(t, ok)

	for _, s := range []*Error{ErrMalformedJSON, ErrUnsupportedVersion, ErrMissingField, ErrInvalidField, ErrInvalidID, ErrLimitExceeded, ErrBodyTooLarge, ErrMissingSignature, ErrBadSignature} {
		assert.GreaterOrEqual(t, s.Status, 400, s.Reason)
		assert.Less(t, s.Status, 500, s.Reason)
		assert.Equal(t, s.Reason, s.Error())
	}
}
