package validation

import "testing"

func TestVirtualDiskSnapshotCorpus(t *testing.T) {
	dsRunCorpus(t, "virtualdisksnapshot", dsKindValidators(
		ValidateVirtualDiskSnapshot, ValidateVirtualDiskSnapshotUpdate, ValidateVirtualDiskSnapshotStatusUpdate))
}

func TestVirtualMachineSnapshotCorpus(t *testing.T) {
	dsRunCorpus(t, "virtualmachinesnapshot", dsKindValidators(
		ValidateVirtualMachineSnapshot, ValidateVirtualMachineSnapshotUpdate, ValidateVirtualMachineSnapshotStatusUpdate))
}

func TestVirtualMachineRestoreCorpus(t *testing.T) {
	dsRunCorpus(t, "virtualmachinerestore", dsKindValidators(
		ValidateVirtualMachineRestore, ValidateVirtualMachineRestoreUpdate, ValidateVirtualMachineRestoreStatusUpdate))
}
