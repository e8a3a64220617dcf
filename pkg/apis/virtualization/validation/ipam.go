package validation

import (
	"net/netip"

	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// ---- VirtualMachineIPAddress ----

// ValidateVirtualMachineIPAddress checks a VirtualMachineIPAddress on create.
func ValidateVirtualMachineIPAddress(obj *virtualization.VirtualMachineIPAddress) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, true)
	return append(errs, validateVMIPSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineIPAddressUpdate checks an update of a VirtualMachineIPAddress.
func ValidateVirtualMachineIPAddressUpdate(obj, old *virtualization.VirtualMachineIPAddress) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	return append(errs, validateVMIPSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineIPAddressStatusUpdate checks a /status update of a VirtualMachineIPAddress.
func ValidateVirtualMachineIPAddressStatusUpdate(obj, old *virtualization.VirtualMachineIPAddress) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, false, statusPath.Child("phase"),
		virtualization.VirtualMachineIPAddressPhasePending,
		virtualization.VirtualMachineIPAddressPhaseBound,
		virtualization.VirtualMachineIPAddressPhaseAttached)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVMIPSpec(spec *virtualization.VirtualMachineIPAddressSpec, fldPath *field.Path) field.ErrorList {
	typePath := fldPath.Child("type")
	ipPath := fldPath.Child("staticIP")
	errs := validateEnum(spec.Type, true, typePath,
		virtualization.VirtualMachineIPAddressTypeAuto,
		virtualization.VirtualMachineIPAddressTypeStatic)
	switch spec.Type {
	case virtualization.VirtualMachineIPAddressTypeStatic:
		if spec.StaticIP == "" {
			errs = append(errs, field.Required(ipPath, "type Static needs the address to take"))
		} else if !isIPv4(spec.StaticIP) {
			errs = append(errs, field.Invalid(ipPath, spec.StaticIP, "must be an IPv4 address such as 10.66.20.77"))
		}
	case virtualization.VirtualMachineIPAddressTypeAuto:
		if spec.StaticIP != "" {
			errs = append(errs, field.Forbidden(ipPath, "type Auto picks the address itself; use type Static to choose one"))
		}
	}
	return errs
}

// isIPv4 accepts a plain dotted-quad IPv4 address (no zone, no leading zeros, not IPv4-in-IPv6).
func isIPv4(s string) bool {
	addr, err := netip.ParseAddr(s)
	return err == nil && addr.Is4()
}

// ---- VirtualMachineIPAddressLease ----

// ValidateVirtualMachineIPAddressLease checks a VirtualMachineIPAddressLease on create.
func ValidateVirtualMachineIPAddressLease(obj *virtualization.VirtualMachineIPAddressLease) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, false)
	return append(errs, validateVMIPLeaseSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineIPAddressLeaseUpdate checks an update of a VirtualMachineIPAddressLease.
func ValidateVirtualMachineIPAddressLeaseUpdate(obj, old *virtualization.VirtualMachineIPAddressLease) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	return append(errs, validateVMIPLeaseSpec(&obj.Spec, specPath)...)
}

// ValidateVirtualMachineIPAddressLeaseStatusUpdate checks a /status update of a lease.
func ValidateVirtualMachineIPAddressLeaseStatusUpdate(obj, old *virtualization.VirtualMachineIPAddressLease) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, false, statusPath.Child("phase"),
		virtualization.VirtualMachineIPAddressLeasePhaseBound,
		virtualization.VirtualMachineIPAddressLeasePhaseReleased)...)
	return append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
}

func validateVMIPLeaseSpec(spec *virtualization.VirtualMachineIPAddressLeaseSpec, fldPath *field.Path) field.ErrorList {
	ref := spec.VirtualMachineIPAddressRef
	if ref == nil {
		return nil
	}
	refPath := fldPath.Child("virtualMachineIPAddressRef")
	errs := requireNonEmpty(ref.Name, refPath.Child("name"))
	return append(errs, requireNonEmpty(ref.Namespace, refPath.Child("namespace"))...)
}
