package validation

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/validation/field"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
)

// vmFullCoreFraction is the fraction a VM gets when neither it nor its policy sets one.
const vmFullCoreFraction = 100

// ValidateVirtualMachineSizing checks a VM's cpu.cores, cpu.coreFraction and memory.size against the
// sizing policies of its class; errors use the VM's field paths (spec.cpu.cores, spec.cpu.coreFraction,
// spec.memory.size) and say which policy of which class refused the value.
func ValidateVirtualMachineSizing(spec *virtualization.VirtualMachineSpec, class *virtualization.VirtualMachineClass) field.ErrorList {
	if spec == nil || class == nil || len(class.Spec.SizingPolicies) == 0 {
		return nil
	}
	coresPath := specPath.Child("cpu", "cores")
	cores := spec.CPU.Cores

	idx := vmMatchingPolicy(class.Spec.SizingPolicies, cores)
	if idx < 0 {
		return field.ErrorList{field.Invalid(coresPath, cores,
			fmt.Sprintf("VirtualMachineClass %q has no sizing policy for %d cores; its policies cover %s",
				class.Name, cores, vmPolicyRanges(class.Spec.SizingPolicies)))}
	}
	policy := &class.Spec.SizingPolicies[idx]
	who := fmt.Sprintf("sizing policy for %d-%d cores of VirtualMachineClass %q", policy.Cores.Min, policy.Cores.Max, class.Name)

	var errs field.ErrorList
	if step := policy.Cores.Step; step > 0 && (cores-policy.Cores.Min)%step != 0 {
		lower := cores - (cores-policy.Cores.Min)%step
		hint := strconv.Itoa(lower)
		if upper := lower + step; upper <= policy.Cores.Max {
			hint += " or " + strconv.Itoa(upper)
		}
		errs = append(errs, field.Invalid(coresPath, cores,
			fmt.Sprintf("the %s allows core counts from %d in steps of %d; nearest allowed: %s", who, policy.Cores.Min, step, hint)))
	}
	errs = append(errs, vmCheckPolicyMemory(spec, policy, who)...)
	errs = append(errs, vmCheckPolicyCoreFraction(spec, policy, who)...)
	return errs
}

// vmMatchingPolicy returns the index of the first policy whose core range holds cores, or -1.
func vmMatchingPolicy(policies []virtualization.SizingPolicy, cores int) int {
	for i := range policies {
		c := policies[i].Cores
		if c != nil && c.Min <= cores && cores <= c.Max {
			return i
		}
	}
	return -1
}

// vmPolicyRanges lists the core ranges of the policies, such as "1-4, 5-8".
func vmPolicyRanges(policies []virtualization.SizingPolicy) string {
	var ranges []string
	for i := range policies {
		if c := policies[i].Cores; c != nil {
			ranges = append(ranges, fmt.Sprintf("%d-%d", c.Min, c.Max))
		}
	}
	if len(ranges) == 0 {
		return "no core counts"
	}
	return strings.Join(ranges, ", ")
}

// vmPolicyQuantity reads an optional policy bound; a bound that is not a positive quantity is
// ignored here, since class validation refuses it.
func vmPolicyQuantity(q *resource.Quantity) *resource.Quantity {
	if q == nil || q.Sign() <= 0 {
		return nil
	}
	return q
}

func vmCheckPolicyMemory(spec *virtualization.VirtualMachineSpec, policy *virtualization.SizingPolicy, who string) field.ErrorList {
	if policy.Memory == nil {
		return nil
	}
	sizePath := specPath.Child("memory", "size")
	size, err := resource.ParseQuantity(spec.Memory.Size)
	if err != nil || size.Sign() <= 0 {
		return nil // the VM's own validation reports a bad size
	}
	var errs field.ErrorList
	minQ, maxQ, stepQ := vmPolicyQuantity(policy.Memory.Min), vmPolicyQuantity(policy.Memory.Max), vmPolicyQuantity(policy.Memory.Step)
	if minQ != nil && size.Cmp(*minQ) < 0 {
		errs = append(errs, field.Invalid(sizePath, spec.Memory.Size,
			fmt.Sprintf("the %s requires at least %s of memory", who, minQ.String())))
	}
	if maxQ != nil && size.Cmp(*maxQ) > 0 {
		errs = append(errs, field.Invalid(sizePath, spec.Memory.Size,
			fmt.Sprintf("the %s allows at most %s of memory", who, maxQ.String())))
	}
	if stepQ != nil && len(errs) == 0 {
		var base int64
		if minQ != nil {
			base = minQ.Value()
		}
		step := stepQ.Value()
		if off := size.Value() - base; step > 0 && off%step != 0 {
			lower := resource.NewQuantity(size.Value()-off%step, resource.BinarySI)
			hint := lower.String()
			if upper := resource.NewQuantity(lower.Value()+step, resource.BinarySI); maxQ == nil || upper.Cmp(*maxQ) <= 0 {
				hint += " or " + upper.String()
			}
			errs = append(errs, field.Invalid(sizePath, spec.Memory.Size,
				fmt.Sprintf("the %s allows memory sizes from %s in steps of %s; nearest allowed: %s",
					who, vmQuantityText(minQ), stepQ.String(), hint)))
		}
	}
	if pc := policy.Memory.PerCore; pc != nil && spec.CPU.Cores > 0 {
		cores := int64(spec.CPU.Cores)
		if pmin := vmPolicyQuantity(pc.Min); pmin != nil && size.Value() < pmin.Value()*cores {
			errs = append(errs, field.Invalid(sizePath, spec.Memory.Size,
				fmt.Sprintf("the %s requires at least %s of memory per core, %s for %d cores",
					who, pmin.String(), resource.NewQuantity(pmin.Value()*cores, resource.BinarySI).String(), cores)))
		}
		if pmax := vmPolicyQuantity(pc.Max); pmax != nil && size.Value() > pmax.Value()*cores {
			errs = append(errs, field.Invalid(sizePath, spec.Memory.Size,
				fmt.Sprintf("the %s allows at most %s of memory per core, %s for %d cores",
					who, pmax.String(), resource.NewQuantity(pmax.Value()*cores, resource.BinarySI).String(), cores)))
		}
	}
	return errs
}

func vmQuantityText(q *resource.Quantity) string {
	if q == nil {
		return "0"
	}
	return q.String()
}

func vmCheckPolicyCoreFraction(spec *virtualization.VirtualMachineSpec, policy *virtualization.SizingPolicy, who string) field.ErrorList {
	if len(policy.CoreFractions) == 0 {
		return nil
	}
	fracPath := specPath.Child("cpu", "coreFraction")
	effective, source := vmFullCoreFraction, "the VM sets no coreFraction, so it gets 100%"
	switch {
	case spec.CPU.CoreFraction == "Auto":
		return nil
	case spec.CPU.CoreFraction != "":
		n, ok := vmParsePercent(spec.CPU.CoreFraction)
		if !ok {
			return nil // the VM's own validation reports the pattern
		}
		effective, source = n, ""
	case policy.DefaultCoreFraction != nil:
		d := policy.DefaultCoreFraction
		if d.Type == intstr.String {
			return nil // Auto (anything else is refused by class validation)
		}
		effective = int(d.IntVal)
		source = fmt.Sprintf("the VM sets no coreFraction, so it gets the policy default %d%%", effective)
	}
	for _, f := range policy.CoreFractions {
		if f == effective {
			return nil
		}
	}
	allowed := make([]string, len(policy.CoreFractions))
	for i, f := range policy.CoreFractions {
		allowed[i] = fmt.Sprintf("%d%%", f)
	}
	msg := fmt.Sprintf("the %s allows core fractions %s", who, strings.Join(allowed, ", "))
	if source != "" {
		msg += "; " + source
	}
	return field.ErrorList{field.Invalid(fracPath, spec.CPU.CoreFraction, msg)}
}

// vmParsePercent parses "N%" with N from 1 to 100.
func vmParsePercent(s string) (int, bool) {
	num, ok := strings.CutSuffix(s, "%")
	if !ok {
		return 0, false
	}
	n, err := strconv.Atoi(num)
	if err != nil || n < 1 || n > 100 {
		return 0, false
	}
	return n, true
}
