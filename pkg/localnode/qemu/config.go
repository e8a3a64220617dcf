package qemu

import (
	"io"
	"net/netip"
)

// Config describes one virtual machine.
type Config struct {
	// Name is the VM's name, for -name and messages.
	Name string
	// Dir is the machine's private runtime directory (created 0700): sockets, logs and the
	// generated drives. Unix socket paths are limited to 107 bytes, so keep it short.
	Dir string
	// Binary is the qemu program; "" is qemu-system-x86_64 from PATH.
	Binary string
	// Accel is "kvm", "tcg" or "" (kvm when /dev/kvm opens read-write and the processor has
	// VMX or SVM, tcg otherwise).
	Accel string
	CPU   CPU
	// MemoryBytes is the guest's RAM, rounded up to whole MiB.
	MemoryBytes int64
	// Disks are attached in the order given; BootOrder decides the boot priority.
	Disks []Disk
	// CloudInit, when set, is attached as a NoCloud CD-ROM (volume id cidata).
	CloudInit *CloudInit
	// Sysprep holds the files of a Windows sysprep drive (e.g. "unattend.xml"), attached as
	// a CD-ROM.
	Sysprep map[string][]byte
	// Network, when set, gives the guest one NIC on qemu's user-mode network.
	Network *Network
	// Hostname is informational: qemu's DHCP offers it, cloud-init carries the real one.
	Hostname string
	// UUID is the SMBIOS system UUID (-uuid), e.g. the VMI's firmware UUID.
	UUID string
	// Incoming makes qemu wait for a live migration instead of booting the guest:
	// IncomingDefer (then ListenForMigration), or a qemu -incoming URI such as
	// "tcp:127.0.0.1:4444". The rest of the Config must describe the same machine as the
	// source's. "" normally.
	Incoming string
	// LogOutput receives qemu's stderr; nil appends it to Dir/qemu.log.
	LogOutput io.Writer
}

// CPU is the guest's processor.
type CPU struct {
	// Sockets, Cores and Threads make the topology; 0 is 1.
	Sockets, Cores, Threads int
	// Model is "host-model", "host-passthrough", a qemu model name ("Nehalem"), or "" for
	// qemu's default of the accelerator.
	Model    string
	Features []CPUFeature
}

// CPUFeature is a CPU flag with a KubeVirt policy: require, force, optional (enabled), or
// disable, forbid (disabled). An empty policy is require, as in KubeVirt.
type CPUFeature struct{ Name, Policy string }

// Disk is a drive of the guest.
type Disk struct {
	// Name is the KubeVirt disk name; the qemu device id is "ua-<Name>".
	Name string
	// Path is a file (raw or qcow2) or a block device.
	Path string
	// Format is "raw", "qcow2", or "" to detect it from the file's header. A detected qcow2
	// is opened without its backing file: a guest that writes a qcow2 header into a raw disk
	// must not make qemu read host files. Name the format to follow a backing chain.
	Format   string
	ReadOnly bool
	// CDROM attaches the drive as an IDE CD-ROM (always read-only) instead of virtio-blk.
	CDROM bool
	// BootOrder is 0 for a disk that is not bootable; 1 boots first.
	BootOrder int
	// Serial is the drive's serial number (at most 20 characters).
	Serial string
}

// CloudInit is the content of a NoCloud drive. An empty MetaData is generated from the
// machine's Name and Hostname; an empty NetworkData leaves network-config out.
type CloudInit struct{ UserData, MetaData, NetworkData string }

// Network is the guest's NIC on qemu's user-mode network.
type Network struct {
	// Address is the guest's IPv4 address, handed out by qemu's DHCP server.
	Address netip.Addr
	// Prefix is the subnet presented to the guest; it contains Address (e.g. 10.66.10.0/24).
	Prefix netip.Prefix
	// MAC is the NIC's address; "" is a stable one derived from the machine's Name.
	MAC string
	// HostForwards are TCP ports of 127.0.0.1 forwarded to the guest.
	HostForwards []Forward
}

// Forward forwards TCP 127.0.0.1:HostPort to the guest's GuestPort.
type Forward struct{ HostPort, GuestPort int }

// vCPUs is the number of virtual CPUs of the topology.
func (c CPU) vCPUs() int {
	return max(c.Sockets, 1) * max(c.Cores, 1) * max(c.Threads, 1)
}
