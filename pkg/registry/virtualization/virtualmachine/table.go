package virtualmachine

import (
	"strconv"

	"github.com/virtplane/virtplane/pkg/apis/virtualization"
	"github.com/virtplane/virtplane/pkg/registry/resource"
)

// Table prints the columns of the API reference; priority 1 shows only with -o wide.
var Table = resource.NewTable([]resource.Column[*virtualization.VirtualMachine]{
	{Name: "Phase", Type: "string", Value: func(o *virtualization.VirtualMachine) interface{} { return resource.String(o.Status.Phase) }},
	{Name: "Uptime", Type: "date", Value: func(o *virtualization.VirtualMachine) interface{} { return lastStart(o) }},
	{Name: "Cores", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachine) interface{} { return cores(o) }},
	{Name: "CoreFraction", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachine) interface{} {
		return coreFraction(o)
	}},
	{Name: "Memory", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachine) interface{} { return memory(o) }},
	{Name: "Need restart", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachine) interface{} {
		return resource.ConditionStatus(o.Status.Conditions, "AwaitingRestartToApplyConfiguration")
	}},
	{Name: "Agent", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachine) interface{} {
		return resource.ConditionStatus(o.Status.Conditions, "AgentReady")
	}},
	{Name: "Migratable", Type: "string", Priority: 1, Value: func(o *virtualization.VirtualMachine) interface{} {
		return resource.ConditionStatus(o.Status.Conditions, "Migratable")
	}},
	{Name: "Node", Type: "string", Value: func(o *virtualization.VirtualMachine) interface{} { return resource.String(o.Status.Node) }},
	{Name: "IPAddress", Type: "string", Value: func(o *virtualization.VirtualMachine) interface{} { return resource.String(o.Status.IPAddress) }},
	resource.CreatedAge[*virtualization.VirtualMachine]("Age"),
})

func lastStart(o *virtualization.VirtualMachine) interface{} {
	if o.Status.Stats == nil {
		return nil
	}
	return resource.Age(o.Status.Stats.LastStartTime)
}

func coreFraction(o *virtualization.VirtualMachine) interface{} {
	if o.Status.Resources == nil {
		return nil
	}
	return resource.String(o.Status.Resources.CPU.CoreFraction)
}

func cores(o *virtualization.VirtualMachine) interface{} {
	if o.Status.Resources == nil || o.Status.Resources.CPU.Cores == 0 {
		return nil
	}
	// A string column, as the reference's JSONPath column prints it.
	return strconv.Itoa(o.Status.Resources.CPU.Cores)
}

func memory(o *virtualization.VirtualMachine) interface{} {
	if o.Status.Resources == nil || o.Status.Resources.Memory.Size.IsZero() {
		return nil
	}
	return o.Status.Resources.Memory.Size.String()
}
