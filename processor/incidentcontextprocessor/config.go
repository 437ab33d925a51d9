package incidentcontextprocessor // import "github.com/otel-evidence/otel-evidence/processor/incidentcontextprocessor"

import (
	"errors"
	"fmt"

	"go.opentelemetry.io/collector/component"
)

// Level says where the attributes are written.
type Level string

const (
	// LevelResource writes the attributes on each resource only.
	LevelResource Level = "resource"
	// LevelRecord also writes them on every span, log record and data point,
	// for backends that drop resource attributes.
	LevelRecord Level = "record"
)

// KeysConfig names the attributes the processor writes. An empty key
// disables that attribute.
type KeysConfig struct {
	// DeploymentID is the key of the deploy's ID.
	DeploymentID string `mapstructure:"deployment_id"`
	// DeploymentName is the key of the deploy's name, written when known.
	DeploymentName string `mapstructure:"deployment_name"`
	// Environment is the key of the deploy's environment, written when known.
	Environment string `mapstructure:"environment"`
	// Revision is the key of the deploy's source revision (commit), written
	// when known.
	Revision string `mapstructure:"revision"`
	// IncidentID is the key of the IDs of the open incidents whose scope
	// matches the resource, joined with "," in opening order.
	IncidentID string `mapstructure:"incident_id"`
}

// Config is the configuration of the incident_context processor.
type Config struct {
	// Incidents is the ID of the incidents extension whose registry supplies
	// the deploys and open incidents.
	Incidents component.ID `mapstructure:"incidents"`
	// Level is where the attributes are written: "resource" or "record".
	Level Level `mapstructure:"level"`
	// Override replaces attributes that already exist; by default existing
	// values are kept.
	Override bool `mapstructure:"override"`
	// StaticDeploymentID is the deployment ID used when the registry knows no
	// deploy for the telemetry, for example ${env:DEPLOY_ID} in a sidecar.
	// Mutually exclusive with DeploymentIDFrom.
	StaticDeploymentID string `mapstructure:"static_deployment_id"`
	// DeploymentIDFrom lists resource attributes whose values, joined with
	// DeploymentIDSeparator, form the deployment ID when the registry knows
	// no deploy for the telemetry. Every listed attribute must be present.
	// Mutually exclusive with StaticDeploymentID.
	DeploymentIDFrom []string `mapstructure:"deployment_id_from"`
	// DeploymentIDSeparator joins the values of DeploymentIDFrom.
	DeploymentIDSeparator string `mapstructure:"deployment_id_separator"`
	// Keys names the attributes written.
	Keys KeysConfig `mapstructure:"keys"`

	// prevent unkeyed literal initialization
	_ struct{}
}

var _ component.Config = (*Config)(nil)

// Errors returned (wrapped) by Validate.
var (
	errInvalidLevel    = errors.New("invalid level")
	errInvalidKeys     = errors.New("invalid keys")
	errInvalidFallback = errors.New("invalid deployment ID fallback")
	errMissingIncident = errors.New("missing incidents extension ID")
)

// Validate checks the configuration.
func (cfg *Config) Validate() error {
	var errs []error
	if cfg.Incidents.Type().String() == "" {
		errs = append(errs, fmt.Errorf("%w: 'incidents' must name the incidents extension", errMissingIncident))
	}
	switch cfg.Level {
	case LevelResource, LevelRecord:
	default:
		errs = append(errs, fmt.Errorf("%w: 'level' must be %q or %q, got %q", errInvalidLevel, LevelResource, LevelRecord, cfg.Level))
	}
	if cfg.StaticDeploymentID != "" && len(cfg.DeploymentIDFrom) > 0 {
		errs = append(errs, fmt.Errorf("%w: 'static_deployment_id' and 'deployment_id_from' are mutually exclusive", errInvalidFallback))
	}
	seenFrom := make(map[string]bool, len(cfg.DeploymentIDFrom))
	for i, k := range cfg.DeploymentIDFrom {
		switch {
		case k == "":
			errs = append(errs, fmt.Errorf("%w: 'deployment_id_from[%d]' must not be empty", errInvalidFallback, i))
		case seenFrom[k]:
			errs = append(errs, fmt.Errorf("%w: 'deployment_id_from[%d]' repeats %q", errInvalidFallback, i, k))
		}
		seenFrom[k] = true
	}
	errs = append(errs, cfg.Keys.validate()...)
	return errors.Join(errs...)
}

func (k *KeysConfig) named() [numKeys]struct{ yaml, key string } {
	return [numKeys]struct{ yaml, key string }{
		keyDeploymentID:   {"keys.deployment_id", k.DeploymentID},
		keyDeploymentName: {"keys.deployment_name", k.DeploymentName},
		keyEnvironment:    {"keys.environment", k.Environment},
		keyRevision:       {"keys.revision", k.Revision},
		keyIncidentID:     {"keys.incident_id", k.IncidentID},
	}
}

func (k *KeysConfig) validate() []error {
	var errs []error
	named := k.named()
	enabled := false
	for i, a := range named {
		if a.key == "" {
			continue
		}
		enabled = true
		for _, b := range named[:i] {
			if a.key == b.key {
				errs = append(errs, fmt.Errorf("%w: '%s' and '%s' are both %q", errInvalidKeys, b.yaml, a.yaml, a.key))
			}
		}
	}
	if !enabled {
		errs = append(errs, fmt.Errorf("%w: 'keys' disables every attribute; set at least 'keys.deployment_id' or 'keys.incident_id'", errInvalidKeys))
	}
	return errs
}
