package validation

import "testing"

func TestVirtualMachineIPAddressCorpus(t *testing.T) {
	runCorpus(t, "virtualmachineipaddress", validatorsOf(
		ValidateVirtualMachineIPAddress, ValidateVirtualMachineIPAddressUpdate, ValidateVirtualMachineIPAddressStatusUpdate))
}

func TestVirtualMachineIPAddressLeaseCorpus(t *testing.T) {
	runCorpus(t, "virtualmachineipaddresslease", validatorsOf(
		ValidateVirtualMachineIPAddressLease, ValidateVirtualMachineIPAddressLeaseUpdate, ValidateVirtualMachineIPAddressLeaseStatusUpdate))
}

func TestIsIPv4(t *testing.T) {
	for s, ok := range map[string]bool{
		"10.66.20.77":     true,
		"0.0.0.0":         true,
		"10.66.20.256":    false,
		"010.66.20.77":    false,
		"10.66.20":        false,
		"fd00::1":         false,
		"::ffff:10.0.0.1": false,
		"10.66.20.77/24":  false,
		" 10.66.20.77":    false,
	} {
		if isIPv4(s) != ok {
			t.Errorf("isIPv4(%q) != %v", s, ok)
		}
	}
}
