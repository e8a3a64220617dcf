// Package config reads the platform settings shared by the project's binaries. Upstream keeps
// them in a ModuleConfig; here they are a YAML file passed with --config.
package config

import (
	"fmt"
	"os"
	"time"

	"sigs.k8s.io/yaml"
)

// Config is the platform configuration file.
type Config struct {
	// VirtualImages restricts the storage classes of VirtualImages stored in PVCs.
	VirtualImages StorageClassSettings `json:"virtualImages,omitempty"`
	// VirtualDisks restricts the storage classes of VirtualDisks.
	VirtualDisks StorageClassSettings `json:"virtualDisks,omitempty"`
	// DVCR says where the image registry is and how the platform reaches it.
	DVCR DVCR `json:"dvcr,omitempty"`
	// Uploads configures the upload URLs handed to users.
	Uploads Uploads `json:"uploads,omitempty"`
	// Importer configures the Pods that move image data.
	Importer Importer `json:"importer,omitempty"`
	// VirtualMachineCIDRs are the subnets VM addresses come from ("10.66.10.0/24"); the
	// network and broadcast addresses of each are never handed out.
	VirtualMachineCIDRs []string `json:"virtualMachineCIDRs,omitempty"`
	// IPAddressLeaseRetention is how long a released address stays reserved for its
	// namespace before another namespace may get it (a Go duration, default 10m).
	IPAddressLeaseRetention string `json:"ipAddressLeaseRetention,omitempty"`
}

// DefaultIPAddressLeaseRetention keeps a released address for its namespace.
const DefaultIPAddressLeaseRetention = 10 * time.Minute

// LeaseRetention parses IPAddressLeaseRetention.
func (c *Config) LeaseRetention() (time.Duration, error) {
	if c.IPAddressLeaseRetention == "" {
		return DefaultIPAddressLeaseRetention, nil
	}
	d, err := time.ParseDuration(c.IPAddressLeaseRetention)
	if err != nil || d < 0 {
		return 0, fmt.Errorf("ipAddressLeaseRetention %q: want a duration such as 10m", c.IPAddressLeaseRetention)
	}
	return d, nil
}

// DVCR is the image registry's address, credentials and maintenance.
type DVCR struct {
	// Address is host[:port] of the registry as importer Pods reach it.
	Address string `json:"address,omitempty"`
	// Insecure makes clients use plain HTTP.
	Insecure bool `json:"insecure,omitempty"`
	// CABundleFile is a PEM file trusted for the registry's TLS.
	CABundleFile string `json:"caBundleFile,omitempty"`
	// TokenKeyFile is the PEM private key that signs registry access tokens; the registry
	// trusts the matching certificate (TokenCertFile).
	TokenKeyFile  string `json:"tokenKeyFile,omitempty"`
	TokenCertFile string `json:"tokenCertFile,omitempty"`
	// AuthFile is a dockerconfigjson file with credentials for an external OCI registry
	// used in DVCR's place (Address then names it, and TokenKeyFile stays empty). Importer
	// Pods carry these credentials: give the platform an account limited to its repositories.
	AuthFile string `json:"authFile,omitempty"`
	// StorageDirectory is the registry's filesystem storage.
	StorageDirectory string `json:"storageDirectory,omitempty"`
	// GC schedules garbage collection.
	GC DVCRGC `json:"gc,omitempty"`
}

// DVCRGC schedules garbage collection of images no object refers to.
type DVCRGC struct {
	// Schedule is a cron expression ("0 20 * * *"); empty disables scheduled collection.
	Schedule string `json:"schedule,omitempty"`
}

// Uploads configures uploads.
type Uploads struct {
	// ExternalURL is the base of status.imageUploadURLs.external (<base>/upload/<token>).
	ExternalURL string `json:"externalURL,omitempty"`
	// WaitTimeout fails an upload that has not started in this time (default 10m).
	WaitTimeout string `json:"waitTimeout,omitempty"`
}

// Importer configures importer Pods.
type Importer struct {
	// Image is the container image of virtualization-importer.
	Image string `json:"image,omitempty"`
	// Namespace runs the Pods of cluster-scoped images (default d8-virtualization).
	Namespace string `json:"namespace,omitempty"`
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
