package validation

import (
	"fmt"
	"strconv"
	"strings"
)

// MaxVMCores is the largest core count a virtual machine can have.
const MaxVMCores = 248

// vmSocketBand describes one band of core counts that share a socket count.
type vmSocketBand struct {
	from, to int // inclusive range of total cores covered by the band
	sockets  int
	minPer   int // smallest cores per socket allowed in the band
}

// The documented bands: one socket up to 16 cores, then 2, 4 and 8 sockets with at least
// 9 cores in each socket, so the total must be a multiple of the socket count.
var vmSocketBands = []vmSocketBand{
	{from: 1, to: 16, sockets: 1, minPer: 1},
	{from: 17, to: 32, sockets: 2, minPer: 9},
	{from: 33, to: 64, sockets: 4, minPer: 9},
	{from: 65, to: MaxVMCores, sockets: 8, minPer: 9},
}

// CPUTopology returns the sockets and cores per socket for a valid core count, ok=false otherwise.
func CPUTopology(cores int) (sockets, coresPerSocket int, ok bool) {
	for _, b := range vmSocketBands {
		if cores < b.from || cores > b.to {
			continue
		}
		if cores%b.sockets != 0 || cores/b.sockets < b.minPer {
			return 0, 0, false
		}
		return b.sockets, cores / b.sockets, true
	}
	return 0, 0, false
}

// vmNearestCoreCounts returns the closest valid core counts below and above cores;
// 0 means there is none on that side.
func vmNearestCoreCounts(cores int) (below, above int) {
	start := cores - 1
	if start > MaxVMCores {
		start = MaxVMCores
	}
	for c := start; c >= 1; c-- {
		if _, _, ok := CPUTopology(c); ok {
			below = c
			break
		}
	}
	for c := max(cores+1, 1); c <= MaxVMCores; c++ {
		if _, _, ok := CPUTopology(c); ok {
			above = c
			break
		}
	}
	return below, above
}

// vmCoreCountProblem explains why a core count has no topology; "" when it has one.
func vmCoreCountProblem(cores int) string {
	if _, _, ok := CPUTopology(cores); ok {
		return ""
	}
	var reason string
	switch {
	case cores < 1:
		return "a virtual machine needs at least 1 core"
	case cores > MaxVMCores:
		reason = fmt.Sprintf("no more than %d cores are supported", MaxVMCores)
	default:
		for _, b := range vmSocketBands {
			if cores >= b.from && cores <= b.to {
				reason = fmt.Sprintf("counts from %d to %d are spread over %d sockets of %d or more cores each, so they must be a multiple of %d and at least %d",
					b.from, b.to, b.sockets, b.minPer, b.sockets, b.sockets*b.minPer)
			}
		}
	}
	below, above := vmNearestCoreCounts(cores)
	var near []string
	for _, n := range []int{below, above} {
		if n > 0 {
			near = append(near, strconv.Itoa(n))
		}
	}
	return fmt.Sprintf("%s; nearest valid core counts: %s", reason, strings.Join(near, " or "))
}
