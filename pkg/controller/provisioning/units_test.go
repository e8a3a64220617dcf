package provisioning

import "testing"

func TestHumanBytes(t *testing.T) {
	for n, want := range map[int64]string{
		512:                     "512B",
		32 << 20:                "32Mi",
		299800000:               "285.9Mi",
		2684354560:              "2.5Gi",
		64<<20 + 1:              "64Mi",
		(64 << 20) + (52 << 10): "64.1Mi",
	} {
		if got := HumanBytes(n); got != want {
			t.Errorf("HumanBytes(%d) = %q, want %q", n, got, want)
		}
	}
}
