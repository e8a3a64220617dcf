package ipam

import (
	"net/netip"
	"strings"
	"testing"
)

func TestParseCIDRs(t *testing.T) {
	got, err := ParseCIDRs([]string{"10.66.10.0/24", " 10.66.20.0/24"})
	if err != nil || len(got) != 2 || got[1] != netip.MustParsePrefix("10.66.20.0/24") {
		t.Fatalf("ParseCIDRs = %v, %v", got, err)
	}
	for in, want := range map[string]string{
		"10.66.10.0":    "not a CIDR",
		"banana/24":     "not a CIDR",
		"fd00::/64":     "not IPv4",
		"10.66.10.5/24": "did you mean 10.66.10.0/24",
	} {
		if _, err := ParseCIDRs([]string{in}); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("ParseCIDRs(%q) error = %v, want one saying %q", in, err, want)
		}
	}
	if _, err := ParseCIDRs([]string{"10.66.0.0/16", "10.66.10.0/24"}); err == nil || !strings.Contains(err.Error(), "overlaps") {
		t.Errorf("overlapping subnets: error = %v", err)
	}
}

func TestPoolSkipsNetworkAndBroadcast(t *testing.T) {
	p := NewPool([]netip.Prefix{netip.MustParsePrefix("10.66.10.0/24")})
	if p.Size() != 254 {
		t.Fatalf("a /24 has %d usable addresses, want 254", p.Size())
	}
	for _, s := range []string{"10.66.10.0", "10.66.10.255", "10.66.11.1", "10.66.9.255"} {
		if p.Contains(netip.MustParseAddr(s)) {
			t.Errorf("the pool of 10.66.10.0/24 contains %s", s)
		}
	}
	if first, last := p.At(0), p.At(p.Size()-1); first.String() != "10.66.10.1" || last.String() != "10.66.10.254" {
		t.Fatalf("usable range %s-%s, want 10.66.10.1-10.66.10.254", first, last)
	}
}

func TestPoolSmallSubnetsAreUsedWhole(t *testing.T) {
	p := NewPool([]netip.Prefix{
		netip.MustParsePrefix("192.168.0.10/31"),
		netip.MustParsePrefix("10.0.0.7/32"),
		netip.MustParsePrefix("10.0.1.0/30"),
	})
	var got []string
	for i := range p.Size() {
		got = append(got, p.At(i).String())
	}
	want := "10.0.0.7 10.0.1.1 10.0.1.2 192.168.0.10 192.168.0.11"
	if strings.Join(got, " ") != want {
		t.Fatalf("pool addresses %v, want %s", got, want)
	}
	for _, s := range strings.Fields(want) {
		if !p.Contains(netip.MustParseAddr(s)) {
			t.Errorf("pool does not contain %s", s)
		}
	}
}
