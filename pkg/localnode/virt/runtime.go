package virt

import (
	"context"
	"net/netip"
	"time"
)

// Runtime runs the virtual machines of the launcher Pods bound to a node. QEMU runs each as a
// qemu process; Hollow (as kubemark's hollow nodes) runs nothing and reports every VM
// running, for control-plane benchmarks.
type Runtime interface {
	// Name names the runtime in logs and in the VMI's launcherContainerImageVersion.
	Name() string
	// Hollow says no guest runs: the handler then reads no volumes, Secrets or images.
	Hollow() bool
	// Start boots a VM. It returns once the VM process runs; the guest boots on its own.
	Start(ctx context.Context, spec MachineSpec) (Machine, error)
}

// Machine is one running VM.
type Machine interface {
	// Exited is closed when the VM has ended (guest poweroff, crash or kill).
	Exited() <-chan struct{}
	// Exit tells how the VM ended; valid once Exited is closed.
	Exit() Exit
	// Shutdown asks the guest to power off (ACPI) and may wait for it until ctx ends; the
	// caller kills the VM if it still runs then.
	Shutdown(ctx context.Context) error
	// Kill ends the VM at once.
	Kill() error
	// Agent is the guest agent channel, nil when the runtime has none.
	Agent() Agent
	// Sockets are the VM's console, VNC and QMP endpoints (empty for a hollow VM).
	Sockets() Sockets
}

// MigratingRuntime is a Runtime whose VMs live-migrate between nodes (QEMU and Hollow). The
// VMIs of a runtime without it are not LiveMigratable.
type MigratingRuntime interface {
	Runtime
	// StartIncoming starts a VM of spec that waits for the guest of a running VM to be
	// migrated into it instead of booting, and returns it with the host:port the source
	// sends to. Its Machine is a MigratingMachine.
	StartIncoming(ctx context.Context, spec MachineSpec) (Machine, string, error)
}

// MigratingMachine is a VM of a MigratingRuntime.
type MigratingMachine interface {
	Machine
	// MigrateTo sends the running guest to the incoming VM at addr and returns when the
	// migration completed (the guest runs there; this VM is paused for good and is to be
	// killed) or failed (the guest goes on running here). Ending ctx cancels it.
	MigrateTo(ctx context.Context, addr string) (MigrationStats, error)
	// Landed says whether the guest runs in an incoming VM: the migration stream has
	// arrived in full. An incoming VM whose stream broke ends by itself.
	Landed(ctx context.Context) (bool, error)
}

// MigrationStats is what the runtime tells of a completed migration (zero for Hollow).
type MigrationStats struct {
	Total, Downtime time.Duration
	// Transferred is the bytes of guest memory sent.
	Transferred int64
}

// QMP runs commands on a VM's QEMU monitor; the Machines of the QEMU runtime have it.
type QMP interface {
	// QMP runs cmd with args (nil for none) and decodes its return value into out (nil to
	// drop it); an error reply of QEMU is an error.
	QMP(ctx context.Context, cmd string, args, out any) error
}

// Agent talks to the guest agent (qemu-guest-agent) inside a VM.
type Agent interface {
	Ping(ctx context.Context) error
	OSInfo(ctx context.Context) (OSInfo, error)
	Interfaces(ctx context.Context) ([]GuestInterface, error)
}

// Ways a VM ends (Exit.Reason).
const (
	ExitGuestShutdown = "GuestShutdown"
	ExitCrashed       = "Crashed"
	ExitKilled        = "Killed"
)

// Exit is how a VM ended.
type Exit struct {
	// Reason is ExitGuestShutdown, ExitCrashed or ExitKilled.
	Reason  string
	Message string
}

// OSInfo is what the guest agent says of the guest OS.
type OSInfo struct {
	ID, Name, PrettyName, Version, VersionID, KernelRelease, KernelVersion, Machine string
}

// GuestInterface is a network interface the guest agent reports.
type GuestInterface struct {
	Name      string
	MAC       string
	Addresses []netip.Prefix
}

// Sockets are the host paths of a VM's endpoints, which the console, VNC and port-forward
// subresources connect to.
type Sockets struct {
	Serial    string `json:"serial,omitempty"`
	SerialLog string `json:"serialLog,omitempty"`
	VNC       string `json:"vnc,omitempty"`
	QMP       string `json:"qmp,omitempty"`
}

// MachineSpec is the typed description of one VM, built from a VMI; the QEMU runtime turns it
// into a qemu command line.
type MachineSpec struct {
	// Name is <namespace>_<name> of the VMI.
	Name string
	// Dir is the VM's own directory: sockets, logs, generated media.
	Dir         string
	CPU         CPU
	MemoryBytes int64
	// Disks in the VMI's order.
	Disks     []Disk
	CloudInit *CloudInit
	// Sysprep holds the files of a sysprep volume (unattend.xml, ...), nil without one.
	Sysprep map[string][]byte
	// Network is the guest's one interface; nil for a VM without network.
	Network *Network
	// UUID is the firmware (SMBIOS) UUID.
	UUID     string
	Hostname string
}

// CPU is the guest CPU topology and model.
type CPU struct {
	Sockets, Cores, Threads uint32
	// Model is a qemu CPU model, host-model or host-passthrough; empty for the default.
	Model    string
	Features []CPUFeature
}

// CPUFeature is a CPU flag and its policy (require, disable, ...) as in KubeVirt.
type CPUFeature struct {
	Name, Policy string
}

// Disk formats.
const (
	FormatRaw   = "raw"
	FormatQcow2 = "qcow2"
	FormatVMDK  = "vmdk"
	FormatVDI   = "vdi"
)

// Disk is one block device of a VM.
type Disk struct {
	// Name is the VMI disk's name.
	Name string
	// Path is the host file (empty for a hollow VM).
	Path   string
	Format string
	// ReadOnly disks and CD-ROMs are never written.
	ReadOnly bool
	CDROM    bool
	// BootOrder is 1 for the first boot device; 0 means not a boot device.
	BootOrder uint
	Serial    string
}

// CloudInit is a NoCloud data source.
type CloudInit struct {
	UserData, MetaData, NetworkData string
}

// Network is the guest's address, the subnet around it, and its MAC.
type Network struct {
	Address netip.Addr
	Prefix  netip.Prefix
	MAC     string
}
