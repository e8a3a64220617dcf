package validation

import "testing"

func TestVirtualMachineBlockDeviceAttachmentCorpus(t *testing.T) {
	dsRunCorpus(t, "virtualmachineblockdeviceattachment", dsKindValidators(
		ValidateVirtualMachineBlockDeviceAttachment,
		ValidateVirtualMachineBlockDeviceAttachmentUpdate,
		ValidateVirtualMachineBlockDeviceAttachmentStatusUpdate))
}
