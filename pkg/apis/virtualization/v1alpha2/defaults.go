package v1alpha2

import (
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

func addDefaultingFuncs(scheme *runtime.Scheme) error {
	return RegisterDefaults(scheme)
}

// SetDefaults_VirtualImageSpec stores images in DVCR unless told otherwise.
func SetDefaults_VirtualImageSpec(obj *VirtualImageSpec) {
	if obj.Storage == "" {
		obj.Storage = StorageContainerRegistry
	}
}

// SetDefaults_VirtualMachineSpec fills the documented defaults of a VM.
func SetDefaults_VirtualMachineSpec(obj *VirtualMachineSpec) {
	if obj.RunPolicy == "" {
		obj.RunPolicy = AlwaysOnUnlessStoppedManuallyPolicy
	}
	if obj.Disruptions == nil {
		obj.Disruptions = &Disruptions{RestartApprovalMode: Manual}
	}
	if obj.TerminationGracePeriodSeconds == nil {
		obj.TerminationGracePeriodSeconds = ptr.To[int64](60)
	}
	if obj.EnableParavirtualization == nil {
		obj.EnableParavirtualization = ptr.To(true)
	}
	if obj.OsType == "" {
		obj.OsType = GenericOs
	}
	if obj.Bootloader == "" {
		obj.Bootloader = BIOS
	}
	if obj.LiveMigrationPolicy == "" {
		obj.LiveMigrationPolicy = PreferSafeMigrationPolicy
	}
}

// SetDefaults_UserDataRef defaults the kind to Secret, the only one allowed.
func SetDefaults_UserDataRef(obj *UserDataRef) {
	if obj.Kind == "" {
		obj.Kind = UserDataRefKindSecret
	}
}

// SetDefaults_SysprepRef defaults the kind to Secret, the only one allowed.
func SetDefaults_SysprepRef(obj *SysprepRef) {
	if obj.Kind == "" {
		obj.Kind = SysprepRefKindSecret
	}
}

// SetDefaults_VirtualDiskSnapshotSpec asks for a consistent snapshot by default.
func SetDefaults_VirtualDiskSnapshotSpec(obj *VirtualDiskSnapshotSpec) {
	if obj.RequiredConsistency == nil {
		obj.RequiredConsistency = ptr.To(true)
	}
}

// SetDefaults_VirtualMachineSnapshotSpec keeps the IP address and asks for consistency by default.
func SetDefaults_VirtualMachineSnapshotSpec(obj *VirtualMachineSnapshotSpec) {
	if obj.KeepIPAddress == "" {
		obj.KeepIPAddress = KeepIPAddressAlways
	}
	if obj.RequiredConsistency == nil {
		obj.RequiredConsistency = ptr.To(true)
	}
}

// SetDefaults_VirtualMachineRestoreSpec refuses to overwrite existing resources by default.
func SetDefaults_VirtualMachineRestoreSpec(obj *VirtualMachineRestoreSpec) {
	if obj.RestoreMode == "" {
		obj.RestoreMode = RestoreModeSafe
	}
}
