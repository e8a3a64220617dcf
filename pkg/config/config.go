// Package config reads the platform settings shared by the project's binaries. Upstream keeps
// them in a ModuleConfig; here they are a YAML file passed with --config.
package config

import (
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

// Config is the platform configuration file.
type Config struct {
	// VirtualImages restricts the storage classes of VirtualImages stored in PVCs.
	VirtualImages StorageClassSettings `json:"virtualImages,omitempty"`
	// VirtualDisks restricts the storage classes of VirtualDisks.
	VirtualDisks StorageClassSettings `json:"virtualDisks,omitempty"`
}

// StorageClassSettings restrict the storage classes a kind may ask for.
type StorageClassSettings struct {
	// AllowedStorageClassNames lists the classes a manifest may name; empty allows all.
	AllowedStorageClassNames []string `json:"allowedStorageClassNames,omitempty"`
	// DefaultStorageClassName is used when a manifest names none; empty means the cluster default.
	DefaultStorageClassName string `json:"defaultStorageClassName,omitempty"`
}

// Allows reports whether a manifest may name the storage class.
func (s StorageClassSettings) Allows(name string) bool {
	if len(s.AllowedStorageClassNames) == 0 {
		return true
	}
	for _, a := range s.AllowedStorageClassNames {
		if a == name {
			return true
		}
	}
	return false
}

// Load reads a configuration file; unknown fields are errors. An empty path gives the defaults.
func Load(path string) (*Config, error) {
	cfg := &Config{}
	if path == "" {
		return cfg, nil
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if err := yaml.UnmarshalStrict(data, cfg); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return cfg, nil
}
