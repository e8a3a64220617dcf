package v1alpha2

import (
	"fmt"

	"k8s.io/apimachinery/pkg/runtime"
)

// selectableFields lists per kind the fields a field selector may use besides metadata.name
// and metadata.namespace. The registry of each kind must publish exactly these.
var selectableFields = map[string][]string{
	"ClusterVirtualImage":                 {"status.phase", "spec.dataSource.type"},
	"VirtualImage":                        {"status.phase", "spec.dataSource.type", "spec.storage"},
	"VirtualDisk":                         {"status.phase", "status.storageClassName"},
	"VirtualDiskSnapshot":                 {"status.phase", "spec.virtualDiskName"},
	"VirtualMachine":                      {"status.phase", "status.nodeName", "spec.virtualMachineClassName"},
	"VirtualMachineClass":                 {"status.phase"},
	"VirtualMachineOperation":             {"status.phase", "spec.type", "spec.virtualMachineName"},
	"VirtualMachineBlockDeviceAttachment": {"status.phase", "spec.virtualMachineName", "spec.blockDeviceRef.kind", "spec.blockDeviceRef.name"},
	"VirtualMachineIPAddress":             {"status.phase", "spec.type", "status.address", "status.virtualMachineName"},
	"VirtualMachineIPAddressLease":        {"status.phase", "spec.virtualMachineIPAddressRef.name", "spec.virtualMachineIPAddressRef.namespace"},
	"VirtualMachineSnapshot":              {"status.phase", "spec.virtualMachineName"},
	"VirtualMachineRestore":               {"status.phase", "spec.virtualMachineSnapshotName"},
}

// SelectableFields returns the kind-specific field selector labels of a kind.
func SelectableFields(kind string) []string {
	return append([]string(nil), selectableFields[kind]...)
}

func addFieldLabelConversionFuncs(scheme *runtime.Scheme) error {
	for kind, labels := range selectableFields {
		allowed := map[string]bool{"metadata.name": true, "metadata.namespace": true}
		for _, l := range labels {
			allowed[l] = true
		}
		err := scheme.AddFieldLabelConversionFunc(SchemeGroupVersion.WithKind(kind),
			func(label, value string) (string, string, error) {
				if !allowed[label] {
					return "", "", fmt.Errorf("field label not supported: %s", label)
				}
				return label, value, nil
			})
		if err != nil {
			return err
		}
	}
	return nil
}
