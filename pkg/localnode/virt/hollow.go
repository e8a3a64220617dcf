package virt

import (
	"context"
	"sync"
)

// Hollow is the runtime of --runtime=hollow, as kubemark's hollow nodes: no process starts,
// every VM runs at once with its annotated address and no guest agent, and ends only when
// stopped. It keeps nothing per VM but a channel, so a node can carry thousands.
type Hollow struct{}

var _ MigratingRuntime = Hollow{}

// Name implements Runtime.
func (Hollow) Name() string { return "hollow" }

// Hollow implements Runtime.
func (Hollow) Hollow() bool { return true }

// Start implements Runtime.
func (Hollow) Start(context.Context, MachineSpec) (Machine, error) {
	return &hollowMachine{exited: make(chan struct{})}, nil
}

// hollowMigrationAddress is where a hollow incoming VM says it listens: KubeVirt's first
// migration port, on which nothing listens.
const hollowMigrationAddress = "127.0.0.1:49152"

// StartIncoming implements MigratingRuntime: the hollow guest lands at once.
func (Hollow) StartIncoming(context.Context, MachineSpec) (Machine, string, error) {
	return &hollowMachine{exited: make(chan struct{})}, hollowMigrationAddress, nil
}

var _ MigratingMachine = &hollowMachine{}

type hollowMachine struct {
	once   sync.Once
	exited chan struct{}
	exit   Exit
}

func (m *hollowMachine) end(reason string) {
	m.once.Do(func() {
		m.exit = Exit{Reason: reason}
		close(m.exited)
	})
}

func (m *hollowMachine) Exited() <-chan struct{} { return m.exited }
func (m *hollowMachine) Exit() Exit              { <-m.exited; return m.exit }
func (m *hollowMachine) Agent() Agent            { return nil }
func (m *hollowMachine) Sockets() Sockets        { return Sockets{} }

// Shutdown powers the hollow guest off at once, as a guest that obeys ACPI.
func (m *hollowMachine) Shutdown(context.Context) error { m.end(ExitGuestShutdown); return nil }

// Kill implements Machine.
func (m *hollowMachine) Kill() error { m.end(ExitKilled); return nil }

// MigrateTo implements MigratingMachine: nothing is sent, the migration completes at once.
func (m *hollowMachine) MigrateTo(context.Context, string) (MigrationStats, error) {
	return MigrationStats{}, nil
}

// Landed implements MigratingMachine.
func (m *hollowMachine) Landed(context.Context) (bool, error) { return true, nil }
