package validation

import "testing"

func TestVirtualMachineOperationCorpus(t *testing.T) {
	runCorpus(t, "virtualmachineoperation", validatorsOf(
		ValidateVirtualMachineOperation, ValidateVirtualMachineOperationUpdate, ValidateVirtualMachineOperationStatusUpdate))
}
