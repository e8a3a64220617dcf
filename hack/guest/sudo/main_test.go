package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAllowedHonoursOnlyNOPASSWDRules(t *testing.T) {
	etc = t.TempDir()
	write := func(name, content string) {
		t.Helper()
		p := filepath.Join(etc, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o440); err != nil {
			t.Fatal(err)
		}
	}
	write("group", "root:x:0:\nwheel:x:10:ann\nann:x:1001:\n")
	write("sudoers", "# comment\n%wheel ALL=(ALL:ALL) NOPASSWD: ALL\n")
	write("sudoers.d/90-cloud-init-users", "cloud ALL=(ALL) NOPASSWD:ALL\nbob ALL=(ALL) ALL\n")

	if err := allowed("cloud", []int{1000}); err != nil {
		t.Errorf("cloud has a NOPASSWD:ALL rule: %v", err)
	}
	if err := allowed("ann", groupsOf(account{name: "ann", gid: 1001})); err != nil {
		t.Errorf("ann is in %%wheel: %v", err)
	}
	if err := allowed("bob", []int{1002}); err == nil || !strings.Contains(err.Error(), "password") {
		t.Errorf("bob's rule wants a password, which this sudo refuses: %v", err)
	}
	if err := allowed("eve", []int{1003}); err == nil || !strings.Contains(err.Error(), "not in the sudoers") {
		t.Errorf("eve has no rule: %v", err)
	}
}
