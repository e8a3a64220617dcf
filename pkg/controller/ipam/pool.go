package ipam

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"sort"
	"strings"
)

// ParseCIDRs parses the platform's virtualMachineCIDRs. Each entry must be an IPv4 network
// address with its prefix length ("10.66.10.0/24", not "10.66.10.5/24"), and no two may
// overlap: an address in two subnets would have two meanings of "network address".
func ParseCIDRs(cidrs []string) ([]netip.Prefix, error) {
	out := make([]netip.Prefix, 0, len(cidrs))
	for _, s := range cidrs {
		p, err := netip.ParsePrefix(strings.TrimSpace(s))
		switch {
		case err != nil:
			return nil, fmt.Errorf("virtualMachineCIDRs: %q is not a CIDR such as 10.66.10.0/24", s)
		case !p.Addr().Is4():
			return nil, fmt.Errorf("virtualMachineCIDRs: %q is not IPv4; only IPv4 subnets are supported", s)
		case p.Masked() != p:
			return nil, fmt.Errorf("virtualMachineCIDRs: %q has host bits set; did you mean %s?", s, p.Masked())
		}
		for _, q := range out {
			if q.Overlaps(p) {
				return nil, fmt.Errorf("virtualMachineCIDRs: %s overlaps %s", p, q)
			}
		}
		out = append(out, p)
	}
	return out, nil
}

// span is an inclusive range of usable addresses, as numbers.
type span struct{ first, last uint32 }

// Pool is the set of addresses VMs may get: every address of the subnets except each one's
// network and broadcast address. A /31 or /32 has neither (RFC 3021): all its addresses are
// usable.
type Pool struct {
	spans []span
	size  uint64
}

// NewPool builds the pool of non-overlapping prefixes (as ParseCIDRs returns them).
func NewPool(prefixes []netip.Prefix) *Pool {
	p := &Pool{}
	for _, pr := range prefixes {
		if !pr.Addr().Is4() {
			continue
		}
		pr = pr.Masked()
		first := toNum(pr.Addr())
		last := first | (1<<(32-pr.Bits()) - 1)
		if pr.Bits() < 31 {
			first++
			last--
		}
		p.spans = append(p.spans, span{first, last})
	}
	sort.Slice(p.spans, func(i, j int) bool { return p.spans[i].first < p.spans[j].first })
	for _, s := range p.spans {
		p.size += uint64(s.last-s.first) + 1
	}
	return p
}

// Size is the number of usable addresses.
func (p *Pool) Size() uint64 { return p.size }

// Contains reports whether a is a usable address of the pool.
func (p *Pool) Contains(a netip.Addr) bool {
	if !a.Is4() {
		return false
	}
	n := toNum(a)
	for _, s := range p.spans {
		if n >= s.first && n <= s.last {
			return true
		}
	}
	return false
}

// At is the i-th usable address in ascending order; i must be below Size.
func (p *Pool) At(i uint64) netip.Addr {
	for _, s := range p.spans {
		n := uint64(s.last-s.first) + 1
		if i < n {
			return fromNum(s.first + uint32(i))
		}
		i -= n
	}
	panic(fmt.Sprintf("ipam: address %d of a pool of %d", i, p.size))
}

// String lists the subnets' usable ranges, for messages.
func (p *Pool) String() string {
	if len(p.spans) == 0 {
		return "none configured"
	}
	parts := make([]string, 0, len(p.spans))
	for _, s := range p.spans {
		parts = append(parts, fromNum(s.first).String()+"-"+fromNum(s.last).String())
	}
	return strings.Join(parts, ", ")
}

func toNum(a netip.Addr) uint32 {
	b := a.As4()
	return binary.BigEndian.Uint32(b[:])
}

func fromNum(n uint32) netip.Addr {
	var b [4]byte
	binary.BigEndian.PutUint32(b[:], n)
	return netip.AddrFrom4(b)
}
