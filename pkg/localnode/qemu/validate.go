package qemu

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"regexp"
	"strings"
)

var (
	// qemu's device ids start with a letter; KubeVirt disk names are DNS labels.
	diskNameRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	cpuModelRE   = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]*$`)
	cpuFeatureRE = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]*$`)
	uuidRE       = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
)

const (
	// maxVCPUs is the i440fx machine's limit without an IOMMU for x2APIC.
	maxVCPUs = 255
	// maxCDROMs is what the pc machine's built-in IDE controller holds (two buses, two units).
	maxCDROMs = 4
	// maxSerial is the longest drive serial qemu's IDE devices accept.
	maxSerial = 20
	// maxSocketPath is sun_path's size minus its terminating NUL.
	maxSocketPath = 107
	// longestSocket is the longest socket name in Dir.
	longestSocket = "/serial.sock"
)

// validate checks the Config without touching the host; Start checks disk files and the
// accelerator afterwards.
func (c *Config) validate() error {
	var errs []error
	if c.Name == "" {
		errs = append(errs, errors.New("name is empty"))
	}
	switch {
	case c.Dir == "":
		errs = append(errs, errors.New("dir is empty"))
	case !filepath.IsAbs(c.Dir):
		errs = append(errs, fmt.Errorf("dir %q is not an absolute path", c.Dir))
	case len(filepath.Clean(c.Dir))+len(longestSocket) > maxSocketPath:
		errs = append(errs, fmt.Errorf("dir %q is too long for unix sockets in it (at most %d bytes)",
			c.Dir, maxSocketPath-len(longestSocket)))
	}
	switch c.Accel {
	case "", "kvm", "tcg":
	default:
		errs = append(errs, fmt.Errorf("accel %q is neither kvm nor tcg", c.Accel))
	}
	if c.MemoryBytes <= 0 {
		errs = append(errs, fmt.Errorf("memory %d bytes: the guest needs memory", c.MemoryBytes))
	}
	errs = append(errs, c.CPU.validate()...)
	errs = append(errs, c.validateDisks()...)
	if c.Network != nil {
		errs = append(errs, c.Network.validate()...)
	}
	if c.UUID != "" && !uuidRE.MatchString(c.UUID) {
		errs = append(errs, fmt.Errorf("uuid %q is not a UUID", c.UUID))
	}
	for name := range c.Sysprep {
		if name == "" || strings.ContainsAny(name, "/\x00") || name == "." || name == ".." {
			errs = append(errs, fmt.Errorf("sysprep file name %q is not a plain file name", name))
		}
	}
	return errors.Join(errs...)
}

func (c CPU) validate() []error {
	var errs []error
	if c.Sockets < 0 || c.Cores < 0 || c.Threads < 0 {
		errs = append(errs, fmt.Errorf("cpu topology %d sockets, %d cores, %d threads has a negative count",
			c.Sockets, c.Cores, c.Threads))
	} else if n := c.vCPUs(); n > maxVCPUs {
		errs = append(errs, fmt.Errorf("cpu topology makes %d vCPUs, more than the machine's %d", n, maxVCPUs))
	}
	switch c.Model {
	case "", "host-model", "host-passthrough":
	default:
		if !cpuModelRE.MatchString(c.Model) {
			errs = append(errs, fmt.Errorf("cpu model %q is not a qemu model name", c.Model))
		}
	}
	for _, f := range c.Features {
		if !cpuFeatureRE.MatchString(f.Name) {
			errs = append(errs, fmt.Errorf("cpu feature %q is not a qemu feature name", f.Name))
		}
		if _, err := featureEnabled(f.Policy); err != nil {
			errs = append(errs, fmt.Errorf("cpu feature %s: %w", f.Name, err))
		}
	}
	return errs
}

func (c *Config) validateDisks() []error {
	var errs []error
	names := map[string]bool{}
	boots := map[int]string{}
	cdroms := 0
	for i, d := range c.Disks {
		what := fmt.Sprintf("disk %d (%s)", i, d.Name)
		switch {
		case d.Name == "":
			errs = append(errs, fmt.Errorf("disk %d has no name", i))
		case !diskNameRE.MatchString(d.Name):
			errs = append(errs, fmt.Errorf("%s: the name may hold only letters, digits, '.', '_' and '-'", what))
		case names[d.Name]:
			errs = append(errs, fmt.Errorf("%s: the name is used twice", what))
		}
		names[d.Name] = true
		if d.Path == "" {
			errs = append(errs, fmt.Errorf("%s has no path", what))
		}
		switch d.Format {
		case "", "raw", "qcow2":
		default:
			errs = append(errs, fmt.Errorf("%s: format %q is neither raw nor qcow2", what, d.Format))
		}
		if d.BootOrder < 0 {
			errs = append(errs, fmt.Errorf("%s: boot order %d is negative", what, d.BootOrder))
		} else if other, ok := boots[d.BootOrder]; ok && d.BootOrder > 0 {
			errs = append(errs, fmt.Errorf("%s: boot order %d is taken by disk %s", what, d.BootOrder, other))
		}
		boots[d.BootOrder] = d.Name
		if len(d.Serial) > maxSerial {
			errs = append(errs, fmt.Errorf("%s: serial %q is longer than %d characters", what, d.Serial, maxSerial))
		}
		for _, r := range d.Serial {
			if r < 0x20 || r > 0x7e {
				errs = append(errs, fmt.Errorf("%s: serial %q holds a character other than printable ASCII", what, d.Serial))
				break
			}
		}
		if d.CDROM {
			cdroms++
		}
	}
	if c.CloudInit != nil {
		cdroms++
	}
	if len(c.Sysprep) > 0 {
		cdroms++
	}
	if cdroms > maxCDROMs {
		errs = append(errs, fmt.Errorf("%d CD-ROMs (cloud-init and sysprep included): the machine holds %d", cdroms, maxCDROMs))
	}
	return errs
}

func (n *Network) validate() []error {
	var errs []error
	a, p := n.Address, n.Prefix
	switch {
	case !a.IsValid() || !a.Is4():
		errs = append(errs, fmt.Errorf("network address %v is not an IPv4 address", a))
	case !p.IsValid() || !p.Addr().Is4():
		errs = append(errs, fmt.Errorf("network prefix %v is not an IPv4 prefix", p))
	case p.Bits() > 29:
		// The network, broadcast, guest, host and DNS addresses need eight addresses.
		errs = append(errs, fmt.Errorf("network prefix %v is too small for the guest, qemu's host and DNS addresses (/29 at most)", p))
	case !p.Contains(a):
		errs = append(errs, fmt.Errorf("network address %v is outside prefix %v", a, p))
	case a == p.Masked().Addr() || a == lastAddr(p):
		errs = append(errs, fmt.Errorf("network address %v is the network or broadcast address of %v", a, p))
	}
	if n.MAC != "" {
		hw, err := net.ParseMAC(n.MAC)
		switch {
		case err != nil || len(hw) != 6:
			errs = append(errs, fmt.Errorf("network mac %q is not an Ethernet address", n.MAC))
		case hw[0]&1 == 1:
			errs = append(errs, fmt.Errorf("network mac %q is a multicast address", n.MAC))
		}
	}
	hostPorts := map[int]bool{}
	for _, f := range n.HostForwards {
		if f.HostPort < 1 || f.HostPort > 65535 || f.GuestPort < 1 || f.GuestPort > 65535 {
			errs = append(errs, fmt.Errorf("host forward %d→%d: ports are 1-65535", f.HostPort, f.GuestPort))
		}
		if hostPorts[f.HostPort] {
			errs = append(errs, fmt.Errorf("host forward: host port %d is forwarded twice", f.HostPort))
		}
		hostPorts[f.HostPort] = true
	}
	return errs
}
