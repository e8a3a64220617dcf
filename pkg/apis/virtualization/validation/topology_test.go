package validation

import (
	"strings"
	"testing"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// topologyWant restates the documented topology table on its own, without the bands used
// by the code: it returns the sockets for a valid core count and 0 for an invalid one.
func topologyWant(cores int) int {
	switch {
	case cores >= 1 && cores <= 16:
		return 1
	case cores >= 18 && cores <= 32 && cores%2 == 0:
		return 2
	case cores >= 36 && cores <= 64 && cores%4 == 0:
		return 4
	case cores >= 72 && cores <= 248 && cores%8 == 0:
		return 8
	}
	return 0
}

func TestTopologyEveryCoreCount(t *testing.T) {
	for cores := -2; cores <= 260; cores++ {
		sockets, perSocket, ok := CPUTopology(cores)
		want := topologyWant(cores)
		if ok != (want != 0) {
			t.Errorf("CPUTopology(%d) ok=%v, want %v", cores, ok, want != 0)
			continue
		}
		if !ok {
			if sockets != 0 || perSocket != 0 {
				t.Errorf("CPUTopology(%d) = %d x %d for an invalid count", cores, sockets, perSocket)
			}
			continue
		}
		if sockets != want || sockets*perSocket != cores {
			t.Errorf("CPUTopology(%d) = %d sockets x %d cores, want %d sockets", cores, sockets, perSocket, want)
		}
		if sockets > 1 && (perSocket < 9 || (sockets < 8 && perSocket > 16)) {
			t.Errorf("CPUTopology(%d): %d cores per socket breaks the documented per-socket limits", cores, perSocket)
		}
	}
}

func TestTopologyDocumentedExamples(t *testing.T) {
	for _, tc := range []struct{ cores, sockets, perSocket int }{
		{1, 1, 1}, {8, 1, 8}, {16, 1, 16}, {20, 2, 10}, {40, 4, 10}, {80, 8, 10}, {248, 8, 31},
	} {
		s, p, ok := CPUTopology(tc.cores)
		if !ok || s != tc.sockets || p != tc.perSocket {
			t.Errorf("CPUTopology(%d) = %d, %d, %v; want %d, %d", tc.cores, s, p, ok, tc.sockets, tc.perSocket)
		}
	}
}

func TestTopologyValidationMessage(t *testing.T) {
	for _, tc := range []struct {
		cores int
		near  string // expected "nearest" suffix
	}{
		{17, "16 or 18"},
		{19, "18 or 20"},
		{33, "32 or 36"},
		{65, "64 or 72"},
		{73, "72 or 80"},
		{249, "248"},
		{1000, "248"},
	} {
		spec := vmTestSpec()
		spec.CPU.Cores = tc.cores
		errs := vmValidateCPU(&spec.CPU, specPath.Child("cpu"))
		if len(errs) != 1 || errs[0].Field != "spec.cpu.cores" {
			t.Fatalf("cores %d: got %v", tc.cores, errs)
		}
		if !strings.HasSuffix(errs[0].Detail, "nearest valid core counts: "+tc.near) {
			t.Errorf("cores %d: detail %q does not end with the nearest values %q", tc.cores, errs[0].Detail, tc.near)
		}
	}
	for _, cores := range []int{0, -1} {
		spec := vmTestSpec()
		spec.CPU.Cores = cores
		if errs := vmValidateCPU(&spec.CPU, specPath.Child("cpu")); len(errs) != 1 || errs[0].Field != "spec.cpu.cores" {
			t.Errorf("cores %d: got %v", cores, errs)
		}
	}
}

// vmTestSpec is a small valid VM spec for Go-built tests.
func vmTestSpec() *virtualization.VirtualMachineSpec {
	return &virtualization.VirtualMachineSpec{
		VirtualMachineClassName: "discovery",
		CPU:                     virtualization.CPUSpec{Cores: 1},
		Memory:                  virtualization.MemorySpec{Size: "1Gi"},
		BlockDeviceRefs:         []virtualization.BlockDeviceSpecRef{{Kind: virtualization.DiskDevice, Name: "linux-vm-root"}},
	}
}
