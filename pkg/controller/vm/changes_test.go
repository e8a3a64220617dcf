package vm

import (
	"encoding/json"
	"testing"

	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
)

func spec() *v1alpha2.VirtualMachineSpec {
	return &v1alpha2.VirtualMachineSpec{
		VirtualMachineClassName: "host", RunPolicy: v1alpha2.AlwaysOnUnlessStoppedManuallyPolicy,
		CPU: v1alpha2.CPUSpec{Cores: 1}, Memory: v1alpha2.MemorySpec{Size: "1Gi"},
		BlockDeviceRefs: []v1alpha2.BlockDeviceSpecRef{{Kind: v1alpha2.DiskDevice, Name: "linux-disk"}},
	}
}

// The user guide's example: cores 1 → 2 on a running VM is one replace entry.
func TestPendingChangesOfTheGuide(t *testing.T) {
	desired := spec()
	desired.CPU.Cores = 2
	changes, err := PendingChanges(spec(), desired)
	if err != nil {
		t.Fatal(err)
	}
	got, _ := json.Marshal(changes)
	want := `[{"operation":"replace","path":"cpu.cores","currentValue":1,"desiredValue":2}]`
	if string(got) != want {
		t.Errorf("changes = %s\nwant      %s", got, want)
	}
}

func TestPendingChangesIgnoreWhatAppliesAtOnce(t *testing.T) {
	desired := spec()
	desired.RunPolicy = v1alpha2.ManualPolicy
	desired.LiveMigrationPolicy = v1alpha2.AlwaysSafeMigrationPolicy
	desired.Disruptions = &v1alpha2.Disruptions{RestartApprovalMode: v1alpha2.Automatic}
	if changes, err := PendingChanges(spec(), desired); err != nil || len(changes) != 0 {
		t.Errorf("changes = %+v, %v; want none", changes, err)
	}
}

func TestPendingChangesAddRemoveAndLists(t *testing.T) {
	desired := spec()
	desired.NodeSelector = map[string]string{"zone": "a"}
	desired.BlockDeviceRefs = append(desired.BlockDeviceRefs, v1alpha2.BlockDeviceSpecRef{Kind: v1alpha2.ImageDevice, Name: "iso"})
	desired.VirtualMachineClassName = ""
	changes, err := PendingChanges(spec(), desired)
	if err != nil {
		t.Fatal(err)
	}
	ops := map[string]string{}
	for _, c := range changes {
		ops[c.Path] = c.Operation
	}
	want := map[string]string{"nodeSelector": "add", "blockDeviceRefs": "replace", "virtualMachineClassName": "replace"}
	for p, op := range want {
		if ops[p] != op {
			t.Errorf("%s: operation %q, want %q (all: %+v)", p, ops[p], op, changes)
		}
	}
	back, _ := PendingChanges(desired, spec())
	for _, c := range back {
		if c.Path == "nodeSelector" && c.Operation != "remove" {
			t.Errorf("dropping nodeSelector: %q, want remove", c.Operation)
		}
	}
}
