package qemu

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"
)

// IncomingDefer is the Config.Incoming of a machine that is to receive a live migration: qemu
// starts with the guest's devices but no guest running, and ListenForMigration opens the
// port the source sends to.
const IncomingDefer = "defer"

// migratePoll is how often Migrate asks for the progress of a migration.
const migratePoll = 50 * time.Millisecond

// cancelWait bounds the wait for a cancelled migration to end.
const cancelWait = 10 * time.Second

// MigrationStats is what qemu reports of a completed migration.
type MigrationStats struct {
	// TotalTime is the whole migration, from the migrate command to the guest running on the
	// target.
	TotalTime time.Duration
	// Downtime is how long the guest was stopped: the last copy of its dirty memory and the
	// device state.
	Downtime time.Duration
	// SetupTime is the time before memory started to flow.
	SetupTime time.Duration
	// Transferred is the bytes of guest memory sent.
	Transferred int64
}

// migrationInfo is QMP's MigrationInfo, the parts read here.
type migrationInfo struct {
	Status        string `json:"status"`
	TotalTime     int64  `json:"total-time"`
	Downtime      int64  `json:"downtime"`
	SetupTime     int64  `json:"setup-time"`
	ErrorDesc     string `json:"error-desc"`
	SocketAddress []struct {
		Type string `json:"type"`
		Host string `json:"host"`
		Port string `json:"port"`
	} `json:"socket-address"`
	RAM *struct {
		Transferred int64 `json:"transferred"`
	} `json:"ram"`
}

// ListenForMigration makes a machine started with Incoming IncomingDefer listen for the
// migration stream on host (an address of this machine) and a port the kernel picks, and
// returns host:port. Picking the port here rather than on the command line leaves no window
// in which another process could take it.
func (m *Machine) ListenForMigration(ctx context.Context, host string) (string, error) {
	if m.launch.cfg.Incoming != IncomingDefer {
		return "", fmt.Errorf("machine %s was not started to receive a migration", m.launch.cfg.Name)
	}
	uri := "tcp:" + net.JoinHostPort(host, "0")
	if err := m.QMP(ctx, "migrate-incoming", map[string]string{"uri": uri}, nil); err != nil {
		return "", err
	}
	var info migrationInfo
	if err := m.QMP(ctx, "query-migrate", nil, &info); err != nil {
		return "", err
	}
	for _, a := range info.SocketAddress {
		if a.Type == "inet" {
			return net.JoinHostPort(a.Host, a.Port), nil
		}
	}
	return "", fmt.Errorf("machine %s: qemu reports no address it listens on for the migration", m.launch.cfg.Name)
}

// Migrate sends the running guest to the machine listening at addr (host:port, see
// ListenForMigration) and waits until the migration completed or failed. When it completed,
// the guest runs there and this machine is paused for good: the caller ends it. When it
// failed, the guest goes on running here. Ending ctx cancels the migration, unless it
// completed meanwhile.
func (m *Machine) Migrate(ctx context.Context, addr string) (MigrationStats, error) {
	if err := m.QMP(ctx, "migrate", map[string]string{"uri": "tcp:" + addr}, nil); err != nil {
		return MigrationStats{}, err
	}
	t := time.NewTicker(migratePoll)
	defer t.Stop()
	for {
		info, err := m.queryMigrate(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return m.cancelMigration(addr, ctx.Err())
			}
			return MigrationStats{}, err
		}
		if done, st, err := info.outcome(addr); done {
			return st, err
		}
		select {
		case <-ctx.Done():
			return m.cancelMigration(addr, ctx.Err())
		case <-m.exited:
			return MigrationStats{}, fmt.Errorf("migration to %s: %w", addr, ErrExited)
		case <-t.C:
		}
	}
}

func (m *Machine) queryMigrate(ctx context.Context) (migrationInfo, error) {
	var info migrationInfo
	err := m.QMP(ctx, "query-migrate", nil, &info)
	return info, err
}

// outcome says whether the migration has ended, and how.
func (info migrationInfo) outcome(addr string) (bool, MigrationStats, error) {
	switch info.Status {
	case "completed":
		st := MigrationStats{
			TotalTime: time.Duration(info.TotalTime) * time.Millisecond,
			Downtime:  time.Duration(info.Downtime) * time.Millisecond,
			SetupTime: time.Duration(info.SetupTime) * time.Millisecond,
		}
		if info.RAM != nil {
			st.Transferred = info.RAM.Transferred
		}
		return true, st, nil
	case "failed":
		msg := info.ErrorDesc
		if msg == "" {
			msg = "qemu gives no reason"
		}
		return true, MigrationStats{}, fmt.Errorf("migration to %s failed: %s", addr, msg)
	case "cancelled":
		return true, MigrationStats{}, fmt.Errorf("migration to %s was cancelled", addr)
	}
	return false, MigrationStats{}, nil
}

// cancelMigration cancels the migration in progress and waits, bounded, until qemu has
// given up on it, so the guest runs here again when it returns an error. A migration that
// completed before the cancel took is reported as completed: the guest runs on the target.
func (m *Machine) cancelMigration(addr string, cause error) (MigrationStats, error) {
	ctx, cancel := context.WithTimeout(context.Background(), cancelWait)
	defer cancel()
	if err := m.QMP(ctx, "migrate_cancel", nil, nil); err != nil {
		return MigrationStats{}, errors.Join(fmt.Errorf("migration to %s cancelled: %w", addr, cause), err)
	}
	for {
		info, err := m.queryMigrate(ctx)
		if err != nil {
			return MigrationStats{}, errors.Join(fmt.Errorf("migration to %s cancelled: %w", addr, cause), err)
		}
		if done, st, err := info.outcome(addr); done {
			if err != nil {
				err = fmt.Errorf("migration to %s cancelled: %w", addr, cause)
			}
			return st, err
		}
		select {
		case <-ctx.Done():
			return MigrationStats{}, fmt.Errorf("migration to %s cancelled: %w; qemu did not end it within %s", addr, cause, cancelWait)
		case <-time.After(migratePoll):
		}
	}
}

// RunState is qemu's run state (query-status): "running", "paused", "inmigrate" on a
// machine still receiving a migration, "postmigrate" on one whose guest migrated away, ...
func (m *Machine) RunState(ctx context.Context) (string, error) {
	var status struct {
		Status string `json:"status"`
	}
	if err := m.QMP(ctx, "query-status", nil, &status); err != nil {
		return "", err
	}
	return status.Status, nil
}
