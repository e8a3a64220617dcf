package localnode

import (
	"fmt"
	"net/netip"
	"sync"
)

// ipAllocator hands out Pod addresses 127.(10+index).x.y. Addresses are not persisted: Pods
// of a previous run are not adopted, so their processes are gone. It cycles forward through
// the range so a released address is not handed out again soon.
type ipAllocator struct {
	mu     sync.Mutex
	prefix [2]byte
	byUID  map[string]netip.Addr
	used   map[uint16]bool
	next   uint16
}

// maxNodeIndex keeps 10+index within a byte.
const maxNodeIndex = 245

func newIPAllocator(nodeIndex int) (*ipAllocator, error) {
	if nodeIndex < 0 || nodeIndex > maxNodeIndex {
		return nil, fmt.Errorf("pod address index %d out of range 0..%d", nodeIndex, maxNodeIndex)
	}
	// .0.0 and .0.1 stay unused: they read like network and gateway addresses.
	return &ipAllocator{prefix: [2]byte{127, byte(10 + nodeIndex)}, byUID: map[string]netip.Addr{},
		used: map[uint16]bool{}, next: 2}, nil
}

// Allocate returns the Pod's address, the same one for the same UID.
func (a *ipAllocator) Allocate(uid string) (netip.Addr, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.byUID[uid]; ok {
		return ip, nil
	}
	for range 1 << 16 {
		n := a.next
		a.next++
		if n < 2 || n == 0xffff || a.used[n] {
			continue
		}
		a.used[n] = true
		ip := netip.AddrFrom4([4]byte{a.prefix[0], a.prefix[1], byte(n >> 8), byte(n)})
		a.byUID[uid] = ip
		return ip, nil
	}
	return netip.Addr{}, fmt.Errorf("no free pod address in 127.%d.0.0/16", a.prefix[1])
}

// Release frees the Pod's address.
func (a *ipAllocator) Release(uid string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if ip, ok := a.byUID[uid]; ok {
		b := ip.As4()
		delete(a.used, uint16(b[2])<<8|uint16(b[3]))
		delete(a.byUID, uid)
	}
}
