package qemu

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// Files of the runtime directory.
const (
	qmpSocketName    = "qmp.sock"
	serialSocketName = "serial.sock"
	serialLogName    = "serial.log"
	vncSocketName    = "vnc.sock"
	agentSocketName  = "agent.sock"
	qemuLogName      = "qemu.log"
	cloudInitISOName = "cloudinit.iso"
	sysprepISOName   = "sysprep.iso"
)

// AgentPort is the virtio-serial port name qemu-ga opens in the guest.
const AgentPort = "org.qemu.guest_agent.0"

const defaultBinary = "qemu-system-x86_64"

// launch is a Config resolved against the host: the accelerator chosen, the disk files
// checked and the generated drives written. commandLine turns it into qemu's arguments.
type launch struct {
	cfg    Config
	accel  string
	drives []drive
}

// prepare validates cfg, creates its directory and resolves it into a launch.
func prepare(ctx context.Context, cfg Config) (*launch, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("invalid machine %q: %w", cfg.Name, err)
	}
	cfg.Dir = filepath.Clean(cfg.Dir)
	if cfg.Binary == "" {
		cfg.Binary = defaultBinary
	}
	l := &launch{cfg: cfg, accel: cfg.Accel}
	if l.accel == "" {
		l.accel = "tcg"
		if kvmUsable() {
			l.accel = "kvm"
		}
	} else if l.accel == "kvm" && !kvmUsable() {
		return nil, fmt.Errorf("machine %s: accel kvm asked for, but KVM is not usable here (/dev/kvm read-write and a processor with VMX or SVM)", cfg.Name)
	}
	for i, d := range cfg.Disks {
		dr, err := resolveDisk(d, "ua-"+d.Name, "drive-"+strconv.Itoa(i))
		if err != nil {
			return nil, fmt.Errorf("machine %s: %w", cfg.Name, err)
		}
		l.drives = append(l.drives, dr)
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("machine %s: %w", cfg.Name, err)
	}
	if cfg.CloudInit != nil {
		path := filepath.Join(cfg.Dir, cloudInitISOName)
		if err := makeISO(ctx, path, cloudInitVolume, cloudInitFiles(&cfg)); err != nil {
			return nil, fmt.Errorf("machine %s: making the cloud-init drive: %w", cfg.Name, err)
		}
		l.drives = append(l.drives, generatedCD(cloudInitVolume, path))
	}
	if len(cfg.Sysprep) > 0 {
		path := filepath.Join(cfg.Dir, sysprepISOName)
		if err := makeISO(ctx, path, sysprepVolume, cfg.Sysprep); err != nil {
			return nil, fmt.Errorf("machine %s: making the sysprep drive: %w", cfg.Name, err)
		}
		l.drives = append(l.drives, generatedCD(sysprepVolume, path))
	}
	return l, nil
}

// generatedCD is a drive this package made; its names cannot collide with "ua-" ids.
func generatedCD(name, path string) drive {
	return drive{
		Disk: Disk{Name: name, Path: path, Format: "raw", ReadOnly: true, CDROM: true},
		id:   name, node: "drive-" + name,
	}
}

// kvmUsable tells whether KVM can run guests here: /dev/kvm opens read-write and the
// processor has VMX or SVM. A /dev/kvm without either exists in some sandboxes (a
// paravirtualised KVM); qemu starts on it but stops guests with emulation failures.
func kvmUsable() bool {
	f, err := os.OpenFile("/dev/kvm", os.O_RDWR, 0)
	if err != nil {
		return false
	}
	f.Close()
	cpuinfo, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return false
	}
	return hasVirtualization(string(cpuinfo))
}

// hasVirtualization tells whether /proc/cpuinfo lists the vmx or svm flag.
func hasVirtualization(cpuinfo string) bool {
	for _, line := range strings.Split(cpuinfo, "\n") {
		name, flags, ok := strings.Cut(line, ":")
		if !ok || strings.TrimSpace(name) != "flags" {
			continue
		}
		for _, f := range strings.Fields(flags) {
			if f == "vmx" || f == "svm" {
				return true
			}
		}
		return false // every processor lists the same flags
	}
	return false
}

func (l *launch) path(name string) string { return filepath.Join(l.cfg.Dir, name) }

// commandLine is qemu's whole argument list (without the program).
func (l *launch) commandLine() []string {
	cfg := &l.cfg
	args := []string{
		"-name", "guest=" + optValue(cfg.Name) + ",debug-threads=on",
		// graphics=off: SeaBIOS mirrors its screen to the serial port (VGA stays for VNC).
		"-machine", "pc,graphics=off",
		"-accel", l.accel,
		"-nodefaults", "-no-user-config",
		"-msg", "timestamp=on",
		// A panic ends qemu with a failure, which Exit reports as Crashed even when the
		// GUEST_PANICKED event was not read.
		"-action", "panic=exit-failure",
		"-display", "none",
		"-vga", "std",
		"-vnc", "unix:" + optValue(l.path(vncSocketName)),
		"-chardev", "socket,id=qmp,path=" + optValue(l.path(qmpSocketName)) + ",server=on,wait=off",
		"-mon", "chardev=qmp,mode=control",
		"-chardev", "socket,id=serial0,path=" + optValue(l.path(serialSocketName)) + ",server=on,wait=off" +
			",logfile=" + optValue(l.path(serialLogName)) + ",logappend=on",
		"-serial", "chardev:serial0",
		"-chardev", "socket,id=agent,path=" + optValue(l.path(agentSocketName)) + ",server=on,wait=off",
		"-device", "virtio-serial-pci,id=virtio-serial0",
		"-device", "virtserialport,bus=virtio-serial0.0,nr=1,chardev=agent,name=" + AgentPort,
		"-device", "pvpanic",
	}
	args = append(args, cpuArgs(cfg.CPU, l.accel)...)
	args = append(args, "-m", strconv.FormatInt(memoryMiB(cfg.MemoryBytes), 10))
	if cfg.UUID != "" {
		args = append(args, "-uuid", cfg.UUID)
	}
	cdrom := 0
	for _, d := range l.drives {
		args = append(args, "-blockdev", d.blockdev(), "-device", d.device(cdrom))
		if d.CDROM {
			cdrom++
		}
	}
	if cfg.Network != nil {
		args = append(args, networkArgs(cfg)...)
	}
	if cfg.Incoming != "" {
		args = append(args, "-incoming", cfg.Incoming)
	}
	return args
}

// memoryMiB rounds bytes up to whole MiB, the unit of -m.
func memoryMiB(bytes int64) int64 {
	return (bytes + 1<<20 - 1) >> 20
}
