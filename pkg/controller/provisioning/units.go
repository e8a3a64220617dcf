package provisioning

import (
	"fmt"
	"strconv"
	"strings"
)

const mib = 1 << 20

var binaryUnits = []string{"B", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei"}

// HumanBytes renders a size in binary units with one decimal, as the columns of
// `kubectl get vi -o wide` show it: "285.9Mi", "2.5Gi"; a whole number drops the decimal
// ("32Mi"), as a Kubernetes quantity would. Sizes under 1Ki are plain bytes.
func HumanBytes(n int64) string {
	if n < 1024 {
		return strconv.FormatInt(n, 10) + "B"
	}
	v := float64(n)
	i := 0
	for v >= 1024 && i < len(binaryUnits)-1 {
		v /= 1024
		i++
	}
	out := strconv.FormatFloat(v, 'f', 1, 64)
	return strings.TrimSuffix(out, ".0") + binaryUnits[i]
}

// HumanSpeed renders bytes per second: "12.3Mi/s".
func HumanSpeed(bytesPerSecond int64) string {
	return HumanBytes(bytesPerSecond) + "/s"
}

// Percent renders a progress value with one decimal: "28.2%".
func Percent(p float64) string {
	if p < 0 {
		p = 0
	}
	if p > 100 {
		p = 100
	}
	return fmt.Sprintf("%.1f%%", p)
}

// ScalePercent maps a step's own 0-100 onto the [from, to] band of the whole provisioning,
// so a two-step job (import then fill) moves monotonically from 0 to 100.
func ScalePercent(p, from, to float64) float64 {
	if p < 0 {
		p = 0
	}
	if p > 100 {
		p = 100
	}
	return from + (to-from)*p/100
}

// RoundUpMiB rounds a byte count up to a whole MiB, the granularity of the PVCs we request.
func RoundUpMiB(n int64) int64 {
	if n <= 0 {
		return 0
	}
	return (n + mib - 1) / mib * mib
}
