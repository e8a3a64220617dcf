package vm

import (
	"fmt"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	v1alpha2 "github.com/virtplane/virtplane/pkg/apis/virtualization/v1alpha2"
	"github.com/virtplane/virtplane/pkg/apis/virtualization/validation"
	"github.com/virtplane/virtplane/pkg/controller/powerstate"
	"github.com/virtplane/virtplane/pkg/controller/provisioning"
	"github.com/virtplane/virtplane/pkg/controller/vmclass"
)

// resolved is what a VM needs, looked up, with what is missing said in its conditions.
type resolved struct {
	machine  machine
	class    *v1alpha2.VirtualMachineClass
	fraction string // effective coreFraction
	ready    bool   // everything the VMI needs is ready
	changes  []Change
	requeue  time.Duration
	backoff  string // why a start waits after failures
	failure  string // why the VM cannot start, for its Running condition
}

func (c *Controller) resolve(vm *v1alpha2.VirtualMachine, st *v1alpha2.VirtualMachineStatus) *resolved {
	r := &resolved{machine: machine{vm: vm}, fraction: vm.Spec.CPU.CoreFraction}
	if r.fraction != "" {
		r.machine.fractionFrom = "spec.cpu.coreFraction"
	}
	gen := vm.Generation
	set := func(t ConditionType, ok bool, reason Reason, msg string) {
		s := metav1.ConditionFalse
		if ok {
			s = metav1.ConditionTrue
		}
		provisioning.SetCondition(&st.Conditions, t, s, reason, msg, gen)
	}
	classOK := c.resolveClass(vm, r, set)
	devicesOK := c.resolveDevices(vm, r, st, set)
	ipOK := c.resolveAddress(vm, r, st, set)
	provOK := c.resolveProvisioning(vm, set)
	r.machine.fraction = r.fraction
	r.ready = classOK && devicesOK && ipOK && provOK
	if !provOK {
		r.requeue = 30 * time.Second // a Secret in another state than expected; re-read now and then
	}
	return r
}

func (c *Controller) resolveClass(vm *v1alpha2.VirtualMachine, r *resolved, set func(ConditionType, bool, Reason, string)) bool {
	class, err := c.classes.Get(vm.Spec.VirtualMachineClassName)
	if apierrors.IsNotFound(err) || err != nil {
		msg := fmt.Sprintf("VirtualMachineClass %q not found.", vm.Spec.VirtualMachineClassName)
		set(ClassReadyType, false, ClassNotReady, msg)
		set(SizingPolicyMatchedType, false, ClassNotFound, msg)
		return false
	}
	r.class = class
	if class.DeletionTimestamp != nil {
		set(SizingPolicyMatchedType, false, ClassTerminating, fmt.Sprintf("VirtualMachineClass %q is being deleted.", class.Name))
	} else if msg := sizingMismatch(vm, class); msg != "" {
		set(SizingPolicyMatchedType, false, SizingPolicyNotMatched, msg)
	} else {
		set(SizingPolicyMatchedType, true, SizingPolicyMatched, "")
	}
	if r.fraction == "" {
		r.fraction, r.machine.fractionFrom = defaultCoreFraction(vm.Spec.CPU.Cores, class)
	}
	ok, _, msg := vmclass.Ready(class)
	if !ok {
		set(ClassReadyType, false, ClassNotReady, msg)
		return false
	}
	set(ClassReadyType, true, ClassReady, "")
	r.machine.cpu = vmclass.DomainCPU(class)
	r.machine.nodeSel, r.machine.terms, r.machine.tols = vmclass.Placement(class)
	return true
}

// sizingMismatch checks the VM against its class's sizing policies as admission does; a
// class changed after the VM was saved shows here.
func sizingMismatch(vm *v1alpha2.VirtualMachine, class *v1alpha2.VirtualMachineClass) string {
	spec := &virtualization.VirtualMachineSpec{}
	internal := &virtualization.VirtualMachineClass{}
	if err := v1alpha2.Convert_v1alpha2_VirtualMachineSpec_To_virtualization_VirtualMachineSpec(&vm.Spec, spec, nil); err != nil {
		return err.Error()
	}
	if err := v1alpha2.Convert_v1alpha2_VirtualMachineClass_To_virtualization_VirtualMachineClass(class, internal, nil); err != nil {
		return err.Error()
	}
	errs := validation.ValidateVirtualMachineSizing(spec, internal)
	if len(errs) == 0 {
		return ""
	}
	return errs.ToAggregate().Error()
}

// defaultCoreFraction is the fraction of the class's policy for this many cores, else 100%,
// with the field it comes from (empty for the built-in default).
func defaultCoreFraction(cores int, class *v1alpha2.VirtualMachineClass) (fraction, from string) {
	for i, p := range class.Spec.SizingPolicies {
		if p.Cores == nil || cores < p.Cores.Min || cores > p.Cores.Max || p.DefaultCoreFraction == nil {
			continue
		}
		from = fmt.Sprintf("VirtualMachineClass %q spec.sizingPolicies[%d].defaultCoreFraction", class.Name, i)
		if d := p.DefaultCoreFraction; d.Type == intstr.Int {
			return fmt.Sprintf("%d%%", d.IntVal), from
		}
		return p.DefaultCoreFraction.StrVal, from
	}
	return DefaultCoreFraction, ""
}

func (c *Controller) resolveDevices(vm *v1alpha2.VirtualMachine, r *resolved, st *v1alpha2.VirtualMachineStatus, set func(ConditionType, bool, Reason, string)) bool {
	var waiting, firstConsumer []string
	refs := make([]v1alpha2.BlockDeviceStatusRef, 0, len(vm.Spec.BlockDeviceRefs))
	for i, ref := range vm.Spec.BlockDeviceRefs {
		d := device{ref: ref, name: deviceName(ref), bootOrder: i + 1}
		if ref.BootOrder != nil {
			d.bootOrder = *ref.BootOrder
		}
		ready := false
		switch ref.Kind {
		case v1alpha2.DiskDevice:
			vd, err := c.vdLister.VirtualDisks(vm.Namespace).Get(ref.Name)
			if err != nil {
				waiting = append(waiting, fmt.Sprintf("VirtualDisk %q not found", ref.Name))
				break
			}
			d.pvc, d.size = vd.Status.Target.PersistentVolumeClaim, vd.Status.Capacity
			switch {
			case vd.Status.Phase == v1alpha2.DiskReady || vd.Status.Phase == v1alpha2.DiskResizing:
				ready = true
			case vd.Status.Phase == v1alpha2.DiskWaitForFirstConsumer && d.pvc != "":
				// The VM's Pod is the first consumer: starting it binds the volume.
				ready = true
				firstConsumer = append(firstConsumer, ref.Name)
			default:
				waiting = append(waiting, fmt.Sprintf("VirtualDisk %q is %s", ref.Name, phaseOr(string(vd.Status.Phase))))
			}
		case v1alpha2.ImageDevice:
			vi, err := c.viLister.VirtualImages(vm.Namespace).Get(ref.Name)
			if err != nil {
				waiting = append(waiting, fmt.Sprintf("VirtualImage %q not found", ref.Name))
				break
			}
			d.image, d.pvc, d.cdrom, d.readOnly, d.size = vi.Status.Target.RegistryURL, vi.Status.Target.PersistentVolumeClaim, vi.Status.CDROM, true, vi.Status.Size.Unpacked
			if vi.Spec.Storage != v1alpha2.StorageContainerRegistry {
				d.image = ""
			} else {
				d.pvc = ""
			}
			ready = vi.Status.Phase == v1alpha2.ImageReady
			if !ready {
				waiting = append(waiting, fmt.Sprintf("VirtualImage %q is %s", ref.Name, phaseOr(string(vi.Status.Phase))))
			}
		case v1alpha2.ClusterImageDevice:
			cvi, err := c.cviLister.Get(ref.Name)
			if err != nil {
				waiting = append(waiting, fmt.Sprintf("ClusterVirtualImage %q not found", ref.Name))
				break
			}
			d.image, d.cdrom, d.readOnly, d.size = cvi.Status.Target.RegistryURL, cvi.Status.CDROM, true, cvi.Status.Size.Unpacked
			ready = cvi.Status.Phase == v1alpha2.ImageReady
			if !ready {
				waiting = append(waiting, fmt.Sprintf("ClusterVirtualImage %q is %s", ref.Name, phaseOr(string(cvi.Status.Phase))))
			}
		}
		refs = append(refs, v1alpha2.BlockDeviceStatusRef{Kind: ref.Kind, Name: ref.Name, Size: d.size, Target: d.name, BootOrder: &d.bootOrder})
		if ready {
			r.machine.devices = append(r.machine.devices, d)
		}
	}
	st.BlockDeviceRefs = refs
	switch {
	case len(waiting) > 0:
		set(BlockDevicesReadyType, false, BlockDevicesNotReady, "Waiting for block devices: "+strings.Join(waiting, "; ")+".")
		return false
	case len(firstConsumer) > 0:
		set(BlockDevicesReadyType, false, WaitingForFirstConsumer,
			fmt.Sprintf("VirtualDisks %s wait for the VM's Pod to be scheduled (WaitForFirstConsumer).", strings.Join(firstConsumer, ", ")))
		return true
	}
	set(BlockDevicesReadyType, true, BlockDevicesReady, "")
	return true
}

func phaseOr(p string) string {
	if p == "" {
		return "not provisioned yet"
	}
	return p
}

// resolveAddress finds the VM's VirtualMachineIPAddress: the one the spec names, or the one
// IPAM made for it (labelled with the VM's name, owned by it).
func (c *Controller) resolveAddress(vm *v1alpha2.VirtualMachine, r *resolved, st *v1alpha2.VirtualMachineStatus, set func(ConditionType, bool, Reason, string)) bool {
	var ip *v1alpha2.VirtualMachineIPAddress
	if name := vm.Spec.VirtualMachineIPAddress; name != "" {
		got, err := c.vmipLister.VirtualMachineIPAddresses(vm.Namespace).Get(name)
		if err != nil {
			set(IPAddressReadyType, false, IPAddressNotAvailable, fmt.Sprintf("VirtualMachineIPAddress %q not found.", name))
			return false
		}
		ip = got
	} else {
		all, _ := c.vmipLister.VirtualMachineIPAddresses(vm.Namespace).List(everything)
		for _, a := range all {
			if a.Labels[powerstate.VMNameLabel] == vm.Name && metav1.IsControlledBy(a, vm) {
				ip = a
				break
			}
		}
	}
	if ip == nil {
		set(IPAddressReadyType, false, IPAddressNotAssigned, "Waiting for an address to be allocated.")
		return false
	}
	st.VirtualMachineIPAddress = ip.Name
	if ip.Status.Address == "" || (ip.Status.Phase != v1alpha2.VirtualMachineIPAddressPhaseBound && ip.Status.Phase != v1alpha2.VirtualMachineIPAddressPhaseAttached) {
		msg := fmt.Sprintf("VirtualMachineIPAddress %q is %s.", ip.Name, phaseOr(string(ip.Status.Phase)))
		for _, cond := range ip.Status.Conditions {
			if cond.Type == "Bound" && cond.Status != metav1.ConditionTrue && cond.Message != "" {
				msg += " " + cond.Message
			}
		}
		set(IPAddressReadyType, false, IPAddressNotReady, msg)
		return false
	}
	if ip.Status.VirtualMachine != "" && ip.Status.VirtualMachine != vm.Name {
		set(IPAddressReadyType, false, IPAddressNotAvailable,
			fmt.Sprintf("VirtualMachineIPAddress %q is attached to VirtualMachine %q.", ip.Name, ip.Status.VirtualMachine))
		return false
	}
	st.IPAddress = ip.Status.Address
	r.machine.ip = ip.Status.Address
	set(IPAddressReadyType, true, IPAddressReady, "")
	return true
}

func (c *Controller) resolveProvisioning(vm *v1alpha2.VirtualMachine, set func(ConditionType, bool, Reason, string)) bool {
	p := vm.Spec.Provisioning
	if p == nil {
		return true
	}
	var secret string
	switch {
	case p.Type == v1alpha2.ProvisioningTypeUserDataRef && p.UserDataRef != nil:
		secret = p.UserDataRef.Name
	case p.Type == v1alpha2.ProvisioningTypeSysprepRef && p.SysprepRef != nil:
		secret = p.SysprepRef.Name
	}
	if secret != "" {
		if _, err := c.secLister.Secrets(vm.Namespace).Get(secret); err != nil {
			set(ProvisioningReadyType, false, ProvisioningNotReady, fmt.Sprintf("Secret %q with the provisioning data not found.", secret))
			return false
		}
	}
	set(ProvisioningReadyType, true, ProvisioningReady, "")
	return true
}
