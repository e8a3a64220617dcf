package validation

import (
	"fmt"

	apiequality "k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1validation "k8s.io/apimachinery/pkg/apis/meta/v1/validation"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

const (
	vmClassMaxSizingPolicies = 16
	vmClassMaxPolicyCores    = 1024
)

// ValidateVirtualMachineClass checks a new VirtualMachineClass (cluster-scoped).
func ValidateVirtualMachineClass(obj *virtualization.VirtualMachineClass) field.ErrorList {
	errs := ValidateMeta(&obj.ObjectMeta, false)
	errs = append(errs, vmClassValidateSpec(&obj.Spec, specPath)...)
	return errs
}

// ValidateVirtualMachineClassUpdate checks a change of a class: the CPU block is frozen, node
// selector, tolerations and sizing policies may change (they apply to the class's VMs).
func ValidateVirtualMachineClassUpdate(obj, old *virtualization.VirtualMachineClass) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, vmClassValidateSpec(&obj.Spec, specPath)...)
	if !apiequality.Semantic.DeepEqual(obj.Spec.CPU, old.Spec.CPU) {
		errs = append(errs, field.Forbidden(specPath.Child("cpu"),
			"the CPU of a class cannot change once it is created; create a new class instead"))
	}
	return errs
}

// ValidateVirtualMachineClassStatusUpdate checks a status written through the status subresource.
func ValidateVirtualMachineClassStatusUpdate(obj, old *virtualization.VirtualMachineClass) field.ErrorList {
	errs := ValidateMetaUpdate(&obj.ObjectMeta, &old.ObjectMeta)
	errs = append(errs, validateEnum(obj.Status.Phase, true, statusPath.Child("phase"),
		virtualization.ClassPhasePending, virtualization.ClassPhaseReady, virtualization.ClassPhaseTerminating)...)
	errs = append(errs, ValidateConditions(obj.Status.Conditions, statusPath.Child("conditions"))...)
	return errs
}

func vmClassValidateSpec(spec *virtualization.VirtualMachineClassSpec, p *field.Path) field.ErrorList {
	errs := vmClassValidateCPU(&spec.CPU, p.Child("cpu"))
	nsPath := p.Child("nodeSelector")
	errs = append(errs, metav1validation.ValidateLabels(spec.NodeSelector.MatchLabels, nsPath.Child("matchLabels"))...)
	for i := range spec.NodeSelector.MatchExpressions {
		errs = append(errs, vmValidateNodeSelectorRequirement(&spec.NodeSelector.MatchExpressions[i], true,
			nsPath.Child("matchExpressions").Index(i))...)
	}
	errs = append(errs, vmClassValidateSizingPolicies(spec.SizingPolicies, p.Child("sizingPolicies"))...)
	return errs
}

func vmClassValidateCPU(cpu *virtualization.ClassCPU, p *field.Path) field.ErrorList {
	errs := validateEnum(cpu.Type, true, p.Child("type"), virtualization.CPUTypeHost, virtualization.CPUTypeHostPassthrough,
		virtualization.CPUTypeDiscovery, virtualization.CPUTypeModel, virtualization.CPUTypeFeatures)

	modelPath, featuresPath, discoveryPath := p.Child("model"), p.Child("features"), p.Child("discovery")
	hasModel, hasFeatures, hasDiscovery := cpu.Model != "", cpu.Features != nil, cpu.Discovery != nil
	forbid := func(set bool, fp *field.Path) {
		if set {
			errs = append(errs, field.Forbidden(fp, fmt.Sprintf("not allowed with cpu type %s", cpu.Type)))
		}
	}
	switch cpu.Type {
	case virtualization.CPUTypeHost, virtualization.CPUTypeHostPassthrough:
		forbid(hasModel, modelPath)
		forbid(hasFeatures, featuresPath)
		forbid(hasDiscovery, discoveryPath)
	case virtualization.CPUTypeDiscovery:
		forbid(hasModel, modelPath)
		forbid(hasFeatures, featuresPath)
	case virtualization.CPUTypeModel:
		if !hasModel {
			errs = append(errs, field.Required(modelPath, "cpu type Model needs the CPU model name, such as IvyBridge"))
		}
		forbid(hasFeatures, featuresPath)
		forbid(hasDiscovery, discoveryPath)
	case virtualization.CPUTypeFeatures:
		if len(cpu.Features) == 0 {
			errs = append(errs, field.Required(featuresPath, "cpu type Features needs at least one CPU feature, such as vmx"))
		}
		forbid(hasModel, modelPath)
		forbid(hasDiscovery, discoveryPath)
	}
	if hasDiscovery {
		errs = append(errs, metav1validation.ValidateLabelSelector(&cpu.Discovery.NodeSelector, vmLabelSelectorOpts,
			discoveryPath.Child("nodeSelector"))...)
	}
	return errs
}

func vmClassValidateSizingPolicies(policies []virtualization.SizingPolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	if len(policies) > vmClassMaxSizingPolicies {
		errs = append(errs, field.TooMany(p, len(policies), vmClassMaxSizingPolicies))
	}
	for i := range policies {
		errs = append(errs, vmClassValidateSizingPolicy(&policies[i], p.Index(i))...)
	}
	// Each core count must select a single policy.
	for j := range policies {
		cj := policies[j].Cores
		if cj == nil {
			continue
		}
		for i := 0; i < j; i++ {
			ci := policies[i].Cores
			if ci == nil || ci.Max < cj.Min || cj.Max < ci.Min {
				continue
			}
			errs = append(errs, field.Invalid(p.Index(j).Child("cores"), fmt.Sprintf("%d-%d", cj.Min, cj.Max),
				fmt.Sprintf("core range overlaps sizingPolicies[%d] (%d-%d); each core count may match one policy only", i, ci.Min, ci.Max)))
			break
		}
	}
	return errs
}

func vmClassValidateSizingPolicy(sp *virtualization.SizingPolicy, p *field.Path) field.ErrorList {
	var errs field.ErrorList
	cp := p.Child("cores")
	if c := sp.Cores; c == nil {
		errs = append(errs, field.Required(cp, "give the core range (min and max) the policy applies to"))
	} else {
		if c.Min < 1 {
			errs = append(errs, field.Invalid(cp.Child("min"), c.Min, "must be 1 or more"))
		}
		if c.Max > vmClassMaxPolicyCores {
			errs = append(errs, field.Invalid(cp.Child("max"), c.Max, fmt.Sprintf("must be %d or less", vmClassMaxPolicyCores)))
		}
		if c.Max <= c.Min {
			errs = append(errs, field.Invalid(cp.Child("max"), c.Max, fmt.Sprintf("must be greater than min (%d)", c.Min)))
		}
		if c.Step < 0 {
			errs = append(errs, field.Invalid(cp.Child("step"), c.Step, "must be 1 or more"))
		} else if c.Step > 0 && c.Max <= c.Step {
			errs = append(errs, field.Invalid(cp.Child("max"), c.Max, fmt.Sprintf("must be greater than step (%d)", c.Step)))
		}
	}
	fp := p.Child("coreFractions")
	for k, f := range sp.CoreFractions {
		if f < 1 || f > 100 {
			errs = append(errs, field.Invalid(fp.Index(k), f, "must be a percentage from 1 to 100"))
		}
	}
	if d := sp.DefaultCoreFraction; d != nil {
		dp := p.Child("defaultCoreFraction")
		if d.Type == intstr.Int {
			if d.IntVal < 1 || d.IntVal > 100 {
				errs = append(errs, field.Invalid(dp, d.IntVal, "must be a number from 1 to 100, or Auto"))
			}
		} else if d.StrVal != "Auto" {
			errs = append(errs, field.Invalid(dp, d.StrVal, "must be a number from 1 to 100 (without quotes), or Auto"))
		}
	}
	if m := sp.Memory; m != nil {
		mp := p.Child("memory")
		minQ, e1 := vmClassPositiveQuantity(m.Min, mp.Child("min"))
		maxQ, e2 := vmClassPositiveQuantity(m.Max, mp.Child("max"))
		_, e3 := vmClassPositiveQuantity(m.Step, mp.Child("step"))
		errs = append(errs, e1...)
		errs = append(errs, e2...)
		errs = append(errs, e3...)
		if minQ != nil && maxQ != nil && minQ.Cmp(*maxQ) > 0 {
			errs = append(errs, field.Invalid(mp.Child("max"), maxQ.String(), fmt.Sprintf("must not be less than min (%s)", minQ.String())))
		}
		if pc := m.PerCore; pc != nil {
			pcp := mp.Child("perCore")
			pmin, e4 := vmClassPositiveQuantity(pc.Min, pcp.Child("min"))
			pmax, e5 := vmClassPositiveQuantity(pc.Max, pcp.Child("max"))
			errs = append(errs, e4...)
			errs = append(errs, e5...)
			if pmin != nil && pmax != nil && pmin.Cmp(*pmax) > 0 {
				errs = append(errs, field.Invalid(pcp.Child("max"), pmax.String(), fmt.Sprintf("must not be less than min (%s)", pmin.String())))
			}
		}
	}
	return errs
}

// vmClassPositiveQuantity checks an optional memory amount (its syntax was checked when
// decoding) is above zero.
func vmClassPositiveQuantity(q *resource.Quantity, p *field.Path) (*resource.Quantity, field.ErrorList) {
	if q == nil {
		return nil, nil
	}
	if q.Sign() <= 0 {
		return nil, field.ErrorList{field.Invalid(p, q.String(), "must be greater than zero")}
	}
	return q, nil
}
