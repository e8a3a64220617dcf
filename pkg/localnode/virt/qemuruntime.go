package virt

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	"github.com/virtplane/virtplane/pkg/localnode/qemu"
)

// QEMU is the runtime of --runtime=qemu: one qemu process per VM (package qemu), KVM when
// the node can open /dev/kvm, TCG otherwise. A VM dies with its node.
type QEMU struct {
	// Binary is the qemu program; "" is qemu-system-x86_64 from PATH.
	Binary string
	// Accel is "kvm", "tcg" or "" for kvm when usable.
	Accel string
}

var _ MigratingRuntime = QEMU{}

// Name implements Runtime.
func (QEMU) Name() string { return "qemu" }

// Hollow implements Runtime.
func (QEMU) Hollow() bool { return false }

// Start implements Runtime.
func (q QEMU) Start(ctx context.Context, spec MachineSpec) (Machine, error) {
	m, err := qemu.Start(ctx, q.config(spec))
	if err != nil {
		return nil, err
	}
	return qemuMachine{m}, nil
}

// config is the qemu package's description of the VM.
func (q QEMU) config(spec MachineSpec) qemu.Config {
	cfg := qemu.Config{
		Name: spec.Name, Dir: spec.Dir, Binary: q.Binary, Accel: q.Accel,
		CPU: qemu.CPU{Sockets: int(spec.CPU.Sockets), Cores: int(spec.CPU.Cores), Threads: int(spec.CPU.Threads),
			Model: spec.CPU.Model},
		MemoryBytes: spec.MemoryBytes,
		Sysprep:     spec.Sysprep,
		Hostname:    spec.Hostname,
		UUID:        spec.UUID,
	}
	for _, f := range spec.CPU.Features {
		cfg.CPU.Features = append(cfg.CPU.Features, qemu.CPUFeature{Name: f.Name, Policy: f.Policy})
	}
	for _, d := range spec.Disks {
		cfg.Disks = append(cfg.Disks, qemu.Disk{Name: d.Name, Path: d.Path, Format: d.Format, ReadOnly: d.ReadOnly,
			CDROM: d.CDROM, BootOrder: int(d.BootOrder), Serial: d.Serial})
	}
	if ci := spec.CloudInit; ci != nil {
		cfg.CloudInit = &qemu.CloudInit{UserData: ci.UserData, MetaData: ci.MetaData, NetworkData: ci.NetworkData}
	}
	if n := spec.Network; n != nil {
		cfg.Network = &qemu.Network{Address: n.Address, Prefix: n.Prefix, MAC: n.MAC}
	}
	return cfg
}

// StartIncoming implements MigratingRuntime: qemu starts with -incoming defer and listens
// on a port of 127.0.0.1 it picks, all the local nodes being on this machine.
func (q QEMU) StartIncoming(ctx context.Context, spec MachineSpec) (Machine, string, error) {
	cfg := q.config(spec)
	cfg.Incoming = qemu.IncomingDefer
	m, err := qemu.Start(ctx, cfg)
	if err != nil {
		return nil, "", err
	}
	addr, err := m.ListenForMigration(ctx, "127.0.0.1")
	if err != nil {
		_ = m.Kill()
		return nil, "", fmt.Errorf("machine %s: listening for the migration: %w", spec.Name, err)
	}
	return qemuMachine{m}, addr, nil
}

type qemuMachine struct{ m *qemu.Machine }

var (
	_ QMP              = qemuMachine{}
	_ MigratingMachine = qemuMachine{}
)

// MigrateTo implements MigratingMachine.
func (q qemuMachine) MigrateTo(ctx context.Context, addr string) (MigrationStats, error) {
	st, err := q.m.Migrate(ctx, addr)
	return MigrationStats{Total: st.TotalTime, Downtime: st.Downtime, Transferred: st.Transferred}, err
}

// Landed implements MigratingMachine: qemu leaves "inmigrate" once the guest is loaded (it
// runs, or stays paused if it was paused on the source).
func (q qemuMachine) Landed(ctx context.Context) (bool, error) {
	state, err := q.m.RunState(ctx)
	if err != nil {
		return false, err
	}
	return state == "running" || state == "paused", nil
}

func (q qemuMachine) Exited() <-chan struct{}            { return q.m.Exited() }
func (q qemuMachine) Shutdown(ctx context.Context) error { return q.m.Shutdown(ctx) }
func (q qemuMachine) Kill() error                        { return q.m.Kill() }
func (q qemuMachine) Agent() Agent                       { return qemuAgent{q.m.Agent()} }

func (q qemuMachine) QMP(ctx context.Context, cmd string, args, out any) error {
	return q.m.QMP(ctx, cmd, args, out)
}

func (q qemuMachine) Exit() Exit {
	e := q.m.Exit()
	return Exit{Reason: string(e.Reason), Message: e.Message}
}

func (q qemuMachine) Sockets() Sockets {
	return Sockets{Serial: q.m.SerialSocket(), SerialLog: q.m.SerialLog(), VNC: q.m.VNCSocket(), QMP: q.m.QMPSocket()}
}

type qemuAgent struct{ a *qemu.Agent }

func (q qemuAgent) Ping(ctx context.Context) error { return q.a.Ping(ctx) }

func (q qemuAgent) OSInfo(ctx context.Context) (OSInfo, error) {
	o, err := q.a.OSInfo(ctx)
	return OSInfo{ID: o.ID, Name: o.Name, PrettyName: o.PrettyName, Version: o.Version, VersionID: o.VersionID,
		KernelRelease: o.KernelRelease, KernelVersion: o.KernelVersion, Machine: o.Machine}, err
}

func (q qemuAgent) Interfaces(ctx context.Context) ([]GuestInterface, error) {
	ifaces, err := q.a.Interfaces(ctx)
	if err != nil {
		return nil, err
	}
	out := make([]GuestInterface, 0, len(ifaces))
	for _, i := range ifaces {
		gi := GuestInterface{Name: i.Name, MAC: i.HardwareAddress}
		for _, a := range i.IPAddresses {
			addr, err := netip.ParseAddr(a.Address)
			if err != nil {
				continue
			}
			if p, err := addr.Prefix(a.Prefix); err == nil {
				gi.Addresses = append(gi.Addresses, netip.PrefixFrom(addr, p.Bits()))
			}
		}
		out = append(out, gi)
	}
	return out, nil
}

// Runtimes are the names --runtime accepts.
var Runtimes = []string{"qemu", "hollow"}

// RuntimeByName returns the runtime --runtime names.
func RuntimeByName(name string) (Runtime, error) {
	switch name {
	case "qemu":
		return QEMU{}, nil
	case "hollow":
		return Hollow{}, nil
	}
	return nil, fmt.Errorf("runtime %q: want one of %s", name, strings.Join(Runtimes, ", "))
}
