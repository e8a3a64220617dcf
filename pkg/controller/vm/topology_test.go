package vm

import "testing"

func TestTopologyFollowsTheGuide(t *testing.T) {
	for _, tc := range []struct{ cores, sockets, per int }{
		{1, 1, 1}, {8, 1, 8}, {16, 1, 16}, {20, 2, 10}, {32, 2, 16}, {40, 4, 10}, {64, 4, 16}, {80, 8, 10}, {248, 8, 31},
	} {
		s, p := Topology(tc.cores)
		if s != tc.sockets || p != tc.per {
			t.Errorf("Topology(%d) = %d×%d, want %d×%d", tc.cores, s, p, tc.sockets, tc.per)
		}
	}
}

func TestCoreFraction(t *testing.T) {
	if n, err := CoreFraction(""); err != nil || n != 100 {
		t.Errorf(`CoreFraction("") = %d, %v; want 100`, n, err)
	}
	if n, err := CoreFraction("10%"); err != nil || n != 10 {
		t.Errorf(`CoreFraction("10%%") = %d, %v`, n, err)
	}
	for _, bad := range []string{"10", "0%", "101%", "x%"} {
		if _, err := CoreFraction(bad); err == nil {
			t.Errorf("CoreFraction(%q) accepted", bad)
		}
	}
	if q := RequestedCPU(2, 10); q.String() != "200m" {
		t.Errorf("RequestedCPU(2, 10%%) = %s, want 200m", q.String())
	}
}
