package validation

import "testing"

func TestVirtualMachineOperationCorpus(t *testing.T) {
	dsRunCorpus(t, "virtualmachineoperation", dsKindValidators(
		ValidateVirtualMachineOperation, ValidateVirtualMachineOperationUpdate, ValidateVirtualMachineOperationStatusUpdate))
}
