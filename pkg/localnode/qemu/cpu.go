package qemu

import (
	"fmt"
	"strings"
)

// featureEnabled maps a KubeVirt feature policy to qemu's +flag (true) or -flag (false).
// qemu has no per-flag "fail unless supported": require and force both ask for the flag.
func featureEnabled(policy string) (bool, error) {
	switch policy {
	case "", "require", "force", "optional":
		return true, nil
	case "disable", "forbid":
		return false, nil
	}
	return false, fmt.Errorf("policy %q is none of require, force, optional, disable, forbid", policy)
}

// cpuModel is the -cpu model for the accelerator; "" leaves qemu's default.
func cpuModel(model, accel string) string {
	switch model {
	case "host-model", "host-passthrough":
		// Both describe the host's processor, which only KVM can hand to a guest: there
		// "host" passes it through (qemu alone cannot compute libvirt's host-model). TCG
		// emulates; "max" enables every feature it can, the nearest to "the host's".
		if accel == "kvm" {
			return "host"
		}
		return "max"
	}
	return model
}

// cpuArgs is -smp and -cpu.
func cpuArgs(c CPU, accel string) []string {
	smp := fmt.Sprintf("cpus=%d,sockets=%d,cores=%d,threads=%d",
		c.vCPUs(), max(c.Sockets, 1), max(c.Cores, 1), max(c.Threads, 1))
	args := []string{"-smp", smp}
	model := cpuModel(c.Model, accel)
	if model == "" && len(c.Features) == 0 {
		return args
	}
	if model == "" {
		// Flags need a model to modify: qemu64 is qemu's default for x86-64 under both
		// accelerators.
		model = "qemu64"
	}
	parts := []string{model}
	for _, f := range c.Features {
		on, _ := featureEnabled(f.Policy) // validated
		sign := "-"
		if on {
			sign = "+"
		}
		parts = append(parts, sign+f.Name)
	}
	return append(args, "-cpu", strings.Join(parts, ","))
}
