package validation

import (
	"fmt"
	"regexp"
	"strconv"

	corev1 "k8s.io/api/core/v1"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

const (
	vmMaxBlockDevices       = 16
	vmMaxLegacyPlainDevices = 4
	vmMaxUserDataBytes      = 2048
	vmMaxUSBDevices         = 8
	vmMaxGPUs               = 16
	vmMaxGPUClassNameLength = 253
)

var (
	vmCoreFractionRe            = regexp.MustCompile(`^(Auto|(100|[1-9][0-9]?)%)$`)
	vmRecommendedCoreFractionRe = regexp.MustCompile(`^(100|[1-9][0-9]?)%$`)
	vmGPUClassNameRe            = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`)
	vmQuantityRe                = regexp.MustCompile(`^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$`)
)

var vmLabelSelectorOpts = metav1validation.LabelSelectorValidationOptions{}

// ValidateVirtualMachine checks a new VirtualMachine.
func ValidateVirtualMachine(obj *virtualization.VirtualMachine) field.ErrorList {
	errs := ValidateMetaLabelName(&obj.ObjectMeta, true)
	errs = append(errs, vmValidateSpec(&obj.Spec, specPath)...)
	return errs
}

// ValidateVirtualMachineUpdate checks a change of a VirtualMachine's metadata and spec. The spec
// rules are those of a new VM: a running VM may change its spec, the controller decides
// whether the change needs a restart.
func ValidateVirtualMachineUpdate(obj, old *virtualization.VirtualMachine) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, vmValidateSpec(&obj.Spec, specPath)...)
	return errs
}

// ValidateVirtualMachineStatusUpdate checks a status written through the status subresource.
func ValidateVirtualMachineStatusUpdate(obj, old *virtualization.VirtualMachine) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, vmValidateStatus(&obj.Status, statusPath)...)
	return errs
}

var vmPhases = []virtualization.MachinePhase{
	virtualization.MachinePending, virtualization.MachineRunning, virtualization.MachineDegraded,
	virtualization.MachineTerminating, virtualization.MachineStopped, virtualization.MachineStopping,
	virtualization.MachineStarting, virtualization.MachineMigrating, virtualization.MachinePause,
}

var vmBlockDeviceKinds = []virtualization.BlockDeviceKind{
	virtualization.ClusterImageDevice, virtualization.ImageDevice, virtualization.DiskDevice,
}

func vmValidateSpec(spec *virtualization.VirtualMachineSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList

	errs = append(errs, validateEnum(spec.RunPolicy, false, p.Child("runPolicy"),
		virtualization.AlwaysOnPolicy, virtualization.AlwaysOffPolicy, virtualization.ManualPolicy,
		virtualization.AlwaysOnUnlessStoppedManuallyPolicy)...)
	errs = append(errs, validateEnum(spec.OsType, false, p.Child("osType"),
		virtualization.Windows, virtualization.GenericOs, virtualization.LegacyWindows)...)
	errs = append(errs, validateEnum(spec.Bootloader, false, p.Child("bootloader"),
		virtualization.BIOS, virtualization.EFI, virtualization.EFIWithSecureBoot)...)
	errs = append(errs, validateEnum(spec.LiveMigrationPolicy, false, p.Child("liveMigrationPolicy"),
		virtualization.AlwaysSafeMigrationPolicy, virtualization.PreferSafeMigrationPolicy,
		virtualization.AlwaysForcedMigrationPolicy, virtualization.PreferForcedMigrationPolicy)...)
	if spec.Disruptions != nil {
		errs = append(errs, validateEnum(spec.Disruptions.RestartApprovalMode, false,
			p.Child("disruptions", "restartApprovalMode"), virtualization.Manual, virtualization.Automatic)...)
	}

	errs = append(errs, requireNonEmpty(spec.VirtualMachineClassName, p.Child("virtualMachineClassName"))...)
	errs = append(errs, vmValidateCPU(&spec.CPU, p.Child("cpu"))...)
	errs = append(errs, vmValidateMemory(&spec.Memory, p.Child("memory"))...)
	errs = append(errs, vmValidateBlockDeviceRefs(spec.BlockDeviceRefs, p.Child("blockDeviceRefs"))...)
	if spec.Provisioning != nil {
		errs = append(errs, vmValidateProvisioning(spec.Provisioning, p.Child("provisioning"))...)
	}
	errs = append(errs, vmValidateLegacy(spec, p)...)

	for i := range spec.Networks {
		errs = append(errs, validateEnum(spec.Networks[i].Type, true, p.Child("networks").Index(i).Child("type"),
			virtualization.NetworksTypeMain, virtualization.NetworksTypeNetwork, virtualization.NetworksTypeClusterNetwork)...)
	}

	usbPath := p.Child("usbDevices")
	if len(spec.USBDevices) > vmMaxUSBDevices {
		errs = append(errs, field.TooMany(usbPath, len(spec.USBDevices), vmMaxUSBDevices))
	}
	for i := range spec.USBDevices {
		errs = append(errs, requireNonEmpty(spec.USBDevices[i].Name, usbPath.Index(i).Child("name"))...)
	}

	gpuPath := p.Child("gpus")
	if len(spec.GPUs) > vmMaxGPUs {
		errs = append(errs, field.TooMany(gpuPath, len(spec.GPUs), vmMaxGPUs))
	}
	for i := range spec.GPUs {
		namePath := gpuPath.Index(i).Child("gpuClassName")
		name := spec.GPUs[i].GPUClassName
		switch {
		case name == "":
			errs = append(errs, field.Required(namePath, "name the GPU class to take the GPU from"))
		case len(name) > vmMaxGPUClassNameLength:
			errs = append(errs, field.TooLong(namePath, name, vmMaxGPUClassNameLength))
		default:
			errs = append(errs, validatePattern(name, vmGPUClassNameRe, namePath,
				"a lower-case DNS subdomain (letters, digits, '-' and '.')")...)
		}
	}

	tscPath := p.Child("topologySpreadConstraints")
	for i := range spec.TopologySpreadConstraints {
		errs = append(errs, vmValidateSpreadConstraint(&spec.TopologySpreadConstraints[i], tscPath.Index(i))...)
	}
	if spec.Affinity != nil {
		errs = append(errs, vmValidateAffinity(spec.Affinity, p.Child("affinity"))...)
	}
	return errs
}

func vmValidateCPU(cpu *virtualization.CPUSpec, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if problem := vmCoreCountProblem(cpu.Cores); problem != "" {
		errs = append(errs, field.Invalid(p.Child("cores"), cpu.Cores, problem))
	}
	errs = append(errs, validatePattern(cpu.CoreFraction, vmCoreFractionRe, p.Child("coreFraction"),
		"Auto or a percentage from 1% to 100%, such as 25%")...)
	return errs
}

func vmValidateMemory(mem *virtualization.MemorySpec, p *field.Path) field.ErrorList {
	sizePath := p.Child("size")
	if mem.Size == "" {
		return field.ErrorList{field.Required(sizePath, "set the memory size, such as 4Gi")}
	}
	if !vmQuantityRe.MatchString(mem.Size) {
		return field.ErrorList{field.Invalid(sizePath, mem.Size, "must be a quantity such as 512Mi or 4Gi")}
	}
	q, err := parseQuantity(mem.Size, sizePath)
	if err != nil {
		return field.ErrorList{err}
	}
	if q.Sign() <= 0 {
		return field.ErrorList{field.Invalid(sizePath, mem.Size, "must be greater than zero")}
	}
	return nil
}

func vmValidateBlockDeviceRefs(refs []virtualization.BlockDeviceSpecRef, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	switch {
	case len(refs) == 0:
		return field.ErrorList{field.Required(p, "attach at least one disk or image to boot from")}
	case len(refs) > vmMaxBlockDevices:
		errs = append(errs, field.TooMany(p, len(refs), vmMaxBlockDevices))
	}
	seen := make(map[string]int, len(refs))
	for i := range refs {
		ref := &refs[i]
		ip := p.Index(i)
		errs = append(errs, validateEnum(ref.Kind, true, ip.Child("kind"), vmBlockDeviceKinds...)...)
		errs = append(errs, requireNonEmpty(ref.Name, ip.Child("name"))...)
		if ref.BootOrder != nil && *ref.BootOrder < 1 {
			errs = append(errs, field.Invalid(ip.Child("bootOrder"), *ref.BootOrder, "must be 1 or more"))
		}
		if ref.Kind == "" || ref.Name == "" {
			continue
		}
		key := string(ref.Kind) + "/" + ref.Name
		if first, dup := seen[key]; dup {
			e := field.Duplicate(ip, key)
			e.Detail = fmt.Sprintf("already attached as blockDeviceRefs[%d]", first)
			errs = append(errs, e)
			continue
		}
		seen[key] = i
	}
	return errs
}

func vmValidateProvisioning(prov *virtualization.Provisioning, p *field.Path) field.ErrorList {
	errs := validateEnum(prov.Type, true, p.Child("type"), virtualization.ProvisioningTypeUserData,
		virtualization.ProvisioningTypeUserDataRef, virtualization.ProvisioningTypeSysprepRef)

	udPath, udRefPath, spRefPath := p.Child("userData"), p.Child("userDataRef"), p.Child("sysprepRef")
	if len(prov.UserData) > vmMaxUserDataBytes {
		e := field.TooLong(udPath, "", vmMaxUserDataBytes)
		e.Detail = fmt.Sprintf("inline user data is %d bytes, the limit is %d; keep longer scripts in a Secret and use userDataRef",
			len(prov.UserData), vmMaxUserDataBytes)
		errs = append(errs, e)
	}
	if ref := prov.UserDataRef; ref != nil {
		errs = append(errs, validateEnum(ref.Kind, true, udRefPath.Child("kind"), virtualization.UserDataRefKindSecret)...)
		errs = append(errs, requireNonEmpty(ref.Name, udRefPath.Child("name"))...)
	}
	if ref := prov.SysprepRef; ref != nil {
		errs = append(errs, validateEnum(ref.Kind, true, spRefPath.Child("kind"), virtualization.SysprepRefKindSecret)...)
		errs = append(errs, requireNonEmpty(ref.Name, spRefPath.Child("name"))...)
	}

	forbid := func(set bool, fp *field.Path) {
		if set {
			errs = append(errs, field.Forbidden(fp, fmt.Sprintf("not used with provisioning type %s", prov.Type)))
		}
	}
	switch prov.Type {
	case virtualization.ProvisioningTypeUserData:
		if prov.UserData == "" {
			errs = append(errs, field.Required(udPath, "type UserData needs the cloud-init script inline"))
		}
		forbid(prov.UserDataRef != nil, udRefPath)
		forbid(prov.SysprepRef != nil, spRefPath)
	case virtualization.ProvisioningTypeUserDataRef:
		if prov.UserDataRef == nil {
			errs = append(errs, field.Required(udRefPath, "type UserDataRef needs the Secret holding the cloud-init script"))
		}
		forbid(prov.UserData != "", udPath)
		forbid(prov.SysprepRef != nil, spRefPath)
	case virtualization.ProvisioningTypeSysprepRef:
		if prov.SysprepRef == nil {
			errs = append(errs, field.Required(spRefPath, "type SysprepRef needs the Secret holding the Sysprep answer files"))
		}
		forbid(prov.UserData != "", udPath)
		forbid(prov.UserDataRef != nil, udRefPath)
	}
	return errs
}

// vmValidateLegacy applies the limits of the Legacy OS type (old systems without cloud-init,
// Sysprep or UEFI support).
func vmValidateLegacy(spec *virtualization.VirtualMachineSpec, p *field.Path) field.ErrorList {
	if spec.OsType != virtualization.LegacyWindows {
		return nil
	}
	var errs field.ErrorList
	if spec.Bootloader != "" && spec.Bootloader != virtualization.BIOS {
		errs = append(errs, field.Invalid(p.Child("bootloader"), spec.Bootloader, "osType Legacy boots with BIOS only"))
	}
	if spec.Provisioning != nil {
		errs = append(errs, field.Forbidden(p.Child("provisioning"),
			"osType Legacy has neither cloud-init nor Sysprep, so it cannot be provisioned"))
	}
	if spec.EnableParavirtualization != nil && !*spec.EnableParavirtualization && len(spec.BlockDeviceRefs) > vmMaxLegacyPlainDevices {
		errs = append(errs, field.Invalid(p.Child("blockDeviceRefs"), len(spec.BlockDeviceRefs),
			fmt.Sprintf("osType Legacy without paravirtualization takes at most %d block devices", vmMaxLegacyPlainDevices)))
	}
	return errs
}

func vmValidateSpreadConstraint(c *virtualization.TopologySpreadConstraint, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if c.MaxSkew <= 0 {
		errs = append(errs, field.Invalid(p.Child("maxSkew"), c.MaxSkew, "must be greater than zero"))
	}
	errs = append(errs, requireNonEmpty(c.TopologyKey, p.Child("topologyKey"))...)
	errs = append(errs, validateEnum(c.WhenUnsatisfiable, true, p.Child("whenUnsatisfiable"),
		corev1.DoNotSchedule, corev1.ScheduleAnyway)...)
	errs = append(errs, metav1validation.ValidateLabelSelector(c.LabelSelector, vmLabelSelectorOpts, p.Child("labelSelector"))...)
	return errs
}

func vmValidateAffinity(a *virtualization.VMAffinity, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if na := a.NodeAffinity; na != nil {
		np := p.Child("nodeAffinity")
		if req := na.RequiredDuringSchedulingIgnoredDuringExecution; req != nil {
			rp := np.Child("requiredDuringSchedulingIgnoredDuringExecution")
			if len(req.NodeSelectorTerms) == 0 {
				errs = append(errs, field.Required(rp.Child("nodeSelectorTerms"), "give at least one node selector term"))
			}
			for i := range req.NodeSelectorTerms {
				errs = append(errs, vmValidateNodeSelectorTerm(&req.NodeSelectorTerms[i], rp.Child("nodeSelectorTerms").Index(i))...)
			}
		}
		pp := np.Child("preferredDuringSchedulingIgnoredDuringExecution")
		for i := range na.PreferredDuringSchedulingIgnoredDuringExecution {
			pref := &na.PreferredDuringSchedulingIgnoredDuringExecution[i]
			errs = append(errs, vmValidateWeight(pref.Weight, pp.Index(i).Child("weight"))...)
			errs = append(errs, vmValidateNodeSelectorTerm(&pref.Preference, pp.Index(i).Child("preference"))...)
		}
	}
	if aff := a.VirtualMachineAndPodAffinity; aff != nil {
		errs = append(errs, vmValidateAffinityTerms(aff.RequiredDuringSchedulingIgnoredDuringExecution,
			aff.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("virtualMachineAndPodAffinity"))...)
	}
	if anti := a.VirtualMachineAndPodAntiAffinity; anti != nil {
		errs = append(errs, vmValidateAffinityTerms(anti.RequiredDuringSchedulingIgnoredDuringExecution,
			anti.PreferredDuringSchedulingIgnoredDuringExecution, p.Child("virtualMachineAndPodAntiAffinity"))...)
	}
	return errs
}

func vmValidateAffinityTerms(required []corev1.PodAffinityTerm, preferred []virtualization.WeightedVirtualMachineAndPodAffinityTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	rp := p.Child("requiredDuringSchedulingIgnoredDuringExecution")
	for i := range required {
		errs = append(errs, vmValidateAffinityTerm(&required[i], rp.Index(i))...)
	}
	pp := p.Child("preferredDuringSchedulingIgnoredDuringExecution")
	for i := range preferred {
		errs = append(errs, vmValidateWeight(preferred[i].Weight, pp.Index(i).Child("weight"))...)
		errs = append(errs, vmValidateAffinityTerm(&preferred[i].VirtualMachineAndPodAffinityTerm,
			pp.Index(i).Child("virtualMachineAndPodAffinityTerm"))...)
	}
	return errs
}

func vmValidateAffinityTerm(t *corev1.PodAffinityTerm, p *field.Path) field.ErrorList {
	errs := requireNonEmpty(t.TopologyKey, p.Child("topologyKey"))
	errs = append(errs, metav1validation.ValidateLabelSelector(t.LabelSelector, vmLabelSelectorOpts, p.Child("labelSelector"))...)
	errs = append(errs, metav1validation.ValidateLabelSelector(t.NamespaceSelector, vmLabelSelectorOpts, p.Child("namespaceSelector"))...)
	return errs
}

func vmValidateWeight(w int32, p *field.Path) field.ErrorList {
	if w < 1 || w > 100 {
		return field.ErrorList{field.Invalid(p, w, "must be from 1 to 100")}
	}
	return nil
}

func vmValidateNodeSelectorTerm(t *corev1.NodeSelectorTerm, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	for i := range t.MatchExpressions {
		errs = append(errs, vmValidateNodeSelectorRequirement(&t.MatchExpressions[i], true, p.Child("matchExpressions").Index(i))...)
	}
	for i := range t.MatchFields {
		errs = append(errs, vmValidateNodeSelectorRequirement(&t.MatchFields[i], false, p.Child("matchFields").Index(i))...)
	}
	return errs
}

var vmNodeSelectorOperators = []corev1.NodeSelectorOperator{
	corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn, corev1.NodeSelectorOpExists,
	corev1.NodeSelectorOpDoesNotExist, corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt,
}

// vmValidateNodeSelectorRequirement checks a node expression: key and operator are required,
// a label key must be a valid label name, and the values must suit the operator.
func vmValidateNodeSelectorRequirement(r *corev1.NodeSelectorRequirement, labelKey bool, p *field.Path) field.ErrorList {
	errs := requireNonEmpty(r.Key, p.Child("key"))
	if labelKey && r.Key != "" {
		errs = append(errs, metav1validation.ValidateLabelName(r.Key, p.Child("key"))...)
	}
	errs = append(errs, validateEnum(r.Operator, true, p.Child("operator"), vmNodeSelectorOperators...)...)
	valuesPath := p.Child("values")
	switch r.Operator {
	case corev1.NodeSelectorOpIn, corev1.NodeSelectorOpNotIn:
		if len(r.Values) == 0 {
			errs = append(errs, field.Required(valuesPath, fmt.Sprintf("operator %s needs at least one value", r.Operator)))
		}
	case corev1.NodeSelectorOpExists, corev1.NodeSelectorOpDoesNotExist:
		if len(r.Values) > 0 {
			errs = append(errs, field.Forbidden(valuesPath, fmt.Sprintf("operator %s takes no values", r.Operator)))
		}
	case corev1.NodeSelectorOpGt, corev1.NodeSelectorOpLt:
		if len(r.Values) != 1 {
			errs = append(errs, field.Invalid(valuesPath, r.Values, fmt.Sprintf("operator %s takes exactly one integer value", r.Operator)))
		} else if _, err := strconv.ParseInt(r.Values[0], 10, 64); err != nil {
			errs = append(errs, field.Invalid(valuesPath.Index(0), r.Values[0], fmt.Sprintf("operator %s compares integers", r.Operator)))
		}
	}
	return errs
}

func vmValidateStatus(st *virtualization.VirtualMachineStatus, p *field.Path) field.ErrorList {
	errs := validateEnum(st.Phase, false, p.Child("phase"), vmPhases...)
	for i := range st.BlockDeviceRefs {
		errs = append(errs, validateEnum(st.BlockDeviceRefs[i].Kind, true,
			p.Child("blockDeviceRefs").Index(i).Child("kind"), vmBlockDeviceKinds...)...)
	}
	if ms := st.MigrationState; ms != nil {
		errs = append(errs, validateEnum(ms.Result, false, p.Child("migrationState", "result"),
			virtualization.MigrationResultSucceeded, virtualization.MigrationResultFailed)...)
	}
	if st.Stats != nil {
		tp := p.Child("stats", "phasesTransitions")
		for i := range st.Stats.PhasesTransitions {
			errs = append(errs, validateEnum(st.Stats.PhasesTransitions[i].Phase, false, tp.Index(i).Child("phase"), vmPhases...)...)
		}
	}
	if rr := st.RecommendedResources; rr != nil && rr.CPU != nil {
		errs = append(errs, validatePattern(rr.CPU.CoreFraction, vmRecommendedCoreFractionRe,
			p.Child("recommendedResources", "cpu", "coreFraction"), "a percentage from 1% to 100%, such as 25%")...)
	}
	errs = append(errs, ValidateConditions(st.Conditions, p.Child("conditions"))...)
	return errs
}
