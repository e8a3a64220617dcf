package qemu

import (
	"crypto/sha256"
	"fmt"
	"net"
	"net/netip"
	"strings"
)

// slirpAddrs picks qemu's host (the guest's gateway) and DNS addresses: the highest addresses
// of the prefix below broadcast that are not the guest's. IPAMs allocate from the bottom, and
// qemu's defaults (.2 host, .3 DNS) are ordinary guest addresses here.
func slirpAddrs(n *Network) (host, dns netip.Addr) {
	var picked []netip.Addr
	for a := lastAddr(n.Prefix).Prev(); len(picked) < 2 && n.Prefix.Contains(a); a = a.Prev() {
		if a != n.Address {
			picked = append(picked, a)
		}
	}
	return picked[0], picked[1]
}

// lastAddr is the prefix's broadcast address.
func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Masked().Addr().As4()
	hostBits := 32 - p.Bits()
	for i := 3; i >= 0 && hostBits > 0; i-- {
		n := min(hostBits, 8)
		b[i] |= byte(1<<n - 1)
		hostBits -= n
	}
	return netip.AddrFrom4(b)
}

// StableMAC is the MAC a machine gets when Network.MAC is empty: qemu's locally administered
// prefix 52:54:00 and three bytes of a hash of the name, so a VM keeps its MAC across restarts
// and nodes.
func StableMAC(name string) string {
	sum := sha256.Sum256([]byte(name))
	return fmt.Sprintf("52:54:00:%02x:%02x:%02x", sum[0], sum[1], sum[2])
}

// networkArgs is the user-mode netdev and its virtio-net NIC.
func networkArgs(cfg *Config) []string {
	n := cfg.Network
	host, dns := slirpAddrs(n)
	netdev := []string{"user", "id=net0",
		"net=" + n.Prefix.Masked().String(),
		"host=" + host.String(),
		"dns=" + dns.String(),
		"dhcpstart=" + n.Address.String(),
		// The platform's addresses are IPv4; slirp's fec0::/64 would only confuse reports.
		"ipv6=off",
	}
	if cfg.Hostname != "" {
		netdev = append(netdev, "hostname="+optValue(cfg.Hostname))
	}
	for _, f := range n.HostForwards {
		netdev = append(netdev, fmt.Sprintf("hostfwd=tcp:127.0.0.1:%d-%s:%d", f.HostPort, n.Address, f.GuestPort))
	}
	mac := StableMAC(cfg.Name)
	if hw, err := net.ParseMAC(n.MAC); err == nil {
		mac = hw.String()
	}
	// romfile= drops iPXE's option ROM: nothing boots from the network here, and SeaBIOS
	// initialising it costs boot time under TCG.
	nic := "virtio-net-pci,netdev=net0,id=net0,mac=" + strings.ToLower(mac) + ",romfile="
	return []string{"-netdev", strings.Join(netdev, ","), "-device", nic}
}
