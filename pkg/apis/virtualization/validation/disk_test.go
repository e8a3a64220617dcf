package validation

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

func TestVirtualDiskCorpus(t *testing.T) {
	runCorpus(t, "virtualdisk", validatorsOf(
		ValidateVirtualDisk, ValidateVirtualDiskUpdate, ValidateVirtualDiskStatusUpdate))
}

// Size comparisons that a manifest cannot express compactly.
func TestDiskSizeUpdate(t *testing.T) {
	p := field.NewPath("size")
	s := func(v string) *resource.Quantity { x := resource.MustParse(v); return &x }
	i := func(v int64) *resource.Quantity { return resource.NewQuantity(v, resource.BinarySI) }
	for _, tc := range []struct {
		name     string
		new, old *resource.Quantity
		ok       bool
	}{
		{"grow", s("11Gi"), s("10Gi"), true},
		{"same in other unit", s("10240Mi"), s("10Gi"), true},
		{"decimal grows", s("11G"), s("10Gi"), true},
		{"decimal shrinks", s("10G"), s("10Gi"), false},
		{"int grows", i(2048), s("1Ki"), true},
		{"int shrinks", i(1000), s("1Ki"), false},
		{"first size", s("1Gi"), nil, true},
		{"removed", nil, s("1Gi"), false},
	} {
		errs := validateDiskSizeUpdate(tc.new, tc.old, p)
		if (len(errs) == 0) != tc.ok {
			t.Errorf("%s: ok=%v, got %v", tc.name, tc.ok, errs)
		}
	}
}
