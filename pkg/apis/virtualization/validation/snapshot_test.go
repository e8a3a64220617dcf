package validation

import "testing"

func TestVirtualDiskSnapshotCorpus(t *testing.T) {
	runCorpus(t, "virtualdisksnapshot", validatorsOf(
		ValidateVirtualDiskSnapshot, ValidateVirtualDiskSnapshotUpdate, ValidateVirtualDiskSnapshotStatusUpdate))
}

func TestVirtualMachineSnapshotCorpus(t *testing.T) {
	runCorpus(t, "virtualmachinesnapshot", validatorsOf(
		ValidateVirtualMachineSnapshot, ValidateVirtualMachineSnapshotUpdate, ValidateVirtualMachineSnapshotStatusUpdate))
}

func TestVirtualMachineRestoreCorpus(t *testing.T) {
	runCorpus(t, "virtualmachinerestore", validatorsOf(
		ValidateVirtualMachineRestore, ValidateVirtualMachineRestoreUpdate, ValidateVirtualMachineRestoreStatusUpdate))
}
