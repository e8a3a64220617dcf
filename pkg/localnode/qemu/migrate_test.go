package qemu

import (
	"context"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestMigrate live-migrates a machine to a second qemu that shares its disk: the target
// runs the guest afterwards and the source is left paused; a migration to a port nobody
// listens on fails and leaves the source running.
func TestMigrate(t *testing.T) {
	srcCfg := blankMachine(t)
	src := startMachine(t, srcCfg)
	dstCfg := srcCfg
	dstCfg.Dir = filepath.Join(filepath.Dir(srcCfg.Dir), "target")
	dstCfg.Incoming = IncomingDefer
	dst := startMachine(t, dstCfg)

	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if state, err := dst.RunState(ctx); err != nil || state != "inmigrate" {
		t.Fatalf("target before the migration: %q %v", state, err)
	}
	addr, err := dst.ListenForMigration(ctx, "127.0.0.1")
	if err != nil {
		t.Fatalf("ListenForMigration: %v", err)
	}
	if !strings.HasPrefix(addr, "127.0.0.1:") || strings.HasSuffix(addr, ":0") {
		t.Fatalf("target listens on %q", addr)
	}

	// A closed port first: the migration fails and the guest goes on here.
	if _, err := src.Migrate(ctx, "127.0.0.1:1"); err == nil {
		t.Fatal("a migration to a closed port succeeded")
	}
	if state, err := src.RunState(ctx); err != nil || state != "running" {
		t.Fatalf("source after a failed migration: %q %v", state, err)
	}

	stats, err := src.Migrate(ctx, addr)
	if err != nil {
		t.Fatalf("Migrate: %v", err)
	}
	if stats.TotalTime <= 0 || stats.Transferred <= 0 {
		t.Errorf("stats %+v", stats)
	}
	t.Logf("migrated in %s, downtime %s, %d bytes", stats.TotalTime, stats.Downtime, stats.Transferred)
	waitState(t, dst, "running")
	if state, err := src.RunState(ctx); err != nil || state != "postmigrate" {
		t.Errorf("source after the migration: %q %v", state, err)
	}
}

// TestListenForMigrationNeedsDefer: a machine that boots normally refuses to listen.
func TestListenForMigrationNeedsDefer(t *testing.T) {
	m := startMachine(t, blankMachine(t))
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := m.ListenForMigration(ctx, "127.0.0.1"); err == nil {
		t.Fatal("a running machine listened for a migration")
	}
}

// waitState waits, bounded, for the machine's run state.
func waitState(t *testing.T, m *Machine, want string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		state, err := m.RunState(ctx)
		cancel()
		if err == nil && state == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("run state %q %v, want %q", state, err, want)
		}
		time.Sleep(50 * time.Millisecond)
	}
}
