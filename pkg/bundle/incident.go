package bundle

import (
	"encoding/json"
	"fmt"

	"github.com/otel-evidence/otel-evidence/pkg/incident"
)

// MaxIncidentSize bounds incident.json as readers accept it.
const MaxIncidentSize = 16 << 20

// ParseIncident decodes and validates an incident.json.
func ParseIncident(data []byte) (*incident.Incident, error) {
	var inc incident.Incident
	if err := json.Unmarshal(data, &inc); err != nil {
		return nil, fmt.Errorf("invalid incident JSON: %w", err)
	}
	if err := inc.Validate(); err != nil {
		return nil, fmt.Errorf("invalid incident: %w", err)
	}
	return &inc, nil
}
