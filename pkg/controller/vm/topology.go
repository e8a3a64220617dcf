package vm

import (
	"fmt"
	"strconv"
	"strings"

	"k8s.io/apimachinery/pkg/api/resource"
)

// Topology spreads cores over sockets as the user guide documents: one socket up to 16
// cores, then 2, 4 and 8 sockets with the cores split evenly.
func Topology(cores int) (sockets, coresPerSocket int) {
	switch {
	case cores <= 16:
		sockets = 1
	case cores <= 32:
		sockets = 2
	case cores <= 64:
		sockets = 4
	default:
		sockets = 8
	}
	if cores < 1 {
		return 1, 1
	}
	return sockets, cores / sockets
}

// DefaultCoreFraction is the share of each core a VM gets when its spec names none.
const DefaultCoreFraction = "100%"

// CoreFraction parses "10%" into 10; an empty value is the default.
func CoreFraction(s string) (int, error) {
	if s == "" {
		s = DefaultCoreFraction
	}
	n, err := strconv.Atoi(strings.TrimSuffix(s, "%"))
	if err != nil || !strings.HasSuffix(s, "%") || n < 1 || n > 100 {
		return 0, fmt.Errorf("coreFraction %q: want a percentage from 1%% to 100%%", s)
	}
	return n, nil
}

// RequestedCPU is the CPU the VM's Pod requests: cores × fraction, in millicores.
func RequestedCPU(cores, fraction int) resource.Quantity {
	return *resource.NewMilliQuantity(int64(cores)*int64(fraction)*10, resource.DecimalSI)
}
