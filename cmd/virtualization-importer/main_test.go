package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/virtplane/virtplane/pkg/importer"
)

// TestRunWritesTerminationMessage runs the command as an importer Pod would: mode as the
// argument, everything else from the environment, the Result in the termination file.
func TestRunWritesTerminationMessage(t *testing.T) {
	dir := t.TempDir()
	vol := filepath.Join(dir, "pv.img")
	if err := os.WriteFile(vol, make([]byte, 1<<20), 0o644); err != nil {
		t.Fatal(err)
	}
	msg := filepath.Join(dir, "termination-log")
	env := map[string]string{
		importer.EnvSourceType:             importer.SourceBlank,
		importer.EnvDestPath:               vol,
		importer.EnvListen:                 "127.0.0.1:0",
		importer.EnvTerminationMessagePath: msg,
	}
	getenv := func(k string) string { return env[k] }

	if code := run(context.Background(), []string{"virtualization-importer", importer.ModeFill}, getenv); code != 0 {
		t.Fatalf("fill of a blank volume exited %d", code)
	}
	if res := readResult(t, msg); res.Error != "" || res.UnpackedBytes != 1<<20 {
		t.Errorf("result %+v, want the volume's size", res)
	}

	env[importer.EnvDestPath] = filepath.Join(dir, "absent")
	if code := run(context.Background(), []string{"virtualization-importer", importer.ModeFill}, getenv); code != 1 {
		t.Fatalf("fill of a missing volume exited %d, want 1", code)
	}
	if res := readResult(t, msg); res.Error == "" || res.Reason == "" {
		t.Errorf("result %+v, want an error with a reason", res)
	}
	if code := run(context.Background(), []string{"virtualization-importer"}, getenv); code != 2 {
		t.Errorf("no mode: exit %d, want 2 (usage)", code)
	}
}

func readResult(t *testing.T, path string) importer.Result {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var r importer.Result
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatalf("termination message %q: %v", b, err)
	}
	return r
}
