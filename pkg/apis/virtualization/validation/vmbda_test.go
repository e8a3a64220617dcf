package validation

import "testing"

func TestVirtualMachineBlockDeviceAttachmentCorpus(t *testing.T) {
	runCorpus(t, "virtualmachineblockdeviceattachment", validatorsOf(
		ValidateVirtualMachineBlockDeviceAttachment,
		ValidateVirtualMachineBlockDeviceAttachmentUpdate,
		ValidateVirtualMachineBlockDeviceAttachmentStatusUpdate))
}
